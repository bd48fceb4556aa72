"""A lesson id that is a path in the notebook's metadata (the notebook as its own "solution"): refused
with the reason (lesson ids are two digits)."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% metadata {"course": {"lesson": "../submissions/99"}}

# %% replace squares-code
squares = np.arange(5) ** 2

# %% replace normalise-code
def normalise(x):
    return (x - x.mean()) / x.std()

z = normalise(np.array([1.0, 2.0, 3.0, 4.0]))

# %% replace score-code
score = 0.9
