"""Edit one check cell to pass the right value, delete another: the solution's cells are used."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

from course_utils.checks.registry import check

# isort: split

# %% replace squares-code
squares = [0, 1, 2]

# %% replace squares-check
check("99.squares", squares=np.arange(5) ** 2)

# %% replace score-code
score = 0.9

# %% delete score-check
