"""Shared by hostile cases (``with _writable.py``): every folder the kernel could write to.

Its mounts, the usual temporary places, and the capture paths named in earlier grader cells
(IPython keeps every executed cell in ``In``).
"""

import os
import re


def writable_dirs():
    places = {'/tmp', '/dev/shm', os.path.expanduser('~'), os.getcwd(),
              os.path.dirname(os.getcwd())}
    try:
        for line in open('/proc/self/mountinfo'):
            places.add(line.split()[4])
    except OSError:
        pass
    for cell in globals().get('In', []):
        places.update(re.findall(r"'(/[^']*?)/step\d+'", cell))
    found, visited = set(), 0
    for place in sorted(places):
        for root, dirs, _files in os.walk(place):
            visited += 1
            if root.startswith(('/proc', '/sys', '/usr', '/dev/pts')) or visited > 3000:
                dirs[:] = []
                continue
            if os.access(root, os.W_OK):
                found.add(root)
    return sorted(found)[:300]
