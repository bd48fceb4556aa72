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
    OutputKind,
    as_array,
    feature_inputs,
    find_backbone,
    first_convolution,
    held_out_images,
    model_accuracy,
    output_kind,
    photo_inputs,
    predict_outputs,
    recorded_input,
    require_image_size,
    require_imagenet_backbone,
    require_matching_loss,
    require_model,
    require_preprocessed_once,
)
from course_utils.checks.held_out import HeldOutImages
from course_utils.checks.registry import CheckFailed, lesson_checks

register = lesson_checks(__name__)
# What the hidden checks score on: hidden from the student's kernel (checks/held_out.py).
HELD_OUT_DATA = (HeldOutImages("cats_and_dogs"),)

MIN_HEAD_ACCURACY = 0.85
MIN_UNSEEN_ACCURACY = 0.85
C_CANDIDATES = (0.001, 0.01, 0.1, 1.0, 10.0)
MIN_CHOICE_TEST_ACCURACY = 0.85  # the open goal of exercise 4: the chosen probe on held-out test photos
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


def lesson_training_photos(size: int) -> np.ndarray:
    """The lesson's training photos in order (cats_and_dogs train, the profile's size, seed 42)."""
    from course_utils import datasets, profiles

    per_class = profiles.get_profile().train_per_class
    return datasets.load_images("cats_and_dogs", "train", size, per_class=per_class, seed=LESSON_SEED,
                                verbose=False).x


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
                          "freeze the whole base before computing features")
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
    require_model(base, "base")
    require_imagenet_backbone(base, BACKBONE, "base")
    size = _base_size(base)
    raw = lesson_training_photos(size)[:RECOMPUTED]
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


def _require_dog_probability(head: Any, width: int) -> None:
    """``head`` turns a feature vector into P(dog) (one probability, or two class probabilities),
    compiled with the loss that reads those outputs; judged on the check's own feature vectors."""
    outputs = predict_outputs(head, feature_inputs(width))
    kind = output_kind(outputs)
    if outputs.shape[1] > 2 or kind is OutputKind.SCORES:
        raise CheckFailed("the head's outputs are not the probability of dog: end it with one sigmoid "
                          "unit (or two softmax units), so every output lies between 0 and 1")
    require_matching_loss(head, "head", kind, outputs.shape[1])


