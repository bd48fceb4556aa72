"""Checks for lesson 01 (what is transfer learning): frozen base, head, pretrained vs scratch.

Keras is imported inside the check functions only, so ``check()`` stays cheap to import.
The base must be MobileNetV2 with its ImageNet weights; the hidden checks judge the
student's model on photos they load themselves, against a scratch CNN they train
themselves (the lesson's recipe), never on the student's validation set or baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.grading.checks.common import (
    BINARY_LOSSES,
    CATEGORICAL_LOSSES,
    activation_name,
    held_out_images,
    loss_name,
    model_accuracy,
    require_imagenet_backbone,
    require_model,
)
from course_utils.grading.registry import CheckFailed, CheckResult, register_check

MIN_GAIN = 0.1
BACKBONE = "mobilenet_v2"
FEATURES = 1280  # MobileNetV2's pooled feature vector
LESSON_SEED = 42  # the lesson's SEED: the scratch baseline is trained as the lesson trains it


def scratch_baseline(image_size: int) -> Any:
    """The lesson's scratch CNN, trained here on the lesson's training photos (the check's own baseline)."""
    import keras

    from course_utils import datasets, profiles, seeds

    profile = profiles.get_profile()
    train = datasets.load_images("cats_and_dogs", "train", image_size, per_class=profile.train_per_class,
                                 seed=LESSON_SEED, verbose=False)
    seeds.seed_everything(LESSON_SEED)
    scratch = keras.Sequential([
        keras.Input((image_size, image_size, 3)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    scratch.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    scratch.fit(train.x, train.y, epochs=profile.epochs, batch_size=32, verbose=0)
    return scratch


def _photo_size(model: Any, name: str) -> int:
    """The square RGB input size of ``model``, or a hint."""
    shape = model.input_shape
    if len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or shape[3] != 3:
        raise CheckFailed(f"`{name}` should take square RGB photos (None, size, size, 3), got {shape}")
    return int(shape[1])


def _require_frozen_pretrained(model: Any, name: str) -> None:
    """``model`` holds the genuine ImageNet MobileNetV2, frozen."""
    base = require_imagenet_backbone(model, BACKBONE, name)
    if base.trainable_weights:
        raise CheckFailed(f"the base inside `{name}` is trainable; set base.trainable = False")
@register_check("01.frozen_base", points=2)
def frozen_base(base: Any) -> None:
    """The pretrained base model is frozen: no trainable layers or weights."""
    require_model(base, "base")
    trainable_layers = [layer for layer in base.layers if layer.trainable and layer.weights]
    trainable_weights = len(base.trainable_weights)
    if trainable_layers or trainable_weights:
        raise CheckFailed(
            f"your base model has {len(trainable_layers)} trainable layers "
            f"({trainable_weights} trainable weight tensors); freeze it with "
            "base.trainable = False before building and compiling the head"
        )
    require_imagenet_backbone(base, BACKBONE, "base")


@register_check("01.head_output", points=2)
def head_output(head: Any) -> CheckResult | None:
    """The classifier takes MobileNetV2's features, ends in 1 sigmoid or 2 softmax units, matching loss."""
    require_model(head, "head")
    if len(head.input_shape) != 2 or head.input_shape[-1] != FEATURES:
        raise CheckFailed(f"the head takes {head.input_shape}; it classifies the base's feature vectors: "
                          f"keras.Input(({FEATURES},)), i.e. keras.Input((train_features.shape[1],))")
    last = head.layers[-1]
    units = head.outputs[0].shape[-1] if head.outputs else None
    activation = activation_name(last)
    loss, from_logits = loss_name(head)
    if units == 1:
        if activation != "sigmoid" and not (activation == "linear" and from_logits):
            raise CheckFailed(
                f"the last layer has 1 unit with '{activation}' activation; for a binary "
                "classifier use Dense(1, activation='sigmoid')"
            )
        if loss is not None and loss not in BINARY_LOSSES:
            raise CheckFailed(
                f"one sigmoid output goes with loss='binary_crossentropy', not '{loss}'"
            )
    elif units == 2:
        if activation != "softmax" and not (activation == "linear" and from_logits):
            raise CheckFailed(
                f"the last layer has 2 units with '{activation}' activation; use "
                "Dense(2, activation='softmax') (or Dense(1, activation='sigmoid'))"
            )
        if loss is not None and loss not in CATEGORICAL_LOSSES:
            raise CheckFailed(
                f"two softmax outputs go with loss='sparse_categorical_crossentropy' "
                f"(integer labels), not '{loss}'"
            )
    else:
        raise CheckFailed(
            f"the model outputs {units} values per image; cats vs dogs needs "
            "Dense(1, activation='sigmoid') as the last layer"
        )
    if loss is None:
        return CheckResult(1, "the head is not compiled yet: call head.compile(loss=..., ...)")
    return None


@register_check("01.beats_scratch", points=1)
def beats_scratch(pretrained_acc: Any, scratch_acc: Any) -> None:
    """Reported accuracies: the pretrained model beats the scratch CNN by >= 0.1."""
    values = {"pretrained_acc": pretrained_acc, "scratch_acc": scratch_acc}
    for name, value in values.items():
        try:
            number = float(np.asarray(value))
        except (TypeError, ValueError) as error:
            raise CheckFailed(f"`{name}` should be a number between 0 and 1") from error
        if not 0.0 <= number <= 1.0:
            raise CheckFailed(f"`{name}` should be an accuracy between 0 and 1, got {number}")
    gain = float(np.asarray(pretrained_acc)) - float(np.asarray(scratch_acc))
    if gain < MIN_GAIN:
        raise CheckFailed(
            f"the pretrained model is only {gain:+.2f} better than the scratch CNN; "
            f"expected at least +{MIN_GAIN}. Is the base frozen and are the images "
            "preprocessed with the base model's preprocess_input?"
        )


@register_check("01.beats_scratch_recomputed", points=2)
def beats_scratch_recomputed(pretrained: Any) -> None:
    """Hidden: on its own photos, the student's model beats a scratch CNN the check trains itself."""
    require_model(pretrained, "pretrained")
    size = _photo_size(pretrained, "pretrained")
    _require_frozen_pretrained(pretrained, "pretrained")
    photos = held_out_images("cats_and_dogs", size)
    pretrained_acc = model_accuracy(pretrained, photos.x.astype("float32"), photos.y)
    scratch_acc = model_accuracy(scratch_baseline(size), photos.x.astype("float32"), photos.y)
    if pretrained_acc - scratch_acc < MIN_GAIN:
        raise CheckFailed(
            f"on {len(photos.y)} unseen validation photos your pretrained model scores "
            f"{pretrained_acc:.2f} and the lesson's scratch CNN (trained by the check) "
            f"{scratch_acc:.2f}; expected a gain of at least {MIN_GAIN}"
        )


@register_check("01.end_to_end_accuracy", points=2)
def end_to_end_accuracy(pretrained: Any) -> None:
    """Hidden: the raw-pixel model, on the frozen ImageNet base, classifies unseen photos >= 0.8."""
    require_model(pretrained, "pretrained")
    size = _photo_size(pretrained, "pretrained")
    _require_frozen_pretrained(pretrained, "pretrained")
    photos = held_out_images("cats_and_dogs", size)
    accuracy = model_accuracy(pretrained, photos.x.astype("float32"), photos.y)
    if accuracy < 0.8:
        raise CheckFailed(
            f"on 40 unseen validation photos (raw 0-255 pixels) your model scores {accuracy:.2f}; "
            "expected >= 0.80. Does it preprocess inside (Rescaling(1/127.5, offset=-1)) before "
            "the frozen base, and end with your trained head?"
        )
