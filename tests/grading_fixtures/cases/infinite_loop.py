"""An endless loop: the cell times out, the checks before it count."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% replace squares-code
squares = np.arange(5) ** 2

# %% replace normalise-code
while True:
    pass
