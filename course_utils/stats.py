"""Multi-seed claims: per-seed values, paired differences, mean ± spread, and asserts that say what they did.

A result that depends on luck (which photos were drawn, how a head was initialised) is measured on
several seeds. Every lesson states such a result the same way:

- ``paired(a, b, seeds, names)`` lines two methods up seed by seed, and ``show`` prints the table:
  per-seed values, the paired difference, its mean ± standard deviation and a 95% interval;
- ``every_seed(values, at_least=..., claim=...)`` asserts a bound on *every* seed and prints what
  it checked. The bound is a stated margin fixed before the run ("transfer beats scratch by at least
  15 points"), never the worst seed of the run you report: lessons are re-run with seeds the course
  never used, and the claim must hold there too;
- ``on_average(values, at_least=..., claim=...)`` is for a claim that holds for the mean but not on
  every seed: it asserts on the *lower end of the 95% interval* of the mean, so a claim with too
  few seeds or too much spread fails instead of passing by luck.

Kept as our own small module (not scipy's ``ttest_rel`` alone) because a lesson needs the table, the
interval and the assert message together, printed the same way in every lesson.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Values = Mapping[int, float] | Sequence[float] | np.ndarray


def _as_array(values: Values, seeds: Sequence[int] | None) -> tuple[np.ndarray, tuple[int, ...]]:
    """Per-seed values as a float array, with the seeds they belong to."""
    if isinstance(values, Mapping):
        keys = tuple(values) if seeds is None else tuple(seeds)
        missing = [s for s in keys if s not in values]
        if missing:
            raise ValueError(f"no value for seed(s) {missing}; have {sorted(values)}")
        return np.array([float(values[s]) for s in keys]), keys
    arr = np.asarray(values, dtype=float).ravel()
    keys = tuple(range(len(arr))) if seeds is None else tuple(seeds)
    if len(keys) != len(arr):
        raise ValueError(f"{len(arr)} values for {len(keys)} seeds {list(keys)}")
    return arr, keys


def interval(values: Values, confidence: float = 0.95) -> tuple[float, float]:
    """The Student-t interval of the mean of ``values`` (a single value: that value, twice)."""
    arr, _ = _as_array(values, None)
    if len(arr) < 2:
        return float(arr.mean()), float(arr.mean())
    from scipy import stats as _st

    half = _st.t.ppf(0.5 + confidence / 2, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr))
    return float(arr.mean() - half), float(arr.mean() + half)


@dataclass(frozen=True)
class Paired:
    """Two methods measured on the same seeds: ``a`` and ``b`` per seed, and ``a - b``."""

    seeds: tuple[int, ...]
    a: np.ndarray
    b: np.ndarray
    names: tuple[str, str] = ("a", "b")

    @property
    def diffs(self) -> np.ndarray:
        """The paired differences ``a - b``, one per seed."""
        return self.a - self.b

    @property
    def mean(self) -> float:
        """The mean paired difference."""
        return float(self.diffs.mean())

    @property
    def std(self) -> float:
        """The standard deviation of the paired differences over seeds (n - 1)."""
        return float(self.diffs.std(ddof=1)) if len(self.diffs) > 1 else 0.0

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """The t-interval of the mean paired difference."""
        return interval(self.diffs, confidence)

    def table(self, digits: int = 3) -> str:
        """Per-seed values, the differences and their summary, as aligned text."""
        a_name, b_name = self.names
        width = max(len(a_name), len(b_name), 8)
        rows = [f"{'seed':>6s}  {a_name:>{width}s}  {b_name:>{width}s}  {'difference':>10s}"]
        for seed, x, y, d in zip(self.seeds, self.a, self.b, self.diffs, strict=True):
            rows.append(f"{seed:>6}  {x:>{width}.{digits}f}  {y:>{width}.{digits}f}  {d:>+10.{digits}f}")
        lo, hi = self.interval()
        rows.append(f"{'mean':>6s}  {self.a.mean():>{width}.{digits}f}  {self.b.mean():>{width}.{digits}f}  "
                    f"{self.mean:>+10.{digits}f} ± {self.std:.{digits}f} (95% interval {lo:+.{digits}f} to "
                    f"{hi:+.{digits}f}, {len(self.seeds)} seeds)")
        return "\n".join(rows)


def paired(a: Values, b: Values, seeds: Sequence[int] | None = None,
           names: tuple[str, str] = ("a", "b")) -> Paired:
    """Line up two methods' per-seed results (lists in seed order, or ``{seed: value}`` dicts)."""
    a_arr, a_seeds = _as_array(a, seeds)
    b_arr, b_seeds = _as_array(b, seeds if seeds is not None else a_seeds)
    if a_seeds != b_seeds:
        raise ValueError(f"the two methods were run on different seeds: {a_seeds} vs {b_seeds}")
    return Paired(a_seeds, a_arr, b_arr, names)


