"""Checks for lesson 04 (fine-tuning): the unfrozen top, BatchNormalization, logits and loss.

Keras is imported inside the check functions only, so ``check()`` stays cheap to import.
The base inside the model must be MobileNetV2 whose frozen layers still hold the ImageNet
weights (only the unfrozen top may have been trained); accuracy is measured on photos the
check loads itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.checks.common import (
    activation_name,
    batchnorm_layers,
    held_out_images,
    is_backbone,
    loss_name,
    require_imagenet_backbone,
    require_model,
)
from course_utils.checks.registry import CheckFailed, lesson_checks
from course_utils.exercise_data.fine_tuning import pairing_head, suspect_heads

register = lesson_checks(__name__)

MAX_FINE_TUNE_LR = 1e-4
MIN_FINE_TUNED_ACCURACY = 0.85
PAIRING_ANSWERS = ("ok", "double sigmoid", "logits read as probabilities")
BACKBONE = "mobilenet_v2"
TEST_PER_CLASS = 100  # held-out test photos per class the hidden check scores on


def _base_of(model: Any) -> Any:
    """Return the pretrained base nested in ``model``, or fail with a hint."""
    bases = [layer for layer in model.layers if is_backbone(layer)]
    if not bases:
        raise CheckFailed("no pretrained base inside `model`; build it as Input -> Rescaling -> "
                          "base(x, training=False) -> head")
    return bases[0]


def _require_pretrained(base: Any) -> None:
    """The base is MobileNetV2; its frozen layers hold the ImageNet weights (the top may be trained)."""
    require_imagenet_backbone(base, BACKBONE, "the base inside `model`", trained_layers_may_differ=True)


def _learning_rate(model: Any) -> float | None:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    return float(np.asarray(optimizer.learning_rate))


def _predicted_class(model: Any, x: np.ndarray) -> np.ndarray:
    """0/1 predictions of a one-unit model, reading a linear output as a logit."""
    out = np.asarray(model.predict(x, verbose=0)).reshape(-1)
    threshold = 0.0 if activation_name(model.layers[-1]) == "linear" and out.min() < 0 else 0.5
    return (out > threshold).astype(int)


@register("unfrozen_top", points=2)
def unfrozen_top(model: Any) -> None:
    """The base's top layers are trainable, its bottom and its BatchNormalization frozen, low LR."""
    require_model(model, "model")
    base = _base_of(model)
    weighted = [layer for layer in base.layers if layer.weights]
    if not weighted[-1].trainable and not any(layer.trainable for layer in weighted):
        raise CheckFailed("the base is still completely frozen; set base.trainable = True, then "
                          "freeze the layers before FINE_TUNE_FROM again")
    if weighted[0].trainable:
        raise CheckFailed("the first layers of the base are trainable; keep every layer before "
                          "FINE_TUNE_FROM frozen (layer.trainable = False)")
    convs = [layer for layer in weighted if type(layer).__name__ in ("Conv2D", "DepthwiseConv2D")]
    if not convs or not convs[-1].trainable:
        raise CheckFailed("the top of the base (its last convolution) is frozen; unfreeze the "
                          "layers from FINE_TUNE_FROM to the end")
    trainable_bn = [layer.name for layer in batchnorm_layers(base) if layer.trainable]
    if trainable_bn:
        raise CheckFailed(f"{len(trainable_bn)} BatchNormalization layers are trainable (e.g. "
                          f"{trainable_bn[0]}); keep them frozen so they stay in inference mode")
    lr = _learning_rate(model)
    if lr is None:
        raise CheckFailed("`model` is not compiled; recompile it after changing trainable")
    if lr > MAX_FINE_TUNE_LR:
        raise CheckFailed(f"learning rate {lr:g} is too high for fine-tuning: it would wreck the "
                          f"pretrained features; use <= {MAX_FINE_TUNE_LR:g}, e.g. Adam(1e-5)")
    _require_pretrained(base)


@register("bn_stays_put", points=2)
def bn_stays_put(model: Any) -> None:
    """Hidden: one training step on 4 photos leaves every BatchNormalization statistic unchanged."""
    require_model(model, "model")
    base = _base_of(model)
    if getattr(model, "optimizer", None) is None:
        raise CheckFailed("`model` is not compiled")
    _require_pretrained(base)
    norms = batchnorm_layers(base)
    before = [layer.moving_mean.numpy().copy() for layer in norms]
    size = int(model.input_shape[1])
    x = np.random.default_rng(0).uniform(0, 255, (4, size, size, 3)).astype("float32")
    model.train_on_batch(x, np.array([0, 1, 0, 1], dtype="float32").reshape(-1, 1))
    moved = [layer.name for layer, m in zip(norms, before, strict=True)
             if not np.array_equal(layer.moving_mean.numpy(), m)]
    if moved:
        raise CheckFailed(f"a training step on 4 photos changed the moving statistics of "
                          f"{len(moved)} BatchNormalization layers: they run in training mode. "
                          "Freeze them (layer.trainable = False) and call the base with training=False")


