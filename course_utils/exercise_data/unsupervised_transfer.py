"""Exercise data for the lesson ``unsupervised_transfer``: a colleague's pretraining runs, the digits."""

from __future__ import annotations

import numpy as np

TEMPERATURES = (0.05, 0.2, 1.0)
"""The candidates of exercise 2."""
RUNS = ("A", "B", "C")
"""The colleague's runs of exercise 1."""
LABELS_PER_CLASS = 10
# Index ranges into MNIST (datasets.load_arrays("mnist"), shuffled with its fixed seed).
LABELLED_FROM = ("x_train", 0, 2000)        # the notebook's labelled draw comes from these
VALIDATION = ("x_test", 5000, 6000)
TEST = ("x_test", 0, 1000)


def colleague_runs() -> dict[str, dict]:
    """The three pretraining recipes of exercise 1, under names that do not give them away."""
    return {"A": {"loss": "positives_only"},
            "B": {"loss": "nt_xent", "lr": 0.0},
            "C": {"loss": "nt_xent", "temperature": 0.2}}


def digits(where: tuple[str, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits ``(split, start, stop)`` in [0, 1] with a channel axis, and their labels."""
    from course_utils import datasets

    split, start, stop = where
    d = datasets.load_arrays("mnist")
    y_split = split.replace("x_", "y_")
    x = (d[split][start:stop].astype("float32") / 255.0)[..., None]
    return x, d[y_split][start:stop].astype("int64")


def labelled(where: tuple[str, int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """:data:`LABELS_PER_CLASS` digits of each class drawn from ``where`` with ``seed``."""
    x, y = digits(where)
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), LABELS_PER_CLASS, replace=False)
                          for c in range(10)])
    return x[idx], y[idx]


def exercise_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's digits in [0, 1]: ``"labelled"`` (10 per class), ``"validation"``, ``"test"``."""
    if split == "labelled":
        return labelled(LABELLED_FROM, seed=0)
    if split == "validation":
        return digits(VALIDATION)
    if split == "test":
        return digits(TEST)
    raise ValueError(f"split must be 'labelled', 'validation' or 'test', not {split!r}")
