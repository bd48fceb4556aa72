"""Checks for the NumPy-only fixture lesson 99 used by the grader tests."""

from __future__ import annotations

import numpy as np

from course_utils.checks.registry import CheckFailed, CheckResult, register_check


@register_check("99.squares", points=1)
def squares_check(squares: object) -> None:
    """``squares`` holds the squares of 0..4."""
    array = np.asarray(squares)
    if array.shape != (5,):
        raise CheckFailed(f"squares should have shape (5,), got {array.shape}")
    if not np.array_equal(array, np.arange(5) ** 2):
        raise CheckFailed(f"squares should be [0, 1, 4, 9, 16], got {array.tolist()}")


def _check_standardised(z: object, data: list[float]) -> None:
    """Raise unless ``z`` is ``data`` standardised, recomputed here (a mean-0 std-1 fake fails)."""
    array = np.asarray(z, dtype=float)
    expected = (np.asarray(data) - np.mean(data)) / np.std(data)
    if array.shape != expected.shape:
        raise CheckFailed(f"the result should have shape {expected.shape}, got {array.shape}")
    if not np.isclose(array.mean(), 0.0):
        raise CheckFailed(f"the result should have mean 0, got {array.mean():.3f}")
    if not np.isclose(array.std(), 1.0):
        raise CheckFailed(f"the result should have standard deviation 1, got {array.std():.3f}")
    if not np.allclose(array, expected):
        raise CheckFailed(f"the result should be {np.round(expected, 3).tolist()}")


@register_check("99.normalise", points=2)
def normalise_check(z: object) -> None:
    """``z = normalise([1, 2, 3, 4])`` is that data standardised."""
    _check_standardised(z, [1.0, 2.0, 3.0, 4.0])


@register_check("99.normalise_hidden", points=1)
def normalise_hidden_check(z: object) -> None:
    """``normalise`` also works on data the student never saw (the hidden cell's [10, 0, 5])."""
    _check_standardised(z, [10.0, 0.0, 5.0])


@register_check("99.accuracy", points=2)
def accuracy_check(score: object) -> CheckResult | None:
    """Full points for ``score >= 0.8``, one point for ``score >= 0.5``."""
    value = float(np.asarray(score))
    if value >= 0.8:
        return None
    if value >= 0.5:
        return CheckResult(1, f"accuracy {value:.2f} is above 0.5 but below 0.8")
    raise CheckFailed(f"accuracy {value:.2f} is below 0.5")
