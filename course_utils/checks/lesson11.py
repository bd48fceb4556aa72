"""Checks for lesson 11 (efficient fine-tuning): merging a LoRA adapter; WiSE-FT's mix, chosen on validation.

Every check judges behaviour on its own data: the merge against Keras' own LoRA layers on the
check's cases, the mix by interpolating the student's two models itself on validation photos it
loads itself (and, hidden, on fresh photos). No message states the expected value. Keras and
the datasets are imported inside the functions, so ``check()`` stays cheap to import.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from course_utils.checks.common import as_array, require_model
from course_utils.checks.held_out import HeldOutImages
from course_utils.checks.registry import CheckFailed, lesson_checks
from course_utils.exercise_data.efficient_fine_tuning import ALPHAS, FINE_TUNE_FROM, merge_case

register = lesson_checks(__name__)

VISIBLE_CASE, HIDDEN_CASE = 7, 2025   # merge_case seeds: the exercise's, and one the student never sees
FRESH_MARGIN = 0.05                    # on fresh photos the chosen mix may trail the best mix by this much
FRESH_SEED = 2024                      # the checks' own draw of fresh photos
HELD_OUT_DATA = (HeldOutImages("pacs", "test", "photo"),)   # the fresh photos: no kernel sees them


def keras_merge(kernel: np.ndarray, a: np.ndarray, b: np.ndarray, alpha: float, rank: int) -> np.ndarray:
    """The kernel Keras' own LoRA layer computes from these weights (its ``kernel`` after ``enable_lora``)."""
    import keras

    if kernel.ndim == 2:
        layer = keras.layers.Dense(kernel.shape[1], use_bias=False)
        layer.build((None, kernel.shape[0]))
    else:
        layer = keras.layers.Conv2D(kernel.shape[-1], kernel.shape[:2], use_bias=False)
        layer.build((None, 8, 8, kernel.shape[2]))
    layer.kernel.assign(kernel)
    layer.enable_lora(rank, lora_alpha=alpha)
    layer.lora_kernel_a.assign(a)
    layer.lora_kernel_b.assign(b)
    return np.asarray(layer.kernel, dtype="float64")


def _judge_merge(merged: Any, seed: int, kind: str) -> None:
    kernel, a, b, alpha, rank = merge_case(seed, kind)
    got = as_array(merged, "merged").astype("float64")
    want = keras_merge(kernel, a, b, alpha, rank)
    if got.shape != want.shape:
        raise CheckFailed(f"the merged kernel should have the frozen kernel's shape {kernel.shape}, got "
                          f"{got.shape}: A carries the kernel's leading axes, B its last one")
    if not np.all(np.isfinite(got)):
        raise CheckFailed("the merged kernel contains NaN or infinity")
    scale = np.max(np.abs(want)) + 1e-9
    close = functools.partial(np.allclose, got, atol=1e-4 * scale, rtol=1e-4)
    if close(want):
        return
    delta = np.tensordot(a, b, axes=1).astype("float64")
    if close(kernel):
        raise CheckFailed("this is the frozen kernel unchanged: the adapter's A·B is missing")
    if close(kernel + delta):
        raise CheckFailed("A·B is added unscaled: Keras scales the change by lora_alpha / rank")
    if close(kernel + rank / alpha * delta):
        raise CheckFailed("the scale is upside down: the change is multiplied by lora_alpha / rank")
    if close(alpha / rank * delta):
        raise CheckFailed("this is the change alone: merging adds it to the frozen kernel")
    raise CheckFailed("not the merged kernel: frozen kernel + (lora_alpha / rank) · (A · B), A·B over the "
                      "rank axis")


@register("merge", points=2)
def merge(merged: Any) -> None:
    """The student's merge of ``merge_case(7)`` (a Dense adapter) equals Keras' own merged kernel."""
    _judge_merge(merged, VISIBLE_CASE, "dense")


@register("merge_conv", points=1)
def merge_conv(merged: Any) -> None:
    """Hidden: the same merge on a Conv2D adapter the student has not seen (a 3×3 kernel)."""
    _judge_merge(merged, HIDDEN_CASE, "conv")


