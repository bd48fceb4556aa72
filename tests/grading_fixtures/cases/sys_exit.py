"""``sys.exit`` in a cell: the checks before it count, the stop is reported."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% replace squares-code
squares = np.arange(5) ** 2
import sys

sys.exit(0)

# %% replace normalise-code
def normalise(x):
    return (x - x.mean()) / x.std()

z = normalise(np.array([1.0, 2.0, 3.0, 4.0]))
