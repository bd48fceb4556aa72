"""Memory in a child process: the watchdog counts the whole tree."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% replace squares-code
squares = np.arange(5) ** 2

# %% replace normalise-code
import subprocess
import sys

hog = 'import numpy as np\nhog = []\nwhile True: hog.append(np.ones(10_000_000))'
subprocess.run([sys.executable, '-c', hog])
