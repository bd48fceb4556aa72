"""Tests for lesson 02 checks: preprocessing hints, probe features, choosing a backbone."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from helpers import needs_mirror  # noqa: E402

from course_utils import backbones  # noqa: E402
from course_utils.checks.lesson02 import (  # noqa: E402
    KERAS_TABLE,
    KERAS_TABLE_BARS,
    UNSEEN_CASES,
    reference_fastest,
    unseen_pixels,
)
from course_utils.checks.registry import run_check  # noqa: E402

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


def test_prepare_for_other_backbones_on_the_checks_own_pixels():
    """Right on the check's pixels passes; a wrong backbone is named; substituted pixels fail."""
    raw = unseen_pixels()
    ok = dict(raw=raw, resnet=_right("resnet50", raw), effnet=_right("efficientnet", raw),
              mobilenet=_right("mobilenet", raw))
    assert run_check("02.prepare_for_other_backbones", **ok).passed
    bad = run_check("02.prepare_for_other_backbones", **{**ok, "resnet": _right("mobilenet_v2", raw)})
    assert bad.points == 0 and "mobilenet_v2's preprocessing" in bad.message
    zeros = np.zeros_like(raw)  # zeros look the same scaled to [0, 1] or not
    easy = dict(raw=zeros, resnet=_right("resnet50", zeros), effnet=_right("efficientnet", zeros),
                mobilenet=_right("mobilenet", zeros))
    outcome = run_check("02.prepare_for_other_backbones", **easy)
    assert outcome.points == 0 and "pixels were replaced" in outcome.message


RAW32 = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)


@needs_mirror
def test_probe_features_checks_the_base_preprocessing_and_freezing():
    base = backbones.load_backbone("mobilenet_025", 32, pooling="avg", verbose=False)
    base.trainable = False
    feats = base.predict(_right("mobilenet", RAW32), verbose=0)
    assert run_check("02.probe_features", base=base, features=feats, raw=RAW32).passed
    raw_feats = base.predict(RAW32.astype("float32"), verbose=0)
    assert "raw 0-255" in run_check("02.probe_features", base=base, features=raw_feats, raw=RAW32).message
    twice = base.predict(_right("mobilenet", _right("mobilenet", RAW32)), verbose=0)
    assert "twice" in run_check("02.probe_features", base=base, features=twice, raw=RAW32).message
    untrained = keras.applications.MobileNet(weights=None, alpha=0.25, include_top=False,
                                             input_shape=(32, 32, 3), pooling="avg")
    untrained.trainable = False
    outcome = run_check("02.probe_features", base=untrained, features=feats, raw=RAW32)
    assert outcome.points == 0 and "ImageNet weights" in outcome.message
    base.trainable = True
    assert "freeze" in run_check("02.probe_features", base=base, features=feats, raw=RAW32).message


def test_fastest_meeting_on_the_keras_table_and_unseen_tables():
    picks = [reference_fastest(KERAS_TABLE, bar) for bar in KERAS_TABLE_BARS]
    assert picks == ["mobilenet", "mobilenet_v2", "efficientnet_b0", "xception", None]
    assert run_check("02.fastest_meeting", picks=picks).passed
    most_accurate = [max((r for r in KERAS_TABLE if r["accuracy"] >= bar),
                         key=lambda r: r["accuracy"], default={"name": None})["name"]
                     for bar in KERAS_TABLE_BARS]
    outcome = run_check("02.fastest_meeting", picks=most_accurate)
    assert outcome.points == 0 and "lowest latency_ms" in outcome.message
    right = [[rows, bar, reference_fastest(rows, bar)] for rows, bar in UNSEEN_CASES]
    assert run_check("02.fastest_meeting_unseen", cases=right).passed
    wrong = [[rows, bar, "a"] for rows, bar in UNSEEN_CASES]
    assert not run_check("02.fastest_meeting_unseen", cases=wrong).passed
    easy = [{"name": "b", "accuracy": 0.9, "latency_ms": 5.0}]  # the student's own, easier tables
    outcome = run_check("02.fastest_meeting_unseen", cases=[[easy, bar, "b"] for _, bar in UNSEEN_CASES])
    assert outcome.points == 0 and "tables were replaced" in outcome.message


def test_the_keras_table_matches_the_backbone_registry():
    for row in KERAS_TABLE:
        assert backbones.get(row["name"]).published_top1 == row["accuracy"]
