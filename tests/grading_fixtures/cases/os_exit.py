"""``os._exit`` kills the kernel: the checks before it count, the stop is reported."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% replace squares-code
squares = np.arange(5) ** 2

# %% replace normalise-code
import os

os._exit(0)
