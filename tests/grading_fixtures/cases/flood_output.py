"""Unbounded output (200 MB in small writes and one 40 MB write), then real work: outputs and messages
are capped and the grader's memory stays bounded; its work counts."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% replace squares-code
import sys

line = 'x' * 1_000_000
for _ in range(200):
    print(line)
sys.stdout.write('y' * 40_000_000)
squares = np.arange(5) ** 2
