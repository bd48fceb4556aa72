"""Checks for lesson 02 (choosing a pretrained model): preprocessing, probe features, choosing.

Keras is imported inside the check functions only, so ``check()`` stays cheap to import.
The hidden checks compare the student's functions on inputs the check chose itself
(:func:`unseen_pixels`, :data:`UNSEEN_CASES`), and the probe's base must be MobileNet 0.25
with its ImageNet weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.checks.common import require_imagenet_backbone
from course_utils.checks.registry import CheckFailed, lesson_checks

register = lesson_checks(__name__)

# Published by Keras (https://keras.io/api/applications/): ImageNet top-1 and CPU time per
# inference step in ms. Exercise 3 chooses from this table.
KERAS_TABLE = [
    {"name": "xception", "accuracy": 0.790, "latency_ms": 109.4},
    {"name": "resnet50", "accuracy": 0.749, "latency_ms": 58.2},
    {"name": "mobilenet", "accuracy": 0.704, "latency_ms": 22.6},
    {"name": "mobilenet_v2", "accuracy": 0.713, "latency_ms": 25.9},
    {"name": "efficientnet_b0", "accuracy": 0.771, "latency_ms": 46.0},
]
KERAS_TABLE_BARS = (0.70, 0.71, 0.75, 0.78, 0.80)
UNSEEN_PIXELS_SEED = 2024
# The hidden check's tables and bars (the solution's hidden cell builds the same ones).
_UNSEEN_ROWS = [{"name": "a", "accuracy": 0.91, "latency_ms": 30.0},
                {"name": "b", "accuracy": None, "latency_ms": 1.0},
                {"name": "c", "accuracy": 0.95, "latency_ms": 12.5},
                {"name": "d", "accuracy": 0.89, "latency_ms": 3.0}]
UNSEEN_CASES = [(_UNSEEN_ROWS, bar) for bar in (0.85, 0.90, 0.93, 0.96)] + [
    ([{"name": "solo", "accuracy": 0.5, "latency_ms": 9.0}], 0.5),
    ([{"name": "x", "accuracy": None, "latency_ms": 2.0}], 0.0)]


def unseen_pixels() -> np.ndarray:
    """The hidden check's own raw photos: 4 random 16x16 uint8 RGB images (seed 2024)."""
    return np.random.default_rng(UNSEEN_PIXELS_SEED).integers(0, 256, (4, 16, 16, 3)).astype("uint8")


def _keras_preprocess(module: str, raw: np.ndarray) -> np.ndarray:
    """Keras' own ``preprocess_input`` of ``module`` applied once to raw 0-255 pixels."""
    import importlib

    fn = importlib.import_module(f"keras.applications.{module}").preprocess_input
    return np.asarray(fn(np.asarray(raw, dtype="float32").copy()))


def _as_images(value: Any, name: str, shape: tuple) -> np.ndarray:
    """Return ``value`` as a float array of ``shape``, or a hint."""
    try:
        array = np.asarray(value, dtype="float32")
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"`{name}` should be an array of images, got {type(value).__name__}") from error
    if array.shape != tuple(shape):
        raise CheckFailed(f"`{name}` should have the shape of the images you passed in, {tuple(shape)}, "
                          f"got {array.shape}")
    return array


def _compare_preprocessed(got: np.ndarray, raw: np.ndarray, module: str, what: str) -> None:
    """Raise a specific hint unless ``got`` is ``module``'s preprocessing of ``raw``, applied once."""
    right = _keras_preprocess(module, raw)
    if np.allclose(got, right, atol=1e-3):
        return
    if np.allclose(got, raw, atol=1e-3):
        raise CheckFailed(f"{what}: you returned the pixels unchanged; apply the backbone's own "
                          f"preprocess_input (keras.applications.{module})")
    if np.allclose(got, _keras_preprocess(module, right), atol=1e-3):
        raise CheckFailed(f"{what}: preprocessed twice; apply preprocess_input once, to 0-255 pixels")
    if np.allclose(got, _keras_preprocess(module, raw / 255.0), atol=1e-3):
        raise CheckFailed(f"{what}: preprocess_input got pixels in [0, 1]; multiply them by 255 first")
    for other in ("mobilenet_v2", "resnet50", "efficientnet", "xception"):
        if other != module and np.allclose(got, _keras_preprocess(other, raw), atol=1e-3):
            raise CheckFailed(f"{what}: this is {other}'s preprocessing; use keras.applications.{module}'s "
                              "(backbones.preprocess(name, ...) picks the right one)")
    raise CheckFailed(f"{what}: values range {got.min():.2f}..{got.max():.2f}, expected "
                      f"{right.min():.2f}..{right.max():.2f} (keras.applications.{module}.preprocess_input "
                      "of the 0-255 pixels)")


@register("prepare_for", points=2)
def prepare_for(raw: Any, ours: Any, scaled: Any) -> None:
    """``prepare_for('mobilenet_v2', ...)`` on uint8 and on [0, 1] images equals preprocess_input once."""
    raw = np.asarray(raw)
    ours = _as_images(ours, "prepare_for(..., uint8 images)", raw.shape)
    scaled = _as_images(scaled, "prepare_for(..., images / 255)", raw.shape)
    _compare_preprocessed(ours, raw, "mobilenet_v2", "on uint8 0-255 images")
    _compare_preprocessed(scaled, raw, "mobilenet_v2", "on float images in [0, 1]")


