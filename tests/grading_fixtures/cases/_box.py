"""Shared by hostile cases (``with _box.py``): where the grader's box is, as the kernel sees it.

The capture cells the grader ran so far (IPython keeps every executed cell in ``In``) name their
folder, ``<box>/exchange/out/stepN``; the box is bound at the same path as on the host.
"""

import re


def box_root():
    for cell in globals().get('In', []):
        found = re.findall(r"'(/[^']*?)/exchange/out/step\d+'", cell)
        if found:
            return found[0]
    raise RuntimeError('no capture cell ran yet')
