"""Checks for lesson 03 (feature extraction): cached features, a head on them, augmentation.

Keras is imported inside the check functions only, so ``check()`` stays cheap to import.
The base must be MobileNetV2 with its ImageNet weights; the hidden checks compute features
with their own copy of that base, of photos they load themselves.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from course_utils.checks.common import (
    activation_name,
    as_array,
    flat_layers,
    held_out_images,
    is_backbone,
    model_accuracy,
    require_image_size,
    require_imagenet_backbone,
    require_model,
)
from course_utils.checks.registry import CheckFailed, lesson_checks

register = lesson_checks(__name__)

MIN_HEAD_ACCURACY = 0.85
MIN_UNSEEN_ACCURACY = 0.85
AUGMENTATION_LAYERS = ("RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
                       "RandomContrast", "RandomCrop", "RandomBrightness")
C_CANDIDATES = (0.001, 0.01, 0.1, 1.0, 10.0)
TIE = 0.011  # one validation photo in a hundred: scores this close count as a tie
TEST_PER_CLASS = 100  # held-out test photos per class the hidden checks score on


def probe_scores(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray,
                 candidates=C_CANDIDATES) -> dict[float, float]:
    """Validation accuracy of a logistic-regression probe for each regularisation strength C."""
    from sklearn.linear_model import LogisticRegression

    return {c: float(LogisticRegression(C=c, max_iter=2000).fit(train_x, train_y).score(val_x, val_y))
            for c in candidates}


def best_of(scores: dict[float, float]) -> float:
    """The C with the highest score; on a tie, the smallest C (the simplest model)."""
    top = max(scores.values())
    return min(c for c, v in scores.items() if v == top)


def _as_choice(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"`best_C` should be one of {list(C_CANDIDATES)}, got {value!r}") from error
BACKBONE = "mobilenet_v2"
LESSON_SEED = 42  # the lesson's SEED: the training photos are sampled with it
RECOMPUTED = 8  # training photos whose features the hidden check recomputes


def reference_features(image_size: int, images: np.ndarray, preprocess: bool = True) -> np.ndarray:
    """Features of raw photos by the check's own ImageNet MobileNetV2 (pooled), preprocessed once.

    ``preprocess=False`` feeds the raw pixels instead (the mistake a hint names).
    """
    from course_utils import backbones

    base = _reference_base(int(image_size))
    x = backbones.preprocess(BACKBONE, images) if preprocess else np.asarray(images, dtype="float32")
    return np.asarray(base.predict(x, verbose=0))


@functools.lru_cache(maxsize=2)
def _reference_base(image_size: int) -> Any:
    from course_utils import backbones

    return backbones.load_backbone(BACKBONE, image_size, pooling="avg", verbose=False)


def _base_size(base: Any) -> int:
    shape = base.input_shape
    if len(shape) != 4 or not shape[1]:
        raise CheckFailed(f"`base` should take photos (None, size, size, 3), got {shape}")
    return int(shape[1])


@register("frozen_features", points=2)
def frozen_features(base: Any, train_features: Any, n_images: Any) -> None:
    """The base is frozen and pooled, and there is one feature vector per training photo."""
    require_model(base, "base")
    if base.trainable_weights:
        raise CheckFailed(f"your base has {len(base.trainable_weights)} trainable weight tensors; "
                          "freeze it with base.trainable = False")
    if len(base.output_shape) != 2:
        raise CheckFailed(f"the base outputs {base.output_shape}, a feature map; build it with "
                          "pooling='avg' so each photo becomes one vector")
    feats = as_array(train_features, "train_features")
    expected = (int(n_images), int(base.output_shape[-1]))
    if feats.shape != expected:
        raise CheckFailed(f"`train_features` has shape {feats.shape}; expected {expected}: one "
                          "vector per training photo (features.extract_features(base, ...))")
    require_imagenet_backbone(base, BACKBONE, "base")


@register("features_recomputed", points=2)
def features_recomputed(base: Any, train_features: Any) -> None:
    """Hidden: the cached features equal the check's own MobileNetV2 features of the training photos.

    The check loads the first training photos itself, as the lesson does (``cats_and_dogs``
    train split, the profile's ``train_per_class``, seed 42), so neither the photos nor the
    base that computes the expected features come from the student.
    """
    from course_utils import datasets, profiles

    require_model(base, "base")
    require_imagenet_backbone(base, BACKBONE, "base")
    size = _base_size(base)
    train = datasets.load_images("cats_and_dogs", "train", size,
                                 per_class=profiles.get_profile().train_per_class, seed=LESSON_SEED,
                                 verbose=False)
    raw = train.x[:RECOMPUTED]
    feats = as_array(train_features, "train_features")[: len(raw)]
    expected = reference_features(size, raw)
    if feats.shape != expected.shape:
        raise CheckFailed(f"features of shape {feats.shape}, expected {expected.shape}")
    if np.allclose(feats, expected, atol=1e-3, rtol=1e-3):
        return None
    if np.allclose(feats, reference_features(size, raw, preprocess=False), atol=1e-3, rtol=1e-3):
        raise CheckFailed("your features come from raw 0-255 pixels; preprocess the photos with "
                          "backbones.preprocess('mobilenet_v2', photos) before extracting features")
    raise CheckFailed("your features are not MobileNetV2's output on the training photos in order "
                      "(train.x as the lesson loads it); compute them with features.extract_features(base, "
                      "backbones.preprocess('mobilenet_v2', train.x))")


@register("head_accuracy", points=2)
def head_accuracy(head: Any, val_features: Any, y: Any) -> None:
    """The head takes a feature vector, outputs one probability and scores >= 0.85."""
    require_model(head, "head")
    feats = as_array(val_features, "val_features")
    if len(head.input_shape) != 2 or head.input_shape[-1] != feats.shape[-1]:
        raise CheckFailed(f"the head takes {head.input_shape}; it should take one feature vector "
                          f"of {feats.shape[-1]} numbers: keras.Input((train_features.shape[1],))")
    if head.outputs[0].shape[-1] != 1 or activation_name(head.layers[-1]) != "sigmoid":
        raise CheckFailed("end the head with Dense(1, activation='sigmoid'): the probability of dog")
    accuracy = model_accuracy(head, feats, np.asarray(y))
    if accuracy < MIN_HEAD_ACCURACY:
        raise CheckFailed(f"the head scores {accuracy:.2f} on the validation features; expected "
                          f">= {MIN_HEAD_ACCURACY}. Train it longer (more epochs) or with Adam(1e-2), "
                          "and check the labels match the features")


@register("head_on_unseen_photos", points=2)
def head_on_unseen_photos(base: Any, head: Any) -> None:
    """Hidden: the head classifies held-out test photos >= 0.85 from the check's own base's features."""
    require_model(base, "base")
    require_model(head, "head")
    require_imagenet_backbone(base, BACKBONE, "base")
    size = _base_size(base)
    photos = held_out_images("cats_and_dogs", size, per_class=TEST_PER_CLASS, split="test")
    accuracy = model_accuracy(head, reference_features(size, photos.x), photos.y)
    if accuracy < MIN_UNSEEN_ACCURACY:
        raise CheckFailed(f"on {len(photos)} held-out test photos your head scores {accuracy:.2f} on "
                          f"MobileNetV2's features; expected >= {MIN_UNSEEN_ACCURACY}")


@register("augmentation_inside", points=2)
def augmentation_inside(model: Any) -> None:
    """Augmentation layers sit in the model before the frozen base, and are off at prediction."""
    require_model(model, "model")
    if len(model.input_shape) != 4:
        raise CheckFailed(f"`model` takes {model.input_shape}; it should take photos "
                          "(None, size, size, 3): augmentation needs pixels, not cached features")
    layers = flat_layers(model, is_backbone)
    names = [type(layer).__name__ for layer in layers]
    augment = [i for i, n in enumerate(names) if n in AUGMENTATION_LAYERS]
    bases = [i for i, layer in enumerate(layers) if is_backbone(layer)]
    if not augment:
        raise CheckFailed("no augmentation layer found; start the model with e.g. "
                          "keras.layers.RandomFlip('horizontal') and keras.layers.RandomRotation(0.1)")
    if not bases:
        raise CheckFailed("the pretrained base is not inside `model`; call base(x, training=False)")
    if augment[0] > bases[0]:
        raise CheckFailed("augment the photos before the base: pixels first, then preprocessing, "
                          "then the base")
    if layers[bases[0]].trainable_weights:
        raise CheckFailed("the base inside `model` is trainable; set base.trainable = False")
    require_imagenet_backbone(layers[bases[0]], BACKBONE, "the base inside `model`")
    size = int(model.input_shape[1])
    x = np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype("float32")
    if not np.allclose(model.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5):
        raise CheckFailed("two predictions on the same photos differ: augmentation (or dropout) is "
                          "active at prediction time; use Keras' Random* layers, which only act "
                          "when training")


@register("choose_on_validation", points=2)
def choose_on_validation(val_scores: Any, best_C: Any, train_features: Any, train_y: Any,
                         val_features: Any, val_y: Any) -> None:
    """Every candidate C scored on the validation features, and the best one chosen."""
    if not isinstance(val_scores, dict) or len(val_scores) != len(C_CANDIDATES):
        raise CheckFailed(f"`val_scores` should be a dict with one validation accuracy per C in "
                          f"{list(C_CANDIDATES)}")
    try:
        got = {float(c): float(v) for c, v in val_scores.items()}
    except (TypeError, ValueError) as error:
        raise CheckFailed("`val_scores` maps each C (a number) to an accuracy (a number)") from error
    if sorted(got) != sorted(C_CANDIDATES):
        raise CheckFailed(f"`val_scores` has the keys {sorted(got)}; use exactly {list(C_CANDIDATES)}")
    as_array(train_features, "train_features"), as_array(val_features, "val_features")
    # refit on the very arrays the student fitted on (their dtype included: float32 and float64
    # fits differ in the last digits)
    expected = probe_scores(np.asarray(train_features), np.asarray(train_y),
                            np.asarray(val_features), np.asarray(val_y))
    for c, v in expected.items():
        if abs(got[c] - v) > 1e-6:
            raise CheckFailed(f"for C={c} you report {got[c]:.3f}, but LogisticRegression(C={c}, "
                              f"max_iter=2000) fitted on train_features scores {v:.3f} on val_features: "
                              "score each candidate on the validation split")
    choice = _as_choice(best_C)
    if choice != best_of(got):
        raise CheckFailed(f"`best_C` is {choice}, but the highest validation accuracy in your table "
                          f"belongs to C={best_of(got)} (on a tie, take the smallest C)")


@register("choice_recomputed", points=2)
def choice_recomputed(best_C: Any, image_size: Any) -> None:
    """Hidden: the grader scores the candidates itself (its own base, the lesson's photos); the
    choice must be one of the best on validation."""
    from course_utils import datasets, features, profiles

    choice = _as_choice(best_C)
    size = require_image_size(image_size)
    profile = profiles.get_profile()
    base = _reference_base(size)
    splits = {split: datasets.load_images("cats_and_dogs", split, size, per_class=n, seed=LESSON_SEED,
                                          verbose=False)
              for split, n in (("train", profile.train_per_class), ("validation", profile.val_per_class))}
    f = {split: features.extract_features(base, d.x, preprocess=BACKBONE, verbose=False)
         for split, d in splits.items()}
    scores = probe_scores(f["train"], splits["train"].y, f["validation"], splits["validation"].y)
    good = [c for c, v in scores.items() if v >= max(scores.values()) - TIE]
    if choice not in good:
        table = ", ".join(f"C={c}: {v:.3f}" for c, v in scores.items())
        raise CheckFailed(f"recomputed on the validation photos ({table}), C={choice} is not among the "
                          "best; choose the C with the highest validation accuracy")
