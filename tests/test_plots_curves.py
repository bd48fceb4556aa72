"""Tests for the embedding, mean-and-spread and phase plots (lessons 03 and 04)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import plots  # noqa: E402


def test_plot_embedding_one_series_per_class():
    fig = plots.plot_embedding(np.zeros((5, 2)), [0, 1, 1, 0, 1], ["cats", "dogs"], title="t")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["cats (2)", "dogs (3)"]


def test_plot_embedding_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="expected"):
        plots.plot_embedding(np.zeros((5, 3)), [0] * 5, ["a"])


def test_plot_mean_spread_plots_the_mean():
    values = np.array([[0.5, 0.7], [0.9, np.nan]])
    fig = plots.plot_mean_spread([1, 5], {"head": values}, "shots", "accuracy", logx=True)
    line = fig.axes[0].get_lines()[0]
    assert np.allclose(line.get_ydata(), [0.6, 0.9])


def test_plot_mean_spread_leaves_out_points_a_run_skipped():
    """A method run at fewer x values than the others is drawn at those only (lesson 09)."""
    import warnings

    values = np.array([[0.5, 0.7], [np.nan, np.nan], [0.9, 0.8]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 'mean of empty slice'
        fig = plots.plot_mean_spread([1, 5, 10], {"trained": values}, "shots", "accuracy")
    line = fig.axes[0].get_lines()[0]
    assert np.allclose(line.get_xdata(), [1, 10]) and np.allclose(line.get_ydata(), [0.6, 0.85])


def test_plot_phases_marks_where_the_second_phase_starts():
    head = {"accuracy": [0.5, 0.8], "val_accuracy": [0.6, 0.85]}
    fine = {"accuracy": [0.9], "val_accuracy": [0.9]}
    fig = plots.plot_phases({"head": head, "fine-tuning": fine}, metrics=("accuracy",))
    ax = fig.axes[0]
    xs = [line.get_xdata() for line in ax.get_lines()]
    assert any(np.allclose(x, [2.5, 2.5]) for x in xs)  # the marker
    assert any(np.allclose(x, [3]) for x in xs)  # the fine-tuning epoch continues the count
