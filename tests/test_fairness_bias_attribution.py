"""Unit tests for the data-bias helpers: group metrics, cue injection, attribution maps."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.methods import attribution, bias, fairness


def test_group_metrics_and_weights():
    y = np.array([0, 0, 1, 1, 1, 1])
    pred = np.array([0, 1, 1, 1, 1, 0])
    groups = fairness.group_ids(y, np.array([0, 0, 0, 1, 1, 1]))
    assert groups.tolist() == [0, 0, 2, 3, 3, 3]
    acc = fairness.per_group_accuracy(y, pred, groups)
    assert acc == {0: 0.5, 2: 1.0, 3: pytest.approx(2 / 3)}
    assert fairness.worst_group_accuracy(y, pred, groups) == 0.5
    w = fairness.group_weights(groups)
    assert w.mean() == pytest.approx(1.0)
    totals = [w[groups == g].sum() for g in (0, 2, 3)]
    assert np.allclose(totals, totals[0])
    assert fairness.class_weights(np.array([0, 1, 1, 1])) == {0: 2.0, 1: pytest.approx(2 / 3)}
    with pytest.raises(ValueError, match="lengths differ"):
        fairness.per_group_accuracy(y, pred[:3], groups)


def test_precision_recall_and_confusion():
    y = np.array([0, 0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1, 1])
    assert fairness.precision_recall(y, pred, positive=0) == (1.0, pytest.approx(1 / 3))
    assert fairness.precision_recall(y, np.ones(5, int), positive=0) == (0.0, 0.0)
    assert fairness.confusion(y, pred).tolist() == [[1, 2], [0, 2]]


def test_colored_mnist_follows_the_recipe():
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 256, size=(4000, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=4000)
    env = bias.colored_mnist(digits, labels, color_flip=0.1, seed=1)
    assert env["x"].shape == (4000, 14, 14, 2) and env["x"].dtype == np.float32
    assert abs(np.mean(env["y"] == (labels < 5)) - 0.75) < 0.03  # 25% label noise
    assert abs(np.mean(env["color"] == env["y"]) - 0.9) < 0.03
    on = env["x"].reshape(4000, -1, 2).sum(1)
    assert np.all(on[np.arange(4000), 1 - env["color"]] == 0)  # only the chosen channel lit
    assert bias.colored_to_rgb(env["x"][:2]).shape == (2, 14, 14, 3)


def test_cue_assignment_and_tag():
    y = np.array([0] * 1000 + [1] * 1000)
    cue = bias.cue_assignment(y, agree=0.95, seed=0)
    assert abs(cue[y == 1].mean() - 0.95) < 0.03 and abs(cue[y == 0].mean() - 0.05) < 0.03
    images = np.zeros((3, 20, 20, 3), np.uint8)
    tagged = bias.add_tag(images, np.array([1, 0, 1]), size=0.25)
    region = bias.tag_region(20, 0.25)
    assert region.sum() == 25 and region[-1, 0] and not region[0, -1]
    assert (tagged[0][region] == bias.COLORS["red"]).all() and tagged[1].sum() == 0
    assert images.sum() == 0  # the input is not modified
    framed = bias.add_border(images, width=0.1)
    assert (framed[:, bias.border_region(20, 0.1)] > 0).any(axis=-1).all()


def test_mass_in_region_and_occlusion():
    maps = np.zeros((2, 4, 4))
    maps[0, 0, 0], maps[1] = 1.0, 1.0
    region = np.zeros((4, 4), bool)
    region[0, 0] = True
    assert attribution.mass_in_region(maps, region).tolist() == [1.0, 1 / 16]

    def predict(x):  # "looks" only at the top-left 2x2 corner
        return x[:, :2, :2].mean(axis=(1, 2, 3))[:, None]

    occ = attribution.occlusion_map(predict, np.ones((1, 4, 4, 1)), target=1, patch=2)
    assert occ[0, 0, 0] == pytest.approx(1.0) and occ[0, 3, 3] == 0.0


def test_grad_cam_finds_the_active_corner():
    keras = pytest.importorskip("keras")
    conv = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Identity()])
    head = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, activation="sigmoid")])
    head.set_weights([np.array([[5.0]]), np.array([0.0])])
    x = np.zeros((1, 8, 8, 1), np.float32)
    x[0, :2, :2] = 1.0
    cam = attribution.grad_cam(conv, head, x, target=1)
    assert cam.shape == (1, 8, 8) and cam.max() == pytest.approx(1.0)
    assert attribution.mass_in_region(cam, x[0, ..., 0] > 0)[0] > 0.9
