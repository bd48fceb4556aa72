"""Escape the watchdog: a double fork + ``setsid`` child that outlives the kernel, and ``/dev/shm``
filled. The PID namespace kills the child with the sandbox; ``/dev/shm`` is 64 MB. Its work: 1/6."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% replace squares-code
squares = np.arange(5) ** 2

# %% after setup as escape
import os
import sys

pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        code = 'import time\n# course-hostile-escape\nwhile True: time.sleep(0.5)'
        os.execv(sys.executable, [sys.executable, '-c', code])
    os._exit(0)
os.waitpid(pid, 0)
try:
    with open('/dev/shm/' + 'hog', 'wb') as shm:
        for _ in range(100):
            shm.write(b'x' * 10_000_000)
except OSError as error:
    print('/dev/shm:', error)
