"""Plant code the check process would run (sitecustomize, a fake worker or package) wherever the kernel
can write: the worker (``python -I``, explicit path, fresh folder, own sandbox) never reads it: 0."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import os

from _writable import writable_dirs

# isort: split

# %% after setup as plant, with _writable.py
payload = ('import course_utils.checks.registry as r\n'
           'r.run_check = lambda name, **k: r.CheckOutcome(name, 99, 99)\n')
for folder in writable_dirs():
    for name in ('sitecustomize.py', 'usercustomize.py', 'course_utils/__init__.py',
                 'course_utils/grading/__init__.py', 'course_utils/grading/worker.py',
                 'course_utils/checks/registry.py'):
        try:
            os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)
            open(os.path.join(folder, name), 'w').write(payload)
        except OSError:
            pass
