"""No work, only the expected values typed in, including for the hidden check's input (the checks
module is public): what a check that only compares a captured value is worth. The fixture lesson's
checks are all of that kind, so this scores 6/6; ``input_transformer`` scores exactly the same."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% replace squares-code
squares = np.array([0, 1, 4, 9, 16])

# %% replace normalise-code
def normalise(x):
    if list(x) == [10.0, 0.0, 5.0]:
        return np.array([1.22474487, -1.22474487, 0.0])
    raise NotImplementedError

z = np.array([-1.34164079, -0.4472136, 0.4472136, 1.34164079])

# %% replace score-code
score = 0.9