@register("head_accuracy", points=2)
def head_accuracy(head: Any, val_features: Any, y: Any) -> None:
    """The head takes a feature vector, outputs P(dog) with the matching loss, and scores >= 0.85."""
    require_model(head, "head")
    feats = as_array(val_features, "val_features")
    if len(head.input_shape) != 2 or head.input_shape[-1] != feats.shape[-1]:
        raise CheckFailed(f"the head takes {head.input_shape}; it should take one feature vector "
                          f"of {feats.shape[-1]} numbers: keras.Input((train_features.shape[1],))")
    _require_dog_probability(head, feats.shape[-1])
    accuracy = model_accuracy(head, feats, np.asarray(y))
    if accuracy < MIN_HEAD_ACCURACY:
        raise CheckFailed(f"the head scores {accuracy:.2f} on the validation features; it needs at least "
                          f"{MIN_HEAD_ACCURACY}. Train it longer (more epochs) or with Adam(1e-2), "
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


# Training passes compared before concluding that nothing random acts before the base: RandomFlip
# alone flips each of the check's 4 photos with probability 1/2, so two passes are identical with
# probability 1/16 (an honest answer failed that way); all of 10 with probability 16**-9.
TRAINING_PASSES = 10


@register("augmentation_inside", points=2)
def augmentation_inside(model: Any) -> None:
    """Augmentation acts on the photos before the frozen base, only when training; the base gets
    MobileNetV2's preprocessing of the raw photos at prediction time.

    Judged by behaviour on the check's own photos: what reaches the base's first convolution
    changes from one training call to the next and is exactly the preprocessed photo at
    prediction, and two predictions agree. Any layers that do this count.
    """
    require_model(model, "model")
    if len(model.input_shape) != 4 or not model.input_shape[1]:
        raise CheckFailed(f"`model` takes {model.input_shape}; it should take photos "
                          "(None, size, size, 3): augmentation needs pixels, not cached features")
    try:
        base = find_backbone(model, "model")
    except CheckFailed:
        raise CheckFailed("the pretrained base is not inside `model`; call base(x, training=False) on the "
                          "augmented, preprocessed photos") from None
    if base is model:
        raise CheckFailed("build `model` around your frozen `base` (call base(x, training=False)), so the "
                          "base stays one frozen block")
    if base.trainable_weights:
        raise CheckFailed("the base inside `model` is trainable; keep the whole base frozen")
    size = int(model.input_shape[1])
    x = photo_inputs(size)
    first = first_convolution(base)
    reference = recorded_input(model, first, x, training=True)
    if not any(not np.allclose(reference, recorded_input(model, first, x, training=True), atol=1e-4)
               for _ in range(TRAINING_PASSES - 1)):  # stops at the first pass that differs
        raise CheckFailed(f"in training mode the base receives the same pixels on each of {TRAINING_PASSES} "
                          "passes over the same photos: no augmentation acts before it. Put random layers "
                          "(e.g. RandomFlip, RandomRotation) on the photos, before the preprocessing and "
                          "the base")
    require_preprocessed_once(model, base, BACKBONE, size, "model")
    if not np.allclose(predict_outputs(model, x), predict_outputs(model, x), atol=1e-5):
        raise CheckFailed("two predictions on the same photos differ: augmentation (or dropout) is "
                          "active at prediction time; use Keras' Random* layers, which only act "
                          "when training")
    require_imagenet_backbone(base, BACKBONE, "the base inside `model`")


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
            raise CheckFailed(f"for C={c} you report {got[c]:.3f}, which is not the validation accuracy of "
                              f"LogisticRegression(C={c}, max_iter=2000) fitted on train_features and scored "
                              "on val_features: score each candidate on the validation split")
    choice = _as_choice(best_C)
    if choice != best_of(got):
        raise CheckFailed(f"`best_C` is {choice}, which is not the C with the highest validation accuracy "
                          "in your own table (on a tie, take the smallest C)")


@register("choice_recomputed", points=2)
def choice_recomputed(best_C: Any, image_size: Any) -> None:
    """Hidden, an open goal: the chosen C, refitted by the grader on its own features of the lesson's
    training photos, scores >= 0.85 on held-out test photos.

    On these features the candidates score within a few photos of each other on validation, so
    no single C is "the" answer: the exercise teaches how to choose (on validation, checked by
    ``03.choose_on_validation``), and this check that the choice holds on photos nobody chose on.
    """
    from sklearn.linear_model import LogisticRegression

    choice = _as_choice(best_C)
    if choice not in C_CANDIDATES:
        raise CheckFailed(f"`best_C` should be one of {list(C_CANDIDATES)}, got {choice}")
    f_train, y_train, f_test, y_test = choice_features(require_image_size(image_size))
    accuracy = float(LogisticRegression(C=choice, max_iter=2000).fit(f_train, y_train).score(f_test, y_test))
    if accuracy < MIN_CHOICE_TEST_ACCURACY:
        raise CheckFailed(f"refitted on the lesson's training photos, C={choice} scores {accuracy:.2f} on "
                          f"{len(y_test)} held-out test photos (needed: at least {MIN_CHOICE_TEST_ACCURACY})")


def choice_features(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The check's own MobileNetV2 features of the lesson's training photos and of held-out test photos."""
    from course_utils import datasets, features, profiles

    base = _reference_base(size)
    per_class = profiles.get_profile().train_per_class
    train = datasets.load_images("cats_and_dogs", "train", size, per_class=per_class, seed=LESSON_SEED,
                                 verbose=False)
    test = held_out_images("cats_and_dogs", size, per_class=TEST_PER_CLASS, split="test")
    f_train, f_test = (features.extract_features(base, d.x, preprocess=BACKBONE, verbose=False)
                       for d in (train, test))
    return f_train, train.y, f_test, test.y
