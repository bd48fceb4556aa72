"""Checks for lesson 01 (what is transfer learning): frozen base, head, raw-pixel model, a new task.

Keras is imported inside the check functions only, so ``check()`` stays cheap to import.
The base must be MobileNetV2 with its ImageNet weights; the hidden checks judge the
student's models on held-out test photos they load themselves (never the student's
validation set), against a from-scratch baseline they fit themselves (logistic regression
on raw pixels: cheap, deterministic, and not something a submission can choose or spoil).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.checks.common import (
    BINARY_LOSSES,
    CATEGORICAL_LOSSES,
    activation_name,
    find_backbone,
    flat_layers,
    held_out_images,
    loss_name,
    model_accuracy,
    require_imagenet_backbone,
    require_model,
)
from course_utils.checks.registry import CheckFailed, CheckResult, lesson_checks

register = lesson_checks(__name__)

MIN_GAIN = 0.1
MIN_TEST_ACCURACY = 0.85
MIN_NEW_TASK_ACCURACY = 0.8
NEW_TASK_CLASSES = 7  # PACS photos: dog, elephant, giraffe, guitar, horse, house, person
PIXEL_SIZE = 32
TEST_PER_CLASS = 100  # held-out test photos per class the hidden checks score on
SPARSE_LOSSES = {"sparse_categorical_crossentropy", "sparsecategoricalcrossentropy"}
BACKBONE = "mobilenet_v2"
FEATURES = 1280  # MobileNetV2's pooled feature vector


def _require_frozen_base(model: Any, name: str) -> None:
    """``model`` holds a pretrained base (a nested model with many layers), frozen."""
    if find_backbone(model, name).trainable_weights:
        raise CheckFailed(f"the base inside `{name}` is trainable; keep base.trainable = False")


def _require_frozen_pretrained(model: Any, name: str) -> None:
    """``model`` holds the genuine ImageNet MobileNetV2, frozen."""
    _require_frozen_base(model, name)
    require_imagenet_backbone(model, BACKBONE, name)


@register("frozen_base", points=2)
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


@register("head_output", points=2)
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


def _raw_photo_model(model: Any, name: str) -> int:
    """Return the square input size of a model that takes raw RGB photos, or fail with a hint."""
    require_model(model, name)
    shape = model.input_shape
    if len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or shape[3] != 3:
        raise CheckFailed(f"`{name}` should take square RGB photos (None, size, size, 3), got {shape}: "
                          "start it with keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3))")
    return int(shape[1])


def pixel_baseline(image_size: int = PIXEL_SIZE, per_class: int = 50, seed: int = 42):
    """The grader's own from-scratch baseline: logistic regression on raw pixels.

    Fitted here on ``per_class`` training photos per class shrunk to ``image_size`` px, so a
    submission can neither choose nor spoil the model it is compared with. Returns the fitted
    classifier and the function that turns photos into its input.
    """
    from PIL import Image
    from sklearn.linear_model import LogisticRegression

    from course_utils import datasets

    def pixels(x: np.ndarray) -> np.ndarray:
        small = [np.asarray(Image.fromarray(np.asarray(img, dtype="uint8")).resize((image_size,) * 2))
                 for img in x]
        return np.stack(small).reshape(len(x), -1).astype("float32") / 255.0

    train = datasets.load_images("cats_and_dogs", "train", image_size, per_class=per_class, seed=seed,
                                 verbose=False)
    clf = LogisticRegression(C=0.01, max_iter=2000).fit(pixels(train.x), train.y)
    return clf, pixels


@register("end_to_end", points=2)
def end_to_end(pretrained: Any, pretrained_acc: Any, x: Any, y: Any) -> None:
    """The raw-pixel model: photos in, one probability out, the frozen base inside, honest accuracy."""
    _raw_photo_model(pretrained, "pretrained")
    _require_frozen_base(pretrained, "pretrained")
    if pretrained.outputs[0].shape[-1] != 1:
        raise CheckFailed("`pretrained` should output one number per photo, P(dog): end with your head")
    try:
        reported = float(np.asarray(pretrained_acc))
    except (TypeError, ValueError) as error:
        raise CheckFailed("`pretrained_acc` should be a number between 0 and 1") from error
    measured = model_accuracy(pretrained, np.asarray(x, dtype="float32"), np.asarray(y))
    if abs(reported - measured) > 0.011:
        raise CheckFailed(f"`pretrained_acc` is {reported:.3f}, but the model scores {measured:.3f} on "
                          "val.x: compute it from the model's predictions on the raw validation photos")
    if measured < 0.5 + MIN_GAIN:
        raise CheckFailed(f"the model scores {measured:.2f} on the raw validation photos; does it "
                          "preprocess inside (Rescaling(1 / 127.5, offset=-1)) before the base?")
    require_imagenet_backbone(pretrained, BACKBONE, "pretrained")


@register("end_to_end_accuracy", points=2)
def end_to_end_accuracy(pretrained: Any) -> None:
    """Hidden: the raw-pixel model, on the frozen ImageNet base, on held-out test photos >= 0.85."""
    size = _raw_photo_model(pretrained, "pretrained")
    _require_frozen_pretrained(pretrained, "pretrained")
    photos = held_out_images("cats_and_dogs", size, per_class=TEST_PER_CLASS, split="test")
    accuracy = model_accuracy(pretrained, photos.x.astype("float32"), photos.y)
    if accuracy < MIN_TEST_ACCURACY:
        raise CheckFailed(
            f"on {len(photos)} held-out test photos (raw 0-255 pixels) your model scores "
            f"{accuracy:.2f}; expected >= {MIN_TEST_ACCURACY}. Does it preprocess inside "
            "(Rescaling(1 / 127.5, offset=-1)) before the frozen base, and end with your trained head?")


@register("beats_pixel_baseline", points=2)
def beats_pixel_baseline(pretrained: Any) -> None:
    """Hidden: on the test photos, the model beats the grader's own from-scratch baseline by >= 0.1."""
    size = _raw_photo_model(pretrained, "pretrained")
    _require_frozen_pretrained(pretrained, "pretrained")
    clf, pixels = pixel_baseline()
    photos = held_out_images("cats_and_dogs", size, per_class=TEST_PER_CLASS, split="test")
    baseline = float(clf.score(pixels(photos.x), photos.y))
    accuracy = model_accuracy(pretrained, photos.x.astype("float32"), photos.y)
    if accuracy - baseline < MIN_GAIN:
        raise CheckFailed(f"on {len(photos)} held-out test photos your model scores {accuracy:.2f}, a "
                          f"from-scratch pixel classifier fitted by the grader {baseline:.2f}: expected a "
                          f"gain of at least {MIN_GAIN}")