@register("fine_tuned_accuracy", points=2)
def fine_tuned_accuracy(model: Any) -> None:
    """Hidden: the fine-tuned MobileNetV2 on held-out test photos (loaded here, never seen) >= 0.85."""
    require_model(model, "model")
    shape = model.input_shape
    if len(shape) != 4 or shape[1] != shape[2] or not shape[1]:
        raise CheckFailed(f"`model` should take square photos (None, size, size, 3), got {shape}")
    _require_pretrained(_base_of(model))
    photos = held_out_images("cats_and_dogs", int(shape[1]), per_class=TEST_PER_CLASS, split="test")
    accuracy = float(np.mean(_predicted_class(model, photos.x.astype("float32")) == photos.y))
    if accuracy < MIN_FINE_TUNED_ACCURACY:
        raise CheckFailed(f"on {len(photos)} held-out test photos the fine-tuned model scores "
                          f"{accuracy:.2f}; "
                          f"expected >= {MIN_FINE_TUNED_ACCURACY}. Is the learning rate low, the "
                          "head trained first, and BatchNormalization frozen?")


@register("logits_loss", points=2)
def logits_loss(logit_head: Any) -> None:
    """A head ending in a linear unit is compiled with BinaryCrossentropy(from_logits=True)."""
    require_model(logit_head, "logit_head")
    activation = activation_name(logit_head.layers[-1])
    if logit_head.outputs[0].shape[-1] != 1:
        raise CheckFailed("the head should end in Dense(1): one logit per photo")
    if activation != "linear":
        raise CheckFailed(f"the last layer has a '{activation}' activation; this exercise's head "
                          "outputs logits: Dense(1) with no activation")
    loss, from_logits = loss_name(logit_head)
    if loss is None:
        raise CheckFailed("compile `logit_head` with a loss")
    if "binary" not in loss:
        raise CheckFailed(f"one output for two classes needs a binary cross-entropy, not '{loss}'")
    if not from_logits:
        raise CheckFailed("the head outputs logits but the loss expects probabilities: use "
                          "keras.losses.BinaryCrossentropy(from_logits=True)")


def reference_pairing(model: Any) -> str:
    """What is wrong with a one-output head's last activation and loss, as the exercise asks."""
    loss, from_logits = loss_name(model)
    activation = activation_name(model.layers[-1])
    if activation == "sigmoid":
        return "double sigmoid" if from_logits else "ok"
    return "ok" if from_logits else "logits read as probabilities"


def unseen_pairing_heads() -> list[Any]:
    """Heads the student's function has not seen: separate Activation layers, loss objects."""
    return [pairing_head("sigmoid", False, hidden=2, style="separate"),
            pairing_head("sigmoid", True, style="separate"),
            pairing_head("linear", False, hidden=2),
            pairing_head("linear", True, style="separate"),
            pairing_head("sigmoid", None, hidden=1, style="separate")]


def _compare_pairings(answers: Any, heads: list[Any]) -> None:
    if not isinstance(answers, list) or len(answers) != len(heads):
        raise CheckFailed(f"expected {len(heads)} answers, one per head")
    for i, (answer, head) in enumerate(zip(answers, heads, strict=True)):
        if answer not in PAIRING_ANSWERS:
            raise CheckFailed(f"answer {answer!r} is not one of {list(PAIRING_ANSWERS)}")
        expected = reference_pairing(head)
        if answer != expected:
            loss, from_logits = loss_name(head)
            raise CheckFailed(
                f"head {i + 1} ends in '{activation_name(head.layers[-1])}' and its loss is '{loss}' "
                f"with from_logits={from_logits}: that is {expected!r}, you said {answer!r}. Read the "
                "last layer's activation (an Activation layer counts) and the loss's from_logits "
                "(a loss given as a string means from_logits=False)")


@register("pairing_problem", points=2)
def pairing_problem(answers: Any) -> None:
    """The diagnosis of the four suspect heads, in the order A, B, C, D."""
    heads = suspect_heads()
    if isinstance(answers, dict):
        answers = [answers.get(name) for name in heads]
    _compare_pairings(answers, list(heads.values()))


@register("pairing_problem_unseen", points=2)
def pairing_problem_unseen(answers: Any) -> None:
    """Hidden: the student's diagnosis function on heads built differently."""
    _compare_pairings(answers, unseen_pairing_heads())
