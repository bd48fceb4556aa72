"""Folders nested 60 deep with 200-character names in the exchange (12,000 characters: past PATH_MAX,
where path-based walks skip or crash), 20 files at each level, the last one made unreadable. The
grader counts by descriptor: a tree too deep (or unreadable) is a limit breach, the sandbox stops,
the box is still removed. Its work before counts (1/6)."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np
from _box import box_root

# isort: split

# %% replace squares-code
squares = np.arange(5) ** 2

# %% after squares-check as deep, with _box.py
import os

fd = os.open(box_root() + '/exchange', os.O_RDONLY)
for _level in range(60):
    os.mkdir('d' * 200, dir_fd=fd)
    child = os.open('d' * 200, os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = child
    for number in range(20):
        os.close(os.open(f'f{number}', os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd))
os.chmod(f'/proc/self/fd/{fd}', 0)  # the deepest folder unreadable
os.close(fd)
