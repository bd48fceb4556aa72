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
