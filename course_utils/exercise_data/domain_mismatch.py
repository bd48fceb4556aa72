"""Exercise data for the lesson ``domain_mismatch``: feature pairs for a CORAL loss, digit sets to compare."""

from __future__ import annotations

import numpy as np


def coral_pairs(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Feature batches to try a CORAL loss on: (same, same), (x, x + shift), and three shifted pairs."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(48, 6)).astype("float32")
    pairs = [(a, a), (a, a + 3.0)]
    for _ in range(3):
        scale = rng.uniform(0.3, 3.0, size=6).astype("float32")
        mix = rng.normal(size=(6, 6)).astype("float32") * 0.3
        pairs.append((a, (rng.normal(size=(40, 6)).astype("float32") * scale) @ (np.eye(6) + mix)))
    return pairs


def mnist_test_rgb32(start: int, stop: int | None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST test digits ``start:stop`` as 32x32x3 float (0-255), padded like MNIST-M, and labels."""
    from course_utils import datasets

    d = datasets.load_arrays("mnist")
    x = np.pad(d["x_test"][start:stop], ((0, 0), (2, 2), (2, 2)))
    return np.repeat(x[..., None], 3, axis=-1).astype("float32"), d["y_test"][start:stop]


def sorted_pair() -> tuple[np.ndarray, np.ndarray]:
    """Two sets of held-out MNIST digits, the first sorted by class: one domain, no shift.

    Its first 500 rows hold only the lowest classes, so comparing first rows finds a "shift";
    comparing random rows does not.
    """
    a, labels = mnist_test_rgb32(4000, 6000)
    b, _ = mnist_test_rgb32(6000, 8000)
    return a[np.argsort(labels, kind="stable")], b


def shifted_pair() -> tuple[np.ndarray, np.ndarray]:
    """Held-out MNIST and MNIST-M test digits, 600 each, that the exercise never shows: a large shift.

    (The exercise shows MNIST-M test digits ``[:600]``; the AdaBN check scores on ``[-600:]``.)
    """
    from course_utils import datasets

    a, _ = mnist_test_rgb32(8000, 8600)
    return a, datasets.load_arrays("mnist_m")["x_test"][600:1200].astype("float32")
