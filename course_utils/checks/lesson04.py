"""Checks for lesson 04 (fine-tuning): the unfrozen top, BatchNormalization, logits and loss.

Keras is imported inside the check functions only, so ``check()`` stays cheap to import.
The base inside the model must be MobileNetV2 whose frozen layers still hold the ImageNet
weights (only the unfrozen top may have been trained); accuracy is measured on photos the
check loads itself.
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np

from course_utils.checks.common import (
    LossReading,
    OutputKind,
    batchnorm_layers,
    compiled_loss,
    feature_inputs,
    held_out_images,
    is_backbone,
    loss_reading,
    model_accuracy,
    output_kind,
    photo_inputs,
    predict_outputs,
    require_backbone_drives_predictions,
    require_imagenet_backbone,
    require_matching_loss,
    require_model,
    require_preprocessed_once,
)
from course_utils.checks.held_out import HeldOutImages
from course_utils.checks.registry import CheckFailed, lesson_checks
from course_utils.exercise_data.fine_tuning import pairing_head, suspect_heads

register = lesson_checks(__name__)
# What the hidden checks score on: hidden from the student's kernel (checks/held_out.py).
HELD_OUT_DATA = (HeldOutImages("cats_and_dogs"),)

MAX_FINE_TUNE_LR = 1e-4
MIN_FINE_TUNED_ACCURACY = 0.85
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
    size = int(model.input_shape[1])
    outputs = predict_outputs(model, photo_inputs(size))
    if outputs.shape[1] != 1:
        raise CheckFailed(f"`model` outputs {outputs.shape[1]} numbers per photo; it ends with the head, "
                          "one output per photo")
    require_matching_loss(model, "model", output_kind(outputs), 1)
    require_preprocessed_once(model, base, BACKBONE, size, "model")
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
    require_backbone_drives_predictions(model, photos.x, BACKBONE, "model")
    accuracy = model_accuracy(model, photos.x.astype("float32"), photos.y)
    if accuracy < MIN_FINE_TUNED_ACCURACY:
        raise CheckFailed(f"on {len(photos)} held-out test photos the fine-tuned model scores "
                          f"{accuracy:.2f} (needed: at least {MIN_FINE_TUNED_ACCURACY}). Is the learning "
                          "rate low, the head trained first, and BatchNormalization frozen?")


@register("logits_loss", points=2)
def logits_loss(logit_head: Any) -> None:
    """The head outputs logits (its outputs are not probabilities) and its compiled loss reads them as
    logits: judged on the check's own feature vectors and on fixed (label, logit) pairs."""
    require_model(logit_head, "logit_head")
    outputs = predict_outputs(logit_head, 10.0 * feature_inputs(logit_head.input_shape[-1]))
    if outputs.shape[1] != 1:
        raise CheckFailed("the head should end in Dense(1): one logit per photo")
    if output_kind(outputs) is not OutputKind.SCORES:
        raise CheckFailed("`logit_head` outputs probabilities (every output lies in [0, 1]); this exercise's "
                          "head outputs logits: keep its last layer Dense(1) with no activation")
    if compiled_loss(logit_head, "logit_head") is None:
        raise CheckFailed("compile `logit_head` with a loss")
    require_matching_loss(logit_head, "logit_head", OutputKind.SCORES, 1)


class Pairing(enum.StrEnum):
    """The three diagnoses of exercise 2, and what they mean."""

    OK = "ok"                                        # probabilities with from_logits=False, logits with True
    DOUBLE_SIGMOID = "double sigmoid"                # a sigmoid output read as logits
    LOGITS_AS_PROBABILITIES = "logits read as probabilities"


PAIRING_ANSWERS = tuple(p.value for p in Pairing)


def reference_pairing(model: Any) -> Pairing:
    """The diagnosis of a one-output head, from what it does: does it output probabilities (on the
    check's own inputs), and does its loss read its outputs as logits (on fixed pairs)?"""
    outputs = predict_outputs(model, 10.0 * feature_inputs(model.input_shape[-1]))
    probabilities = output_kind(outputs) is not OutputKind.SCORES
    loss = compiled_loss(model, "head")
    reads_logits = loss is not None and loss_reading(loss, 1) is LossReading.LOGITS
    if probabilities:
        return Pairing.DOUBLE_SIGMOID if reads_logits else Pairing.OK
    return Pairing.OK if reads_logits else Pairing.LOGITS_AS_PROBABILITIES


def unseen_pairing_heads() -> list[Any]:
    """Heads the student's function has not seen: separate Activation layers, loss objects."""
    return [pairing_head("sigmoid", False, hidden=2, style="separate"),
            pairing_head("sigmoid", True, style="separate"),
            pairing_head("linear", False, hidden=2),
            pairing_head("linear", True, style="separate"),
            pairing_head("sigmoid", None, hidden=1, style="separate")]


def _compare_pairings(answers: Any, heads: list[Any], where: str) -> None:
    if not isinstance(answers, list) or len(answers) != len(heads):
        raise CheckFailed(f"expected {len(heads)} answers, one per head")
    for answer in answers:
        if answer not in PAIRING_ANSWERS:
            raise CheckFailed(f"answer {answer!r} is not one of {list(PAIRING_ANSWERS)}")
    wrong = sum(answer != reference_pairing(head) for answer, head in zip(answers, heads, strict=True))
    if wrong:
        raise CheckFailed(
            f"not every diagnosis of {where} is right. Does your function find what really ends each "
            "head (a separate Activation layer at the end counts; a Dense layer without activation is "
            "'linear')? Does it read from_logits from the loss (a loss given as a string means "
            "from_logits=False; a loss object has the attribute)?")


@register("pairing_problem", points=2)
def pairing_problem(answers: Any) -> None:
    """The diagnosis of the four suspect heads, in the order A, B, C, D."""
    heads = suspect_heads()
    if isinstance(answers, dict):
        answers = [answers.get(name) for name in heads]
    _compare_pairings(answers, list(heads.values()), "the four suspects")


@register("pairing_problem_unseen", points=2)
def pairing_problem_unseen(answers: Any) -> None:
    """Hidden: the student's diagnosis function on heads built differently."""
    _compare_pairings(answers, unseen_pairing_heads(), "the grader's five heads")
