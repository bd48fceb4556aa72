"""Tests for lesson 02 checks: preprocessing hints, probe features, choosing a backbone."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils import backbones  # noqa: E402
from course_utils.grading.checks.lesson02 import KERAS_TABLE, KERAS_TABLE_BARS, reference_fastest  # noqa: E402
from course_utils.grading.registry import run_check  # noqa: E402

RAW = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3)).astype(np.uint8)


def _right(module: str, raw=RAW):
    fn = __import__(f"keras.applications.{module}", fromlist=["preprocess_input"]).preprocess_input
    return np.asarray(fn(np.asarray(raw, dtype="float32").copy()))


def test_prepare_for_passes_and_names_each_mistake():
    right = _right("mobilenet_v2")
    assert run_check("02.prepare_for", raw=RAW, ours=right, scaled=right).passed
    cases = {
        "unchanged": RAW.astype("float32"),
        "twice": _right("mobilenet_v2", right),
        "multiply them by 255": _right("mobilenet_v2", RAW / 255.0),
        "resnet50's preprocessing": _right("resnet50"),
    }
    for hint, wrong in cases.items():
        outcome = run_check("02.prepare_for", raw=RAW, ours=right, scaled=wrong)
        assert outcome.points == 0 and hint in outcome.message and "[0, 1]" in outcome.message
    assert "shape" in run_check("02.prepare_for", raw=RAW, ours=right[:1], scaled=right).message


def test_prepare_for_other_backbones():
    ok = dict(raw=RAW, resnet=_right("resnet50"), effnet=_right("efficientnet"),
              mobilenet=_right("mobilenet"))
    assert run_check("02.prepare_for_other_backbones", **ok).passed
    bad = run_check("02.prepare_for_other_backbones", **{**ok, "resnet": _right("mobilenet_v2")})
    assert bad.points == 0 and "mobilenet_v2's preprocessing" in bad.message


def _tiny_base():
    base = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                             keras.layers.GlobalAveragePooling2D()])
    base.trainable = False
    return base


def test_probe_features_checks_preprocessing_and_freezing():
    base = _tiny_base()
    feats = base.predict(_right("mobilenet"), verbose=0)
    assert run_check("02.probe_features", base=base, features=feats, raw=RAW).passed
    raw_feats = base.predict(RAW.astype("float32"), verbose=0)
    assert "raw 0-255" in run_check("02.probe_features", base=base, features=raw_feats, raw=RAW).message
    twice = base.predict(_right("mobilenet", _right("mobilenet")), verbose=0)
    assert "twice" in run_check("02.probe_features", base=base, features=twice, raw=RAW).message
    base.trainable = True
    assert "freeze" in run_check("02.probe_features", base=base, features=feats, raw=RAW).message


def test_fastest_meeting_on_the_keras_table_and_unseen_tables():
    picks = [reference_fastest(KERAS_TABLE, bar) for bar in KERAS_TABLE_BARS]
    assert picks == ["mobilenet", "mobilenet_v2", "efficientnet_b0", "xception", None]
    assert run_check("02.fastest_meeting", picks=picks).passed
    most_accurate = [max((r for r in KERAS_TABLE if r["accuracy"] >= bar),
                         key=lambda r: r["accuracy"], default={"name": None})["name"]
                     for bar in KERAS_TABLE_BARS]
    outcome = run_check("02.fastest_meeting", picks=most_accurate)
    assert outcome.points == 0 and "lowest latency_ms" in outcome.message
    rows = [{"name": "a", "accuracy": None, "latency_ms": 1.0},
            {"name": "b", "accuracy": 0.9, "latency_ms": 5.0}]
    assert run_check("02.fastest_meeting_unseen", cases=[[rows, 0.5, "b"], [rows, 0.95, None]]).passed
    assert not run_check("02.fastest_meeting_unseen", cases=[[rows, 0.5, "a"]]).passed


def test_the_keras_table_matches_the_backbone_registry():
    for row in KERAS_TABLE:
        assert backbones.get(row["name"]).published_top1 == row["accuracy"]