@register("prepare_for_other_backbones", points=2)
def prepare_for_other_backbones(raw: Any, resnet: Any, effnet: Any, mobilenet: Any) -> None:
    """Hidden: the same function is right for ResNet50 ([0, 1] input), EfficientNet, MobileNet.

    ``raw`` must be the check's own :func:`unseen_pixels` (a student's easier pixels, e.g.
    zeros, which look the same scaled or not, do not count).
    """
    raw = np.asarray(raw)
    if raw.shape != unseen_pixels().shape or not np.array_equal(raw, unseen_pixels()):
        raise CheckFailed("the hidden check's pixels were replaced; prepare_for must be tried on the "
                          "pixels the check chooses")
    for value, module, what in ((resnet, "resnet50", "ResNet50 on [0, 1] floats"),
                                (effnet, "efficientnet", "EfficientNetB0 on uint8"),
                                (mobilenet, "mobilenet", "MobileNet on float 0-255")):
        _compare_preprocessed(_as_images(value, what, raw.shape), raw, module, what)


@register("probe_features", points=2)
def probe_features(base: Any, features: Any, raw: Any) -> None:
    """The frozen MobileNet 0.25 base and features of correctly preprocessed photos."""
    import keras

    if not isinstance(base, keras.Model):
        raise CheckFailed(f"`base025` should be a Keras model, got {type(base).__name__}")
    if base.trainable_weights:
        raise CheckFailed("freeze the base: base025.trainable = False")
    require_imagenet_backbone(base, "mobilenet_025", "base025")
    raw = np.asarray(raw)
    if len(base.output_shape) != 2:
        raise CheckFailed(f"the base outputs {base.output_shape}; build it with pooling='avg' so each "
                          "photo gives one feature vector")
    size = base.input_shape[1]
    if size is not None and size != raw.shape[1]:
        raise CheckFailed(f"the base takes {size}-px images but the photos are {raw.shape[1]} px; "
                          "build it at IMAGE_SIZE")
    features = np.asarray(features, dtype="float32")
    if features.ndim != 2 or len(features) < len(raw) or features.shape[1] != base.output_shape[1]:
        raise CheckFailed(f"`train_features` should have one row of {base.output_shape[1]} features per "
                          f"training photo, got shape {features.shape}")
    features = features[: len(raw)]

    def feats(x):
        return np.asarray(base.predict(np.asarray(x, dtype="float32"), verbose=0))

    right = _keras_preprocess("mobilenet", raw)
    if np.allclose(features, feats(right), rtol=1e-3, atol=1e-3):
        return
    if np.allclose(features, feats(raw), rtol=1e-3, atol=1e-3):
        raise CheckFailed("these features come from raw 0-255 pixels: preprocess them first "
                          "(prepare_for('mobilenet_025', train.x))")
    if np.allclose(features, feats(_keras_preprocess("mobilenet", right)), rtol=1e-3, atol=1e-3):
        raise CheckFailed("these features come from photos preprocessed twice; preprocess once")
    raise CheckFailed("`train_features` are not base025's features of the training photos, "
                      "preprocessed once with MobileNet's preprocess_input, in the order of train.x")


def reference_fastest(rows: list[dict], min_accuracy: float) -> str | None:
    """The fastest row's name among those with accuracy >= ``min_accuracy`` (None if none)."""
    ok = [r for r in rows if r.get("accuracy") is not None and r["accuracy"] >= min_accuracy]
    return min(ok, key=lambda r: r["latency_ms"])["name"] if ok else None


def _compare_picks(cases: list[tuple[list[dict], float, Any]]) -> None:
    for rows, bar, pick in cases:
        expected = reference_fastest(rows, bar)
        if pick != expected:
            options = ", ".join(f"{r['name']} ({r['accuracy']}, {r['latency_ms']} ms)" for r in rows)
            raise CheckFailed(f"with a bar of {bar} you chose {pick!r}, expected {expected!r}. Keep the "
                              "rows whose accuracy is known and >= the bar, then take the lowest "
                              f"latency_ms; return None when no row qualifies. Table: {options}")


@register("fastest_meeting", points=2)
def fastest_meeting(picks: Any) -> None:
    """Picks on Keras' published table for the bars ``KERAS_TABLE_BARS``."""
    if not isinstance(picks, list) or len(picks) != len(KERAS_TABLE_BARS):
        raise CheckFailed(f"`picks` should be a list of {len(KERAS_TABLE_BARS)} answers, one per bar")
    _compare_picks([(KERAS_TABLE, bar, pick) for bar, pick in zip(KERAS_TABLE_BARS, picks, strict=True)])


@register("fastest_meeting_unseen", points=2)
def fastest_meeting_unseen(cases: Any) -> None:
    """Hidden: the student's function on tables it has not seen (unsorted, missing accuracies).

    Only the picks come from the student: the tables and bars must be :data:`UNSEEN_CASES`.
    """
    if not isinstance(cases, list) or len(cases) != len(UNSEEN_CASES):
        raise CheckFailed(f"expected {len(UNSEEN_CASES)} (rows, bar, pick) cases")
    for case, (rows, bar) in zip(cases, UNSEEN_CASES, strict=True):
        if not isinstance(case, list) or len(case) != 3 or case[0] != rows or case[1] != bar:
            raise CheckFailed("the hidden check's tables were replaced; fastest_meeting must be tried "
                              "on the tables the check chooses")
    _compare_picks([(rows, bar, case[2]) for case, (rows, bar) in zip(cases, UNSEEN_CASES, strict=True)])
