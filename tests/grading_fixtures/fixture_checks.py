"""Checks for the NumPy-only fixture lesson 99 used by the grader tests."""

from __future__ import annotations

import numpy as np

from course_utils.grading.registry import CheckFailed, CheckResult, register_check


@register_check("99.squares", points=1)
def squares_check(squares: object) -> None:
    """``squares`` holds the squares of 0..4."""
    array = np.asarray(squares)
    if array.shape != (5,):
        raise CheckFailed(f"squares should have shape (5,), got {array.shape}")
    if not np.array_equal(array, np.arange(5) ** 2):
        raise CheckFailed(f"squares should be [0, 1, 4, 9, 16], got {array.tolist()}")


def _check_standardised(z: object) -> None:
    """Raise unless ``z`` has mean 0 and standard deviation 1."""
    array = np.asarray(z, dtype=float)
    if not np.isclose(array.mean(), 0.0):
        raise CheckFailed(f"the result should have mean 0, got {array.mean():.3f}")
    if not np.isclose(array.std(), 1.0):
        raise CheckFailed(f"the result should have standard deviation 1, got {array.std():.3f}")


@register_check("99.normalise", points=2)
def normalise_check(z: object) -> None:
    """``z = normalise(data)`` is standardised."""
    _check_standardised(z)


@register_check("99.normalise_hidden", points=1)
def normalise_hidden_check(z: object) -> None:
    """``normalise`` also works on data the student never saw."""
    _check_standardised(z)


@register_check("99.accuracy", points=2)
def accuracy_check(score: object) -> CheckResult | None:
    """Full points for ``score >= 0.8``, one point for ``score >= 0.5``."""
    value = float(np.asarray(score))
    if value >= 0.8:
        return None
    if value >= 0.5:
        return CheckResult(1, f"accuracy {value:.2f} is above 0.5 but below 0.8")
    raise CheckFailed(f"accuracy {value:.2f} is below 0.5")
