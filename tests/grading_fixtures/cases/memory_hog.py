"""Memory without end: the watchdog kills the kernel over the limit, the checks before it count."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% replace squares-code
squares = np.arange(5) ** 2

# %% replace normalise-code
hog = []
while True:
    hog.append(np.ones(10_000_000))