@register("new_task_model", points=2)
def new_task_model(model: Any, x: Any, y: Any) -> None:
    """Seven classes: seven softmax outputs (or logits) with a loss for integer labels."""
    _raw_photo_model(model, "objects_model")
    _require_frozen_base(model, "objects_model")
    units = model.outputs[0].shape[-1]
    activation = activation_name(flat_layers(model)[-1])
    loss, from_logits = loss_name(model)
    n = NEW_TASK_CLASSES
    if units != n:
        raise CheckFailed(f"the model outputs {units} number(s) per photo; {n} kinds of objects need "
                          f"one output per class: Dense({n}, activation='softmax')")
    if activation != "softmax" and not (activation == "linear" and from_logits):
        raise CheckFailed(f"the last layer has '{activation}' activation; {n} mutually exclusive "
                          "classes take activation='softmax' (probabilities that sum to 1)")
    if loss is None:
        raise CheckFailed("compile `objects_model` before training it")
    if loss not in SPARSE_LOSSES:
        raise CheckFailed(f"the labels are integers 0-{n - 1}, which goes with "
                          f"loss='sparse_categorical_crossentropy', not '{loss}'")
    accuracy = model_accuracy(model, np.asarray(x, dtype="float32"), np.asarray(y))
    if accuracy < MIN_NEW_TASK_ACCURACY:
        raise CheckFailed(f"the model scores {accuracy:.2f} on the validation photos (expected >= "
                          f"{MIN_NEW_TASK_ACCURACY}; chance is {1 / n:.2f}); was the head trained on the "
                          "frozen features?")
    require_imagenet_backbone(model, BACKBONE, "objects_model")


@register("new_task_unseen", points=2)
def new_task_unseen(model: Any) -> None:
    """Hidden: the seven-class model on PACS test photos (loaded here, never seen) >= 0.8."""
    from course_utils import datasets

    size = _raw_photo_model(model, "objects_model")
    _require_frozen_pretrained(model, "objects_model")
    photos = datasets.load_images("pacs", "test", size, per_class=20, seed=7, domain="photo",
                                  verbose=False)
    accuracy = model_accuracy(model, photos.x.astype("float32"), photos.y)
    if accuracy < MIN_NEW_TASK_ACCURACY:
        raise CheckFailed(f"on {len(photos)} held-out test photos your model scores {accuracy:.2f}; "
                          f"expected >= {MIN_NEW_TASK_ACCURACY}")
