"""Checks for lesson 05 (data bias): group weights, a debiased Colored MNIST model, class weights.

Keras is imported inside the check functions only, so ``check()`` stays cheap to import.
No pretrained base here. The hidden checks use their own groups and their own test
environment, and the model must beat that environment's majority-class baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.grading.checks.common import majority_accuracy, model_accuracy, require_model
from course_utils.grading.registry import CheckFailed, register_check

HIDDEN_GROUPS = np.array([2, 0, 2, 1, 2, 2, 0, 1, 2, 2, 3])
MIN_TEST_ACC = 0.55
MIN_GAIN_OVER_MAJORITY = 0.05
IMBALANCED_Y = np.array([0] * 12 + [1] * 108)  # the lesson's y_imbalanced


def _weights(value: Any, n: int, name: str) -> np.ndarray:
    """Return ``value`` as a float vector of length ``n``, or fail with a hint."""
    try:
        w = np.asarray(value, dtype="float64").reshape(-1)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"`{name}` should be a NumPy array of numbers, one weight per example") from error
    if len(w) != n:
        raise CheckFailed(f"`{name}` has {len(w)} weights for {n} examples: return one weight per example")
    return w


def _compare_group_weights(weights: Any, groups: np.ndarray, name: str) -> None:
    """Fail unless ``weights`` gives every group the same total and has mean 1."""
    w = _weights(weights, len(groups), name)
    totals = {int(g): float(w[groups == g].sum()) for g in np.unique(groups)}
    if any(not np.allclose(w[groups == g], w[groups == g][0]) for g in totals):
        raise CheckFailed("examples of the same group should get the same weight")
    if not np.allclose(list(totals.values()), list(totals.values())[0], rtol=1e-4):
        raise CheckFailed(f"each group should get the same total weight; yours: {totals}. "
                          "Use weight = n / (n_groups * count of the example's group)")
    if not np.isclose(w.mean(), 1.0, rtol=1e-4):
        raise CheckFailed(f"the weights should average 1 (so the loss keeps its scale), yours average "
                          f"{w.mean():.3f}")


@register_check("05.group_weights", points=2)
def group_weights_check(weights: Any) -> None:
    """The weights for groups [0, 0, 0, 1]: equal totals per group, mean 1 (= [2/3]*3 + [2])."""
    _compare_group_weights(weights, np.array([0, 0, 0, 1]), "weights")


@register_check("05.group_weights_hidden", points=1)
def group_weights_hidden(weights: Any) -> None:
    """Hidden: the student's function on unseen groups (see ``HIDDEN_GROUPS``)."""
    _compare_group_weights(weights, HIDDEN_GROUPS, "my_group_weights(...)")


@register_check("05.debiased_colored_mnist", points=2)
def debiased_colored_mnist(model: Any, x: Any, y: Any) -> None:
    """The debiased model scores >= 0.55 on the Colored MNIST test environment."""
    require_model(model, "debiased")
    acc = model_accuracy(model, np.asarray(x, dtype="float32"), np.asarray(y))
    if acc < MIN_TEST_ACC:
        raise CheckFailed(
            f"test accuracy {acc:.2f} < {MIN_TEST_ACC}: the model still follows the colour. Train with "
            "sample_weight=group weights of (label, colour), L2 weight decay, and EarlyStopping on "
            "the reweighted validation set with restore_best_weights=True")


@register_check("05.debiased_hidden", points=2)
def debiased_hidden(model: Any) -> None:
    """Hidden: a fresh test environment (colour flipped 90%, other noise draw) built here.

    The model must score >= 0.55 and beat always predicting that environment's majority label.
    """
    from course_utils import datasets
    from course_utils.methods import bias

    require_model(model, "debiased")
    mnist = datasets.load_arrays("mnist")
    env = bias.colored_mnist(mnist["x_test"][:4000], mnist["y_test"][:4000], color_flip=0.9, seed=2024)
    acc = model_accuracy(model, env["x"], env["y"])
    floor = max(MIN_TEST_ACC, majority_accuracy(env["y"]) + MIN_GAIN_OVER_MAJORITY)
    if acc < floor:
        raise CheckFailed(f"on a fresh colour-flipped test environment your model scores {acc:.2f} "
                          f"(< {floor:.2f}; always guessing the commoner label scores "
                          f"{majority_accuracy(env['y']):.2f}): it relies on the colour")


@register_check("05.class_weights", points=2)
def class_weights_check(class_weight: Any, y: Any) -> None:
    """A Keras ``class_weight`` dict, balanced: n / (n_classes * count) for each class of ``y``.

    ``y`` must be the lesson's labels (:data:`IMBALANCED_Y`), not an easier set.
    """
    y = np.asarray(y).reshape(-1)
    if y.shape != IMBALANCED_Y.shape or not np.array_equal(y, IMBALANCED_Y):
        raise CheckFailed("`y` should be the lesson's y_imbalanced (12 zeros, then 108 ones)")
    y = y.astype(int)
    if not isinstance(class_weight, dict):
        raise CheckFailed("`class_weight` should be a dict {class: weight}, got "
                          f"{type(class_weight).__name__}")
    try:
        cw = {int(k): float(v) for k, v in class_weight.items()}
    except (TypeError, ValueError) as error:
        raise CheckFailed("`class_weight` keys should be class ids and values numbers") from error
    classes, counts = np.unique(y, return_counts=True)
    if sorted(cw) != classes.tolist():
        raise CheckFailed(f"`class_weight` should have one entry per class {classes.tolist()}, "
                          f"has {sorted(cw)}")
    for c, n in zip(classes, counts, strict=True):
        want = len(y) / (len(classes) * n)
        if not np.isclose(cw[int(c)], want, rtol=1e-3):
            raise CheckFailed(f"class {c} ({n} of {len(y)} examples) should weigh {want:.3f}, not "
                              f"{cw[int(c)]:.3f}: the rare class gets the large weight")
