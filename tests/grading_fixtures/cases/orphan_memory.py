"""Memory held by a double-forked ``setsid`` grandchild that has left the kernel's process tree (its
parent exited): the watchdog counts every process of the sandbox's PID namespace, the limit fires.
Its work before counts (1/6)."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% replace squares-code
squares = np.arange(5) ** 2

# %% after squares-check as orphan
import os
import sys
import time

pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        code = ('import time\n# course-hostile-orphan\nb = bytearray(450 * 2**20)\n'
                'for i in range(0, len(b), 4096):\n    b[i] = 1\ntime.sleep(600)')
        os.execv(sys.executable, [sys.executable, '-c', code])
    os._exit(0)
os.waitpid(pid, 0)
time.sleep(5)  # the grandchild fills its memory meanwhile
