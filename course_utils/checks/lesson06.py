"""Checks for lesson 06 (overfitting): a remedy chosen on validation, early stopping, a regularised
head, unfreezing the top layers.

Keras is imported inside the check functions only, so ``check()`` stays cheap to import.
The checks compute features with their own ImageNet MobileNetV2 of photos they load themselves
(held-out test photos for the head, which must beat the majority-class baseline there), train
exercise 1's remedies themselves (the visible check one seed each, the hidden one all), and
try the student's ``unfreeze_top`` only on the untrained MobileNetV2 0.35 the lesson builds,
verified layer by layer.

Exercise 1 is decisive by design: a head on MobileNetV2's whole feature map (no pooling) has far
more weights than the 40 training photos, so it memorises them with or without a remedy (every
remedy scores 100% on the training photos), while on validation the remedies with dropout beat
the others by a clear margin. Choosing on the training features therefore picks a loser.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from course_utils.checks.common import (
    OutputKind,
    feature_inputs,
    majority_accuracy,
    model_accuracy,
    output_kind,
    predict_outputs,
    require_image_size,
    require_model,
    require_same_architecture,
)
from course_utils.checks.held_out import HeldOutImages
from course_utils.checks.registry import CheckFailed, lesson_checks

register = lesson_checks(__name__)
# What the hidden checks score on: hidden from the student's kernel (checks/held_out.py).
HELD_OUT_DATA = (HeldOutImages("hymenoptera"),)

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
REMEDY_EPOCHS = 50
REMEDY_MARGIN = 0.05       # a remedy this close to the best mean validation accuracy is as good a choice
SCORE_TOLERANCE = 0.014    # one validation photo in 76: the last digits of training may differ by process
LESSON_SEED = 42


def train_remedy(f_train: np.ndarray, y_train: np.ndarray, kwargs: dict, seed: int) -> Any:
    """Exercise 1's recipe: lesson 06's head on the flattened feature map, ``REMEDY_EPOCHS`` full-batch
    steps from ``seed`` (the exercise's ``train_head``)."""
    from course_utils import seeds as seeding
    from course_utils.taught.overfitting import make_head, one_batch

    seeding.seed_everything(seed)
    head = make_head(f_train.shape[1], **kwargs)
    head.fit(one_batch(f_train, y_train).repeat(REMEDY_EPOCHS), epochs=1, shuffle=False, verbose=0)
    return head


def validation_accuracy(head: Any, f_val: np.ndarray, y_val: np.ndarray) -> float:
    """Accuracy of a trained remedy head on validation features (P(bee) > 0.5 means bee)."""
    from course_utils.taught.fine_tuning import predict_batches

    return float(np.mean((predict_batches(head, f_val)[:, 0] > 0.5) == y_val))


@functools.lru_cache(maxsize=2)
def remedy_features(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The check's own flattened MobileNetV2 feature maps of exercise 1's training and validation photos."""
    from course_utils import backbones, datasets, features

    base = backbones.load_backbone("mobilenet_v2", size, pooling=None, verbose=False)
    train = datasets.load_images("hymenoptera", "train", size, per_class=PER_CLASS, seed=LESSON_SEED,
                                 verbose=False)
    val = datasets.load_images("hymenoptera", "validation", size, seed=LESSON_SEED, verbose=False)

    def feature_map(x: np.ndarray) -> np.ndarray:
        f = features.extract_features(base, x, preprocess="mobilenet_v2", verbose=False)
        return f.reshape(len(x), -1)

    return feature_map(train.x), train.y, feature_map(val.x), val.y


@functools.lru_cache(maxsize=16)
def remedy_score(size: int, name: str, seed: int) -> float:
    """Validation accuracy of remedy ``name`` trained from ``seed`` on the check's own features."""
    f_train, y_train, f_val, y_val = remedy_features(size)
    return validation_accuracy(train_remedy(f_train, y_train, REMEDIES[name], seed), f_val, y_val)


def _choice(choice: Any) -> str:
    if choice not in REMEDIES:
        raise CheckFailed(f"`choice` should be one of {list(REMEDIES)}, got {choice!r}")
    return choice


@register("choose_remedy", points=2)
def choose_remedy(val_scores: Any, choice: Any, image_size: Any) -> None:
    """One validation accuracy per remedy and seed, the ones of the first seed recomputed here on the
    check's own features, and the choice is the best mean of them."""
    if not isinstance(val_scores, dict) or sorted(val_scores) != sorted(REMEDIES):
        raise CheckFailed(f"`val_scores` should map each remedy {list(REMEDIES)} to its validation "
                          f"accuracies, one per seed in {list(REMEDY_SEEDS)}")
    try:
        scores = {k: [float(v) for v in values] for k, values in val_scores.items()}
    except (TypeError, ValueError) as error:
        raise CheckFailed("the values of `val_scores` should be lists of accuracies (numbers), one per "
                          "seed") from error
    if any(len(v) != len(REMEDY_SEEDS) for v in scores.values()):
        raise CheckFailed(f"give one validation accuracy per seed in {list(REMEDY_SEEDS)} for every remedy")
    if not all(0.0 <= a <= 1.0 for v in scores.values() for a in v):
        raise CheckFailed("accuracies lie between 0 and 1")
    size = require_image_size(image_size)
    for name in REMEDIES:
        if abs(scores[name][0] - remedy_score(size, name, REMEDY_SEEDS[0])) > SCORE_TOLERANCE:
            raise CheckFailed(f"your accuracy of {name!r} with seed {REMEDY_SEEDS[0]} is not what its head "
                              "scores on the validation photos: train each head with train_head(...) on "
                              "the training feature maps and score it on f_val_map, val.y")
    means = {k: float(np.mean(v)) for k, v in scores.items()}
    if means[_choice(choice)] < max(means.values()):
        raise CheckFailed(f"`choice` is {choice!r}, which is not the remedy with the best mean validation "
                          "accuracy in your own table")


@register("remedy_recomputed", points=2)
def remedy_recomputed(choice: Any, image_size: Any) -> None:
    """Hidden: the grader trains every remedy on every seed itself (its own base and photos); the
    choice must be within ``REMEDY_MARGIN`` of the best mean validation accuracy."""
    name = _choice(choice)
    size = require_image_size(image_size)
    means = {k: float(np.mean([remedy_score(size, k, seed) for seed in REMEDY_SEEDS])) for k in REMEDIES}
    if means[name] < max(means.values()) - REMEDY_MARGIN:
        raise CheckFailed(f"trained and scored on the validation photos by the grader, {name!r} is clearly "
                          "behind the best remedy: choose by the mean validation accuracy")


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
        raise CheckFailed(f"monitor='{monitor}' watches the training data, which keeps improving while "
                          "the head memorises it; watch the loss on the validation data")
    if not config.get("restore_best_weights"):
        raise CheckFailed("your callback leaves you the weights of the LAST epoch, which are already past "
                          "the best ones; EarlyStopping can give you back the best ones")
    patience = config.get("patience", 0)
    if not isinstance(patience, int) or patience < 2:
        raise CheckFailed(f"patience={patience!r}: validation curves are noisy with few images; wait "
                          "several epochs without improvement before stopping")


@register("head_regularised", points=2)
def head_regularised(head: Any) -> None:
    """The head is regularised, judged by what it does on the check's own features: its training-mode
    outputs are random (dropout, noise) or it adds a penalty to the loss (weight decay); and it
    outputs one probability per photo."""
    import keras

    require_model(head, "head")
    x = feature_inputs(head.input_shape[-1], n=16)
    outputs = predict_outputs(head, x)
    if outputs.shape[1] != 1 or output_kind(outputs) is not OutputKind.PROBABILITY:
        raise CheckFailed("ants vs bees is binary: the head should output one probability per photo (a "
                          "sigmoid unit)")
    noisy = not np.allclose(np.asarray(head(x, training=True)), np.asarray(head(x, training=True)))
    penalty = float(sum(float(keras.ops.convert_to_numpy(loss)) for loss in head.losses))
    if not noisy and penalty <= 0.0:
        raise CheckFailed("your head is not regularised: in training mode it gives the same outputs twice "
                          "(no dropout or noise) and adds no penalty to the loss (no weight decay); add "
                          "keras.layers.Dropout or a kernel_regularizer")


@register("head_generalises", points=2)
def head_generalises(head: Any, image_size: Any) -> None:
    """Hidden: the head on the held-out test photos (never seen), features recomputed here >= 0.70."""
    from course_utils import backbones, datasets, features

    require_model(head, "head")
    size = require_image_size(image_size)
    base = backbones.load_backbone("mobilenet_v2", size, pooling="avg", verbose=False)
    test = datasets.load_images("hymenoptera", "test", size, seed=42, verbose=False)
    f = features.extract_features(base, test.x, preprocess="mobilenet_v2", verbose=False)
    acc = model_accuracy(head, f, test.y)
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
            raise CheckFailed(f"layer '{layer.name}' has trainable={layer.trainable}: {why}. The top n "
                              "layers train, every layer below them is frozen, and so is every "
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
