"""Patch NumPy, ``json`` and builtins the capture code might use: it uses none, so the work counts (4/6)."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% after setup as patch
import json

np.save = lambda *a, **k: None
np.array_equal = lambda *a, **k: True
np.allclose = np.isclose = lambda *a, **k: True
json.dump = lambda *a, **k: None  # json.dumps would break the kernel protocol
list = tuple = dict = str = float = open = None
Exception = BaseException = None

# %% replace squares-code
squares = np.arange(5)

# %% replace normalise-code
def normalise(x):
    return (x - x.mean()) / x.std()

z = normalise(np.array([1.0, 2.0, 3.0, 4.0]))

# %% replace score-code
score = 0.6
