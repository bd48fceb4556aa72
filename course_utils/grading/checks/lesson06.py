"""Checks for lesson 06 (overfitting): early stopping, a regularised head, unfreezing the top layers.

Keras is imported inside the check functions only, so ``check()`` stays cheap to import.
The hidden checks compute features with their own ImageNet MobileNetV2 of photos they load
themselves (the head must beat the majority-class baseline there), and try the student's
``unfreeze_top`` only on the untrained MobileNetV2 0.35 the lesson builds, verified layer by
layer.
"""

from __future__ import annotations

from typing import Any

from course_utils.grading.checks.common import (
    majority_accuracy,
    require_image_size,
    require_model,
    require_same_architecture,
)
from course_utils.grading.registry import CheckFailed, register_check

MIN_HEAD_ACC = 0.70
MIN_GAIN_OVER_MAJORITY = 0.1


def small_base() -> Any:
    """The lesson's untrained MobileNetV2 0.35 at 96 px (its ``small_base()``), built here."""
    import keras

    return keras.applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(96, 96, 3),
                                          include_top=False)


@register_check("06.early_stopping", points=2)
def early_stopping(config: Any) -> None:
    """The callback watches a validation metric, waits a few epochs and restores the best weights."""
    if not isinstance(config, dict):
        raise CheckFailed("pass the callback's settings as a dict (the check cell does this for you)")
    monitor = str(config.get("monitor", ""))
    if not monitor.startswith("val_"):
        raise CheckFailed(f"monitor='{monitor}' watches the training data, which always improves; "
                          "watch the validation loss: monitor='val_loss'")
    if not config.get("restore_best_weights"):
        raise CheckFailed("without restore_best_weights=True you keep the weights of the LAST epoch, "
                          "which are already past the best ones")
    patience = config.get("patience", 0)
    if not isinstance(patience, int) or patience < 2:
        raise CheckFailed(f"patience={patience!r}: validation curves are noisy with few images; wait a "
                          "few epochs (e.g. patience=10) before stopping")


@register_check("06.head_regularised", points=2)
def head_regularised(head: Any) -> None:
    """The head uses dropout or weight decay (an L2 kernel regulariser)."""
    import keras

    require_model(head, "head")
    dropout = [lay for lay in head.layers if isinstance(lay, keras.layers.Dropout) and lay.rate > 0]
    decay = [lay for lay in head.layers if getattr(lay, "kernel_regularizer", None) is not None]
    if not dropout and not decay:
        raise CheckFailed("your head has neither Dropout (rate > 0) nor a kernel_regularizer; add "
                          "keras.layers.Dropout(0.5) or kernel_regularizer=keras.regularizers.L2(1e-2)")
    if head.outputs[0].shape[-1] != 1:
        raise CheckFailed("ants vs bees is binary: end with Dense(1, activation='sigmoid')")


@register_check("06.head_generalises", points=2)
def head_generalises(head: Any, image_size: Any) -> None:
    """Hidden: the head scores >= 0.70 on all validation photos, features recomputed here."""
    from course_utils import backbones, datasets, features

    require_model(head, "head")
    size = require_image_size(image_size)
    base = backbones.load_backbone("mobilenet_v2", size, pooling="avg", verbose=False)
    held = datasets.load_images("hymenoptera", "validation", size, seed=42, verbose=False)
    f = features.extract_features(base, backbones.preprocess("mobilenet_v2", held.x), verbose=False)
    pred = (head.predict(f, verbose=0).reshape(-1) > 0.5).astype(int)
    acc = float((pred == held.y).mean())
    floor = max(MIN_HEAD_ACC, majority_accuracy(held.y) + MIN_GAIN_OVER_MAJORITY)
    if acc < floor:
        raise CheckFailed(f"on all {len(held)} validation photos your head scores {acc:.2f} "
                          f"(< {floor:.2f}; always guessing the commoner class scores "
                          f"{majority_accuracy(held.y):.2f}); train it on the frozen features with "
                          "early stopping")


def _check_unfrozen(model: Any, n: int) -> None:
    import keras

    require_model(model, "model")
    with_weights = [lay for lay in model.layers if lay.weights]
    top = model.layers[-n:]
    for layer in model.layers:
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        want = layer in top and not is_bn
        if layer.weights and bool(layer.trainable) != want:
            where = "one of the top" if layer in top else "below the top"
            why = ("BatchNormalization layers stay frozen" if is_bn else
                   f"layers {where} {n} should be {'trainable' if want else 'frozen'}")
            raise CheckFailed(f"layer '{layer.name}' has trainable={layer.trainable}: {why}. Set "
                              "model.trainable = True, then freeze model.layers[:-n] and every "
                              "BatchNormalization layer")
    if not any(lay.trainable for lay in with_weights):
        raise CheckFailed("nothing is trainable: unfreeze the top layers")


@register_check("06.unfreeze_top", points=2)
def unfreeze_top_check(model: Any, n: Any) -> None:
    """Only the top ``n`` layers are trainable, BatchNormalization layers excepted."""
    _check_unfrozen(model, int(n))


@register_check("06.unfreeze_top_hidden", points=1)
def unfreeze_top_hidden(model: Any) -> None:
    """Hidden: the student's function on another model and n=25 (the lesson's small base, verified)."""
    require_same_architecture(model, small_base(), "unfreeze_top(small_base(), 25)")
    _check_unfrozen(model, 25)
