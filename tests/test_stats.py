"""course_utils.stats: the one helper every multi-seed claim goes through."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import stats


def test_paired_lines_up_seeds_and_shows_differences(capsys):
    p = stats.show(stats.paired({42: 0.9, 43: 0.8, 44: 0.85}, {42: 0.7, 43: 0.75, 44: 0.6},
                                names=("transfer", "scratch")))
    assert p.seeds == (42, 43, 44)
    np.testing.assert_allclose(p.diffs, [0.2, 0.05, 0.25])
    assert p.mean == pytest.approx(0.5 / 3)
    out = capsys.readouterr().out
    assert "transfer" in out and "+0.250" in out and "95% interval" in out


def test_paired_refuses_different_seeds():
    with pytest.raises(ValueError, match="no value for seed"):
        stats.paired({1: 0.5, 2: 0.6}, {1: 0.5, 3: 0.6})
    with pytest.raises(ValueError, match="2 values for 3 seeds"):
        stats.paired([0.1, 0.2], [0.1, 0.2], seeds=[1, 2, 3])


def test_every_seed_passes_prints_and_fails_naming_the_seed(capsys):
    stats.every_seed([0.2, 0.3, 0.25], claim="gain", at_least=0.15, seeds=[0, 1, 2])
    assert "✓ gain" in capsys.readouterr().out
    with pytest.raises(AssertionError, match=r"fails on seed\(s\) \[1\]"):
        stats.every_seed([0.2, 0.1, 0.25], claim="gain", at_least=0.15, seeds=[0, 1, 2])
    with pytest.raises(AssertionError):
        stats.every_seed([float("nan")], claim="gain", at_least=0.0)  # NaN never passes


def test_every_seed_on_a_paired_checks_the_differences():
    p = stats.paired([0.9, 0.9, 0.9], [0.8, 0.85, 0.7])
    stats.every_seed(p, claim="a beats b", at_least=0.0)
    with pytest.raises(AssertionError):
        stats.every_seed(p, claim="a beats b by 0.1", at_least=0.1)


def test_a_check_without_bounds_is_refused():
    with pytest.raises(ValueError, match="cannot fail"):
        stats.every_seed([1.0], claim="x")
    with pytest.raises(ValueError, match="cannot fail"):
        stats.on_average([1.0, 2.0, 3.0], claim="x")


def test_on_average_uses_the_interval_not_the_mean():
    # Mean 0.10 but a wide spread over 3 seeds: the interval reaches below 0, so "> 0" is not shown.
    with pytest.raises(AssertionError, match="interval"):
        stats.on_average([0.30, -0.05, 0.05], claim="gain", at_least=0.0)
    lo, hi = stats.on_average([0.10, 0.11, 0.12], claim="gain", at_least=0.05)
    assert lo < 0.11 < hi
    with pytest.raises(ValueError, match="at least 3 seeds"):
        stats.on_average([0.1, 0.2], claim="gain", at_least=0.0)
