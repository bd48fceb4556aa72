"""Lesson 02's checks on learners' functions: written differently from the solution they earn full
points, plausible mistakes lose theirs. The check cells' inputs are computed as in the notebook."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from checks_support import fails, full, genuine, run  # noqa: E402

from course_utils.checks import lesson02  # noqa: E402

MODULES = {"mobilenet_v2": "mobilenet_v2", "mobilenet_025": "mobilenet", "resnet50": "resnet50",
           "efficientnet_b0": "efficientnet"}


def prepare_alt(name, images):
    """Right, written another way: a table of Keras functions, float64, scale by the dtype's kind."""
    fn = importlib.import_module(f"keras.applications.{MODULES[name]}").preprocess_input
    x = np.array(images, dtype="float64")
    if np.issubdtype(np.asarray(images).dtype, np.floating) and x.max() <= 1.0:
        x = 255.0 * x
    return np.asarray(fn(x.astype("float32")))


def prepare_always_scales(name, images):
    """Mistake: every float image is taken to be in [0, 1]."""
    fn = importlib.import_module(f"keras.applications.{MODULES[name]}").preprocess_input
    x = np.asarray(images, dtype="float32")
    return np.asarray(fn(x * 255.0 if np.asarray(images).dtype.kind == "f" else x))


def prepare_never_scales(name, images):
    """Mistake: [0, 1] floats go straight into preprocess_input."""
    fn = importlib.import_module(f"keras.applications.{MODULES[name]}").preprocess_input
    return np.asarray(fn(np.asarray(images, dtype="float32").copy()))


RAW = np.random.default_rng(42).integers(0, 256, (8, 16, 16, 3)).astype("uint8")


def visible(prepare):
    return run("02.prepare_for", raw=RAW, ours=prepare("mobilenet_v2", RAW),
               scaled=prepare("mobilenet_v2", RAW / 255.0))


def hidden(prepare):
    raw = lesson02.unseen_pixels()
    return run("02.prepare_for_other_backbones", raw=raw, resnet=prepare("resnet50", raw / 255.0),
               effnet=prepare("efficientnet_b0", raw),
               mobilenet=prepare("mobilenet_025", raw.astype("float32")))


def test_prepare_for_accepts_another_way_of_writing_it():
    assert full(visible(prepare_alt))
    assert full(hidden(prepare_alt))


def test_prepare_for_mistakes_lose_their_points():
    assert fails(visible(prepare_never_scales), "multiply them by 255")
    assert fails(hidden(prepare_always_scales), "MobileNet on float 0-255")


def test_probe_features_accepts_features_computed_another_way(monkeypatch):
    genuine(monkeypatch, lesson02)
    inputs = keras.Input((16, 16, 3))
    base = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs)))
    for layer in base.layers:  # frozen layer by layer, not with base.trainable
        layer.trainable = False
    right = base.predict(keras.applications.mobilenet.preprocess_input(RAW.astype("float32")), verbose=0)
    assert full(run("02.probe_features", base=base, features=right, raw=RAW))
    wrong = base.predict(RAW.astype("float32") / 255.0, verbose=0)  # [0, 1] pixels into the base
    assert fails(run("02.probe_features", base=base, features=wrong, raw=RAW), "not base025's features")


def fastest_alt(rows, min_accuracy):
    """Right, written another way: sort by latency, return the first row that qualifies."""
    for row in sorted(rows, key=lambda r: r["latency_ms"]):
        if row["accuracy"] is not None and row["accuracy"] >= min_accuracy:
            return row["name"]
    return None


def most_accurate(rows, min_accuracy):
    """Mistake: the most accurate qualifying row, not the fastest."""
    ok = [r for r in rows if r["accuracy"] is not None and r["accuracy"] >= min_accuracy]
    return max(ok, key=lambda r: r["accuracy"])["name"] if ok else None


def strictly_above(rows, min_accuracy):
    """Mistake: accuracy > the bar instead of >=."""
    ok = [r for r in rows if r["accuracy"] is not None and r["accuracy"] > min_accuracy]
    return min(ok, key=lambda r: r["latency_ms"])["name"] if ok else None


def unknown_as_zero(rows, min_accuracy):
    """Mistake: an unknown accuracy read as 0 (so it qualifies for a bar of 0)."""
    ok = [r for r in rows if (r["accuracy"] or 0.0) >= min_accuracy]
    return min(ok, key=lambda r: r["latency_ms"])["name"] if ok else None


def picks(fastest):
    return [fastest(lesson02.KERAS_TABLE, bar) for bar in lesson02.KERAS_TABLE_BARS]


def unseen(fastest):
    return [[rows, bar, fastest(rows, bar)] for rows, bar in lesson02.UNSEEN_CASES]


def test_fastest_meeting_accepts_another_way_of_writing_it():
    assert full(run("02.fastest_meeting", picks=picks(fastest_alt)))
    assert full(run("02.fastest_meeting_unseen", cases=unseen(fastest_alt)))


@pytest.mark.parametrize("mistake", [most_accurate, strictly_above, unknown_as_zero])
def test_fastest_meeting_mistakes_lose_their_points(mistake):
    assert fails(run("02.fastest_meeting_unseen", cases=unseen(mistake)))
    if picks(mistake) != picks(fastest_alt):
        assert fails(run("02.fastest_meeting", picks=picks(mistake)), "bar of")
