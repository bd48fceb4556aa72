"""Write where the grader's user can: a ``.pth`` in site-packages, the kernelspec, the mirror's photos
and caches, ``/tmp``. Everything is read-only (or private): its work counts (1/6), nothing changes.

It only ever overwrites asset files under a folder named ``course-test-mirror`` (the test's own copy)
and leaves marker files named ``course-hostile*`` should the sandbox ever fail.
"""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% replace squares-code
squares = np.arange(5) ** 2

# %% after setup as environment
import glob
import os
import site
import sys

MARK = 'course-hostile'
wrote = []
def attempt(path, mode='w', data=''):
    try:
        with open(path, mode) as handle:
            handle.write(data)
        wrote.append(path)
    except OSError:
        pass
for folder in set(sys.path + site.getsitepackages()):
    if folder and os.path.isdir(folder):
        pth = os.path.join(folder, 'zz_' + MARK.replace('-', '_') + '.pth')
        attempt(pth, data='# ' + MARK + '\n')
for spec in glob.glob(sys.prefix + '/share/jupyter/kernels/*/kernel.json'):
    attempt(spec, 'a')  # opening for writing is enough to show it can be changed
    attempt(os.path.join(os.path.dirname(spec), MARK + '.txt'))
for key in ('COURSE_MIRROR', 'KERAS_HOME', 'COURSE_CACHE_READONLY'):
    top = os.environ.get(key)
    if not top:
        continue
    for root, _dirs, files in os.walk(top):
        attempt(os.path.join(root, MARK + '.txt'))
        for name in files:
            if 'course-test-mirror' in root:  # only ever the test's own copy
                attempt(os.path.join(root, name), 'r+')
                attempt(os.path.join(root, name), 'w', 'black and white')
import course_utils

attempt(course_utils.__file__, 'a')
attempt('/tmp/' + MARK + '-marker')
print(len(wrote), 'writes got through:', wrote[:5])
