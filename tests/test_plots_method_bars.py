"""Tests for the method comparison bar chart (lessons 07 and 08)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import plots  # noqa: E402


def test_bars_sit_at_the_means_and_the_chosen_method_is_darker():
    runs = {"source-only": [0.5, 0.7], "AdaBN": [0.8, 0.9, 1.0]}
    fig = plots.plot_method_bars(runs, highlight="AdaBN", title="t")
    bars = fig.axes[0].patches
    assert np.allclose([b.get_width() for b in bars], [0.6, 0.9])
    assert bars[0].get_facecolor() != bars[1].get_facecolor()
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["source-only", "AdaBN"]


def test_bars_reject_an_unknown_highlight_and_no_methods():
    with pytest.raises(ValueError, match="not one of the methods"):
        plots.plot_method_bars({"a": [1.0]}, highlight="b")
    with pytest.raises(ValueError, match="no methods"):
        plots.plot_method_bars({})


def test_reliability_points_are_bin_confidence_against_bin_accuracy():
    probs = np.array([[0.95, 0.05]] * 10 + [[0.55, 0.45]] * 10 + [[0.3, 0.7]])
    labels = np.array([0] * 9 + [1] + [0] * 5 + [1] * 5 + [1])   # 0.9 right at 0.95, 0.5 right at 0.55
    fig = plots.plot_reliability(probs, labels, bins=10, label="model", title="t")
    points, diagonal = fig.axes[0].lines
    assert np.allclose(points.get_xdata(), [0.55, 0.95]) and np.allclose(points.get_ydata(), [0.5, 0.9])
    assert np.allclose(diagonal.get_xdata(), [0, 1])   # the bin with one example (0.7) is left out
    with pytest.raises(ValueError, match="N labels"):
        plots.plot_reliability(probs, labels[:3])
