"""Checks for lesson 05 (data bias): group weights, a debiased Colored MNIST model, class weights.

Keras is imported inside the check functions only, so ``check()`` stays cheap to import.
No pretrained base here. The hidden checks use their own groups and their own test
environment, and the model must beat that environment's majority-class baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.checks.common import majority_accuracy, model_accuracy, require_model
from course_utils.checks.registry import CheckFailed, lesson_checks
from course_utils.exercise_data.data_bias import RARE_DIGIT, rare_digit_classifier, rare_digit_data

register = lesson_checks(__name__)

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


@register("group_weights", points=2)
def group_weights_check(weights: Any) -> None:
    """The weights for groups [0, 0, 0, 1]: equal totals per group, mean 1 (= [2/3]*3 + [2])."""
    _compare_group_weights(weights, np.array([0, 0, 0, 1]), "weights")


@register("group_weights_hidden", points=1)
def group_weights_hidden(weights: Any) -> None:
    """Hidden: the student's function on unseen groups (see ``HIDDEN_GROUPS``)."""
    _compare_group_weights(weights, HIDDEN_GROUPS, "my_group_weights(...)")


@register("debiased_colored_mnist", points=2)
def debiased_colored_mnist(model: Any, x: Any, y: Any) -> None:
    """The debiased model scores >= 0.55 on the Colored MNIST test environment."""
    require_model(model, "debiased")
    acc = model_accuracy(model, np.asarray(x, dtype="float32"), np.asarray(y))
    if acc < MIN_TEST_ACC:
        raise CheckFailed(
            f"test accuracy {acc:.2f} < {MIN_TEST_ACC}: the model still follows the colour. Train with "
            "sample_weight=group weights of (label, colour), L2 weight decay, and EarlyStopping on "
            "the reweighted validation set with restore_best_weights=True")


@register("debiased_hidden", points=2)
def debiased_hidden(model: Any) -> None:
    """Hidden: a test environment of digits the exercise never loads (colour flipped 90%).

    The model must score >= 0.55 and beat always predicting that environment's majority label.
    """
    from course_utils import datasets
    from course_utils.methods import bias

    require_model(model, "debiased")
    mnist = datasets.load_arrays("mnist")
    env = bias.colored_mnist(mnist["x_test"][5000:], mnist["y_test"][5000:], color_flip=0.9, seed=2024)
    acc = model_accuracy(model, env["x"], env["y"])
    floor = max(MIN_TEST_ACC, majority_accuracy(env["y"]) + MIN_GAIN_OVER_MAJORITY)
    if acc < floor:
        raise CheckFailed(f"on colour-flipped digits you never saw your model scores {acc:.2f} "
                          f"(< {floor:.2f}; always guessing the commoner label scores "
                          f"{majority_accuracy(env['y']):.2f}): it relies on the colour")


@register("class_weights", points=2)
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


THRESHOLDS = np.round(np.arange(0.01, 1.0, 0.01), 2)
MIN_RECALL = 0.95
MIN_TEST_RECALL = 0.95


def precision_recall_at(p: np.ndarray, y: np.ndarray, threshold: float) -> tuple[float, float]:
    """Precision and recall of the positive class when ``p >= threshold`` counts as positive."""
    predicted = p >= threshold
    true_positives = float(np.sum(predicted & (y == 1)))
    precision = true_positives / max(float(np.sum(predicted)), 1.0)
    recall = true_positives / max(float(np.sum(y == 1)), 1.0)
    return precision, recall


def reference_threshold(p: Any, y: Any, min_recall: float) -> float | None:
    """The threshold of ``THRESHOLDS`` with the best precision among those keeping recall >=
    ``min_recall`` (ties: the highest threshold); None when no threshold keeps that recall."""
    p, y = np.asarray(p, dtype="float64").reshape(-1), np.asarray(y).reshape(-1).astype(int)
    best, best_precision = None, -1.0
    for t in THRESHOLDS:
        precision, recall = precision_recall_at(p, y, t)
        if recall >= min_recall and precision >= best_precision:
            best, best_precision = float(t), precision
    return best


def _test_digits() -> tuple[np.ndarray, np.ndarray]:
    """Official MNIST test digits the exercise never loads, flattened, labelled "is it a 7?"."""
    from course_utils import datasets

    mnist = datasets.load_arrays("mnist")
    x_test = mnist["x_test"][5000:7000].reshape(2000, -1).astype("float32") / 255.0
    return x_test, (mnist["y_test"][5000:7000] == RARE_DIGIT).astype(int)


def unseen_threshold_cases() -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(probabilities, labels, minimum recall) cases the student's function has not seen."""
    rng = np.random.default_rng(2024)
    cases = []
    for n, positives, noise, min_recall in ((300, 30, 0.25, 0.9), (500, 100, 0.4, 0.8),
                                            (200, 10, 0.1, 1.0), (100, 50, 0.6, 0.5)):
        y = np.zeros(n, dtype=int)
        y[rng.choice(n, positives, replace=False)] = 1
        p = np.clip(0.35 * y + 0.3 + rng.normal(0, noise, n), 0, 1)
        cases.append((np.round(p, 3), y, min_recall))
    return cases


def _compare_threshold(got: Any, expected: float | None, what: str) -> None:
    if expected is None:
        if got is not None:
            raise CheckFailed(f"{what}: no threshold keeps the recall that high; return None")
        return
    try:
        value = float(got)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"{what}: expected a threshold (a number), got {got!r}") from error
    if not np.isclose(value, expected):
        raise CheckFailed(f"{what}: you chose {value:g}, expected {expected:g}. Keep the thresholds "
                          "whose recall is at least the minimum, then take the best precision (on a tie, "
                          "the highest threshold); a photo counts as positive when p >= threshold")


@register("pick_threshold", points=2)
def pick_threshold(threshold: Any, p: Any, y: Any) -> None:
    """The threshold chosen on the validation probabilities, recall >= 0.95, best precision."""
    _compare_threshold(threshold, reference_threshold(p, y, MIN_RECALL), "on the validation digits")


@register("pick_threshold_unseen", points=1)
def pick_threshold_unseen(answers: Any) -> None:
    """Hidden: the student's function on probabilities it has not seen."""
    cases = unseen_threshold_cases()
    if not isinstance(answers, list) or len(answers) != len(cases):
        raise CheckFailed(f"expected {len(cases)} answers")
    for i, (answer, (p, y, min_recall)) in enumerate(zip(answers, cases, strict=True)):
        _compare_threshold(answer, reference_threshold(p, y, min_recall), f"case {i + 1}")


@register("threshold_on_test", points=2)
def threshold_on_test(threshold: Any) -> None:
    """Hidden: the grader refits the exercise's model and checks the threshold on unseen digits."""
    try:
        t = float(threshold)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"`threshold` should be a number, got {threshold!r}") from error
    x_test, y_test = _test_digits()
    clf = rare_digit_classifier(rare_digit_data())
    precision, recall = precision_recall_at(clf.predict_proba(x_test)[:, 1], y_test, t)
    if recall < MIN_TEST_RECALL:
        raise CheckFailed(f"on {len(y_test)} digits you never saw, threshold {t:g} finds only "
                          f"{recall:.0%} of the 7s (precision {precision:.0%}); choose it on the validation "
                          f"split so that recall stays >= {MIN_RECALL:.0%} there")