@functools.lru_cache(maxsize=4)
def _photos(image_size: int, split: str, per_class: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The check's own bottom maps and labels of PACS photos (``split``), through MobileNetV2's bottom."""
    from course_utils import datasets, features
    from course_utils.methods import efficient

    base, _, _ = efficient.imagenet_classifier(image_size, verbose=False)
    bottom, _ = efficient.split_at(base, FINE_TUNE_FROM)
    images = datasets.load_images("pacs", split, image_size, per_class=per_class, seed=seed, domain="photo",
                                  verbose=False)
    return features.extract_features(bottom, images.x, preprocess="mobilenet_v2", verbose=False), images.y


def _accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    from course_utils.methods import efficient

    return float(np.mean(efficient.predict_in_batches(model, x).argmax(1) == y))


def _mixes(probe_model: Any, tuned_model: Any) -> tuple[Any, list, list]:
    """A copy of the tuned model to load mixes into, and the two models' weights."""
    import keras

    require_model(probe_model, "probe_model")
    require_model(tuned_model, "tuned_model")
    start, end = probe_model.get_weights(), tuned_model.get_weights()
    if [w.shape for w in start] != [w.shape for w in end]:
        raise CheckFailed("`probe_model` and `tuned_model` should be the same network (the probe, and the "
                          "model fine-tuned from it)")
    return keras.models.clone_model(tuned_model), start, end


def _mix(copy: Any, start: list, end: list, alpha: float) -> Any:
    copy.set_weights([(1 - alpha) * s + alpha * e for s, e in zip(start, end, strict=True)])
    return copy


def _image_size(image_size: Any) -> int:
    try:
        size = int(image_size)
    except (TypeError, ValueError) as error:
        raise CheckFailed("`image_size` should be the photos' size in pixels") from error
    if not 64 <= size <= 224:
        raise CheckFailed("`image_size` should be the size the exercise uses")
    return size


@register("wise_choice", points=2)
def wise_choice(val_scores: Any, alpha: Any, probe_model: Any, tuned_model: Any, image_size: Any,
                per_class: Any) -> None:
    """``val_scores`` are the mixes' validation accuracies, one per ``ALPHAS``, and ``alpha`` a best one.

    The check loads the validation photos itself (the exercise's draw) and mixes the two models itself.
    """
    size = _image_size(image_size)
    try:
        scores = np.asarray(val_scores, dtype="float64").reshape(-1)
    except (TypeError, ValueError):
        scores = None
    if scores is None or len(scores) != len(ALPHAS) or not np.all(np.isfinite(scores)):
        raise CheckFailed(f"`val_scores` should list {len(ALPHAS)} accuracies, one per alpha of ALPHAS")
    try:
        chosen = float(alpha)
    except (TypeError, ValueError) as error:
        raise CheckFailed("`alpha` should be one of ALPHAS") from error
    if not any(abs(chosen - a) < 1e-9 for a in ALPHAS):
        raise CheckFailed("`alpha` should be one of ALPHAS")
    x, y = _photos(size, "validation", int(per_class), 0)
    copy, start, end = _mixes(probe_model, tuned_model)
    real = np.array([_accuracy(_mix(copy, start, end, a), x, y) for a in ALPHAS])
    wrong = [a for a, got, want in zip(ALPHAS, scores, real, strict=True) if abs(got - want) > 0.5 / len(y)]
    if wrong:
        raise CheckFailed(f"val_scores for alpha {wrong} are not those mixes' accuracies on the validation "
                          "photos: mix the weights, then score each mix on x_val / y_val (never on the test "
                          "photos: a choice made on test data makes the test score an optimistic guess)")
    if real[ALPHAS.index(min(ALPHAS, key=lambda a: abs(a - chosen)))] < real.max():
        raise CheckFailed("your alpha is not a best mix on validation: ship the alpha whose validation "
                          "accuracy is highest")


@register("wise_model", points=2)
def wise_model(mixed: Any, alpha: Any, probe_model: Any, tuned_model: Any, image_size: Any) -> None:
    """Hidden: ``mixed`` holds (1 - alpha)·probe + alpha·tuned, and holds up on fresh photos."""
    size = _image_size(image_size)
    require_model(mixed, "mixed")
    copy, start, end = _mixes(probe_model, tuned_model)
    try:
        chosen = float(alpha)
    except (TypeError, ValueError) as error:
        raise CheckFailed("`alpha` should be one of ALPHAS") from error
    got = mixed.get_weights()
    if [w.shape for w in got] != [w.shape for w in start]:
        raise CheckFailed("`mixed` should be the same network as the two models, with mixed weights")
    want = [(1 - chosen) * s + chosen * e for s, e in zip(start, end, strict=True)]
    if not all(np.allclose(g, w, atol=1e-5) for g, w in zip(got, want, strict=True)):
        swapped = [chosen * s + (1 - chosen) * e for s, e in zip(start, end, strict=True)]
        hint = ("alpha weighs the wrong end: alpha = 0 is the probe, alpha = 1 the fine-tuned model"
                if all(np.allclose(g, w, atol=1e-5) for g, w in zip(got, swapped, strict=True))
                else "every weight should be (1 - alpha) · probe + alpha · tuned")
        raise CheckFailed(f"`mixed` does not hold the mix at your alpha: {hint}")
    x, y = _photos(size, "test", None, FRESH_SEED)
    fresh = [_accuracy(_mix(copy, start, end, a), x, y) for a in ALPHAS]
    if _accuracy(mixed, x, y) < max(fresh) - FRESH_MARGIN:
        raise CheckFailed("on photos the exercise never showed you, your mix trails the best mix by more "
                          f"than {FRESH_MARGIN}: was alpha chosen on the validation photos?")