def show(p: Paired, digits: int = 3) -> Paired:
    """Print ``p``'s table and return it (for a notebook cell: ``gain = stats.show(stats.paired(...))``)."""
    print(p.table(digits))
    return p


def _bounds_text(at_least: float | None, at_most: float | None) -> str:
    parts = []
    if at_least is not None:
        parts.append(f">= {at_least:+.3f}")
    if at_most is not None:
        parts.append(f"<= {at_most:+.3f}")
    return " and ".join(parts)


def every_seed(values: Values | Paired, *, claim: str, at_least: float | None = None,
               at_most: float | None = None, seeds: Sequence[int] | None = None) -> None:
    """Assert ``at_least <= value <= at_most`` on every seed; print what was checked.

    ``values`` may be a ``Paired`` (its differences are checked). The bounds are the claim's
    stated margin, fixed before the run. Raises ``AssertionError`` naming every seed that fails.
    """
    if at_least is None and at_most is None:
        raise ValueError("every_seed needs at_least or at_most: a check that cannot fail is no check")
    if isinstance(values, Paired):
        arr, keys = values.diffs, values.seeds
    else:
        arr, keys = _as_array(values, seeds)
    bad = [(s, v) for s, v in zip(keys, arr, strict=True)
           if (at_least is not None and not v >= at_least) or (at_most is not None and not v <= at_most)]
    shown = ", ".join(f"{s}: {v:+.3f}" for s, v in zip(keys, arr, strict=True))
    bounds = _bounds_text(at_least, at_most)
    if bad:
        raise AssertionError(f"{claim}: not {bounds} on every seed ({shown}); fails on seed(s) "
                             f"{[s for s, _ in bad]}")
    print(f"✓ {claim}: {bounds} on every seed ({shown})")


def on_average(values: Values | Paired, *, claim: str, at_least: float | None = None,
               at_most: float | None = None, confidence: float = 0.95) -> tuple[float, float]:
    """Assert the claim on the mean with its uncertainty: the whole t-interval inside the bounds.

    Returns the interval. With few seeds and much spread the interval is wide and the assert fails:
    that is the point (run more seeds, or claim less).
    """
    if at_least is None and at_most is None:
        raise ValueError("on_average needs at_least or at_most: a check that cannot fail is no check")
    arr = values.diffs if isinstance(values, Paired) else _as_array(values, None)[0]
    if len(arr) < 3:
        raise ValueError(f"a claim on the mean needs at least 3 seeds, got {len(arr)}")
    lo, hi = interval(arr, confidence)
    bounds = _bounds_text(at_least, at_most)
    ok = (at_least is None or lo >= at_least) and (at_most is None or hi <= at_most)
    text = (f"mean {arr.mean():+.3f}, {int(confidence * 100)}% interval {lo:+.3f} to {hi:+.3f} "
            f"over {len(arr)} seeds")
    if not ok:
        raise AssertionError(f"{claim}: the interval of the mean is not {bounds} ({text})")
    print(f"✓ {claim}: {bounds} on average ({text})")
    return lo, hi
