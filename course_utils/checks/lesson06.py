"""Checks for lesson 06 (overfitting): early stopping, a regularised head, unfreezing the top layers.

Keras is imported inside the check functions only, so ``check()`` stays cheap to import.
The hidden checks compute features with their own ImageNet MobileNetV2 of photos they load
themselves (held-out test photos for the head, which must beat the majority-class baseline
there), train exercise 1's remedies themselves, and try the student's
``unfreeze_top`` only on the untrained MobileNetV2 0.35 the lesson builds, verified layer by
layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.checks.common import (
    majority_accuracy,
    require_image_size,
    require_model,
    require_same_architecture,
)
from course_utils.checks.registry import CheckFailed, lesson_checks

register = lesson_checks(__name__)

MIN_HEAD_ACC = 0.70
MIN_GAIN_OVER_MAJORITY = 0.1
PER_CLASS = 20  # exercise 1's training photos per class (the exercise's PER_CLASS)
# Exercise 1: the remedies to choose from, as keyword arguments of lesson 06's make_head.
REMEDIES = {
    "none": {},
    "dropout 0.5": {"dropout": 0.5},
    "weight decay 1e-2": {"l2": 1e-2},
    "dropout + weight decay": {"dropout": 0.5, "l2": 1e-2},
}
REMEDY_SEEDS = (0, 1, 2)
REMEDY_EPOCHS = 100
TIE = 0.02


def remedy_scores(f_train: np.ndarray, y_train: np.ndarray, f_val: np.ndarray, y_val: np.ndarray,
                  seeds=REMEDY_SEEDS, epochs: int = REMEDY_EPOCHS) -> dict[str, float]:
    """Mean validation accuracy of each remedy over ``seeds``: lesson 06's head, full batch."""
    from course_utils import seeds as seeding
    from course_utils.taught.fine_tuning import predict_batches
    from course_utils.taught.overfitting import make_head, one_batch

    out = {}
    for name, kwargs in REMEDIES.items():
        accs = []
        for seed in seeds:
            seeding.seed_everything(seed)
            head = make_head(f_train.shape[1], **kwargs)
            head.fit(one_batch(f_train, y_train), epochs=epochs, shuffle=False, verbose=0)
            accs.append(float(np.mean((predict_batches(head, f_val)[:, 0] > 0.5) == y_val)))
        out[name] = float(np.mean(accs))
    return out


@register("choose_remedy", points=2)
def choose_remedy(val_scores: Any, choice: Any) -> None:
    """One mean validation accuracy per remedy, and the choice is the best of them."""
    if not isinstance(val_scores, dict) or sorted(val_scores) != sorted(REMEDIES):
        raise CheckFailed(f"`val_scores` should map each remedy {list(REMEDIES)} to its mean "
                          "validation accuracy")
    try:
        scores = {k: float(v) for k, v in val_scores.items()}
    except (TypeError, ValueError) as error:
        raise CheckFailed("the values of `val_scores` should be accuracies (numbers)") from error
    if not all(0.0 <= v <= 1.0 for v in scores.values()):
        raise CheckFailed(f"accuracies lie between 0 and 1; yours: {scores}")
    best = max(scores, key=scores.get)
    if choice not in REMEDIES:
        raise CheckFailed(f"`choice` should be one of {list(REMEDIES)}, got {choice!r}")
    if scores[choice] < scores[best]:
        raise CheckFailed(f"you chose {choice!r} ({scores[choice]:.3f}) but {best!r} scores "
                          f"{scores[best]:.3f} on validation: choose the best on validation")


@register("remedy_recomputed", points=2)
def remedy_recomputed(choice: Any, image_size: Any) -> None:
    """Hidden: the grader trains every remedy itself (its own base and photos); the choice must
    be among the best on validation."""
    from course_utils import backbones, datasets, features

    if choice not in REMEDIES:
        raise CheckFailed(f"`choice` should be one of {list(REMEDIES)}, got {choice!r}")
    size = require_image_size(image_size)
    base = backbones.load_backbone("mobilenet_v2", size, pooling="avg", verbose=False)
    train = datasets.load_images("hymenoptera", "train", size, per_class=PER_CLASS, seed=42,
                                 verbose=False)
    val = datasets.load_images("hymenoptera", "validation", size, seed=42, verbose=False)

    def feats(x):
        return features.extract_features(base, x, preprocess="mobilenet_v2", verbose=False)

    scores = remedy_scores(feats(train.x), train.y, feats(val.x), val.y)
    if scores[choice] < max(scores.values()) - TIE:
        table = ", ".join(f"{k}: {v:.3f}" for k, v in scores.items())
        raise CheckFailed(f"recomputed on the validation photos ({table}), {choice!r} is not among the "
                          "best: choose the remedy with the highest mean validation accuracy")


def small_base() -> Any:
    """The lesson's untrained MobileNetV2 0.35 at 96 px (its ``small_base()``), built here."""
    import keras

    return keras.applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(96, 96, 3),
                                          include_top=False)


@register("early_stopping", points=1)
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


@register("head_regularised", points=2)
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


@register("head_generalises", points=2)
def head_generalises(head: Any, image_size: Any) -> None:
    """Hidden: the head on the held-out test photos (never seen), features recomputed here >= 0.70."""
    from course_utils import backbones, datasets, features

    require_model(head, "head")
    size = require_image_size(image_size)
    base = backbones.load_backbone("mobilenet_v2", size, pooling="avg", verbose=False)
    test = datasets.load_images("hymenoptera", "test", size, seed=42, verbose=False)
    f = features.extract_features(base, test.x, preprocess="mobilenet_v2", verbose=False)
    pred = (head.predict(f, verbose=0).reshape(-1) > 0.5).astype(int)
    acc = float((pred == test.y).mean())
    floor = max(MIN_HEAD_ACC, majority_accuracy(test.y) + MIN_GAIN_OVER_MAJORITY)
    if acc < floor:
        raise CheckFailed(f"on {len(test)} held-out test photos your head scores {acc:.2f} "
                          f"(< {floor:.2f}; always guessing the commoner class scores "
                          f"{majority_accuracy(test.y):.2f}); train it on the frozen features with "
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


@register("unfreeze_top", points=2)
def unfreeze_top_check(model: Any, n: Any) -> None:
    """Only the top ``n`` layers are trainable, BatchNormalization layers excepted."""
    _check_unfrozen(model, int(n))


@register("unfreeze_top_hidden", points=1)
def unfreeze_top_hidden(model: Any) -> None:
    """Hidden: the student's function on another model and n=25 (the lesson's small base, verified)."""
    require_same_architecture(model, small_base(), "unfreeze_top(small_base(), 25)")
    _check_unfrozen(model, 25)
