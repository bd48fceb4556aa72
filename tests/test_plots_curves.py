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


def _tiny_cnn():
    import keras

    return keras.Sequential([keras.Input((8, 8, 3)),
                             keras.layers.Conv2D(2, 3, name="block_1_expand"),
                             keras.layers.BatchNormalization(name="block_1_expand_BN"),
                             keras.layers.Conv2D(2, 3, name="block_2_project"),
                             keras.layers.BatchNormalization(name="block_2_project_BN")])


def test_layer_states_say_which_layers_train():
    model = _tiny_cnn()
    model.layers[2].trainable = False  # block_2_project frozen, the rest trainable
    model.layers[3].trainable = False
    states = plots.layer_states(model)
    assert [s for _, _, s in states] == ["trainable", "BatchNorm trainable", "frozen",
                                         "BatchNorm frozen"]
    assert [b for _, b, _ in states] == ["block_1", "block_1", "block_2", "block_2"]


def test_plot_trainable_layers_colours_one_bar_per_layer():
    from matplotlib.colors import to_rgba

    model = _tiny_cnn()
    model.layers[0].trainable = False
    fig = plots.plot_trainable_layers(model, title="t")
    bars = fig.axes[0].patches
    assert len(bars) == 4
    assert to_rgba(bars[0].get_facecolor()) == to_rgba(plots.STATE_COLORS["frozen"])
    assert to_rgba(bars[1].get_facecolor()) == to_rgba(plots.STATE_COLORS["BatchNorm trainable"])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["b1", "b2"]


def test_show_augmentations_draws_new_variants_in_each_column():
    import keras

    images = np.random.default_rng(0).integers(0, 255, (2, 8, 8, 3)).astype("uint8")
    flip = keras.Sequential([keras.layers.RandomFlip("horizontal", seed=1)])
    fig = plots.show_augmentations(flip, images, n_variants=3)
    assert len(fig.axes) == 2 * 4
    assert fig.axes[0].get_title() == "original" and fig.axes[3].get_title() == "draw 3"
