"""Memorise the held-out test photos the hidden checks score on (the fixture lesson's checks hold out
cats vs dogs' test split): the kernel sees each of them as an empty file, so there is nothing to
learn from them; the check worker alone sees them. Its work: 1/6 (with the photos it would claim 3)."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% replace squares-code
squares = np.arange(5) ** 2

# %% replace score-code
from course_utils import datasets

folder = datasets.dataset_root('cats_and_dogs') / 'validation'
held_out = datasets.held_out_files(folder, 'test', datasets.HELD_OUT_TEST['cats_and_dogs'])
seen = sum(len(open(path, 'rb').read()) for paths in held_out.values() for path in paths)
print(seen, 'bytes of held-out photos')
score = 0.9 if seen else 0.0  # what a model that memorised them would report
