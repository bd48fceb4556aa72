"""Checks for lesson 05 (data bias): group weights, a debiased Colored MNIST model, class weights.

Keras is imported inside the check functions only, so ``check()`` stays cheap to import.
No pretrained base here. The hidden checks use their own groups and their own test
environment, and the model must beat that environment's majority-class baseline.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from course_utils.checks.common import majority_accuracy, model_accuracy, require_model
from course_utils.checks.held_out import HeldOutRows
from course_utils.checks.registry import CheckFailed, lesson_checks
from course_utils.exercise_data.data_bias import RARE_DIGIT, rare_digit_classifier, rare_digit_data

register = lesson_checks(__name__)
# What the hidden checks score on: hidden from the student's kernel (checks/held_out.py).
HELD_OUT_DATA = (HeldOutRows("mnist", "test", 5000, None),)

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
    require_model(model, "debiased")
    env = hidden_environment()
    acc = model_accuracy(model, env["x"], env["y"])
    floor = max(MIN_TEST_ACC, majority_accuracy(env["y"]) + MIN_GAIN_OVER_MAJORITY)
    if acc < floor:
        raise CheckFailed(f"on colour-flipped digits you never saw your model scores {acc:.2f} "
                          f"(< {floor:.2f}; always guessing the commoner label scores "
                          f"{majority_accuracy(env['y']):.2f}): it relies on the colour")


def hidden_environment() -> dict[str, np.ndarray]:
    """The hidden check's Colored MNIST test environment: digits the exercise never loads, colour
    flipped for 90% of them."""
    from course_utils import datasets
    from course_utils.methods import bias

    mnist = datasets.load_arrays("mnist")
    return bias.colored_mnist(mnist["x_test"][5000:], mnist["y_test"][5000:], color_flip=0.9, seed=2024)


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
    totals = {int(c): cw[int(c)] * n for c, n in zip(classes, counts, strict=True)}
    if not np.allclose(list(totals.values()), list(totals.values())[0], rtol=1e-3):
        rare, common = int(classes[np.argmin(counts)]), int(classes[np.argmax(counts)])
        hint = ("the rare class should get the larger weight" if cw[rare] <= cw[common] else
                "weight times count is not the same for both classes")
        raise CheckFailed(f"with your weights the classes do not count equally in the loss "
                          f"(weight x count differs between them): {hint}")
    mean = float(sum(totals.values()) / len(y))
    if not np.isclose(mean, 1.0, rtol=1e-3):
        raise CheckFailed(f"both classes count equally, but the weights average {mean:.3f} over the "
                          "examples; n / (n_classes * count) keeps the average at 1 (and the loss at "
                          "its scale)")


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
    # probabilities on the thresholds' grid: "p >= t" and "p > t" differ here
    y = np.repeat([1, 0], [40, 160])
    p = np.round(np.clip(0.3 * y + 0.35 + rng.normal(0, 0.15, 200), 0, 1), 2)
    cases.append((p, y, 0.9))
    return cases


def _describe_threshold(got: Any, p: np.ndarray, y: np.ndarray, min_recall: float, what: str) -> None:
    """Fail with what is wrong with the threshold ``got`` on (p, y), never naming the right one."""
    expected = reference_threshold(p, y, min_recall)
    if expected is None:
        if got is not None:
            raise CheckFailed(f"{what}: your threshold {got!r} does not keep the recall at {min_recall:.0%}; "
                              "when no threshold does, return None")
        return
    if got is None:
        raise CheckFailed(f"{what}: your function returned None, but some threshold keeps the recall at "
                          f"{min_recall:.0%}")
    try:
        value = float(got)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"{what}: expected a threshold (a number), got {got!r}") from error
    if np.isclose(value, expected):
        return
    precision, recall = precision_recall_at(p, y, value)
    if recall < min_recall:
        problem = f"at your threshold {value:g} the recall is {recall:.1%}, below {min_recall:.0%}"
    elif not np.any(np.isclose(THRESHOLDS, value)):
        problem = f"{value:g} is not one of THRESHOLDS (0.01, 0.02, ..., 0.99)"
    else:
        problem = (f"your threshold {value:g} keeps the recall, but another threshold keeps it with a "
                   "higher precision, or with the same precision and a higher threshold")
    raise CheckFailed(f"{what}: {problem}. Keep the thresholds whose recall is at least the minimum, then "
                      "take the best precision (on a tie, the highest threshold); a digit counts as "
                      "positive when p >= threshold")


@functools.lru_cache(maxsize=1)
def validation_probabilities() -> tuple[np.ndarray, np.ndarray]:
    """The check's own run of exercise 4: the classifier refitted, its probabilities on validation."""
    data = rare_digit_data()
    return rare_digit_classifier(data).predict_proba(data["x_val"])[:, 1], data["y_val"]


@register("pick_threshold", points=2)
def pick_threshold(threshold: Any) -> None:
    """The threshold chosen on the validation digits: recall >= 0.95, best precision.

    The probabilities are the check's own (the exercise's classifier refitted on its data), so a
    threshold chosen on other numbers, or a made-up one, fails.
    """
    p, y = validation_probabilities()
    _describe_threshold(threshold, p, y, MIN_RECALL, "on the validation digits")


@register("pick_threshold_unseen", points=1)
def pick_threshold_unseen(answers: Any) -> None:
    """Hidden: the student's function on probabilities it has not seen."""
    cases = unseen_threshold_cases()
    if not isinstance(answers, list) or len(answers) != len(cases):
        raise CheckFailed(f"expected {len(cases)} answers")
    for i, (answer, (p, y, min_recall)) in enumerate(zip(answers, cases, strict=True)):
        _describe_threshold(answer, p, y, min_recall, f"case {i + 1}")


PRECISION_MARGIN = 0.05  # on unseen digits, the threshold may trail the validation choice's precision by this


@register("threshold_on_test", points=2)
def threshold_on_test(threshold: Any) -> None:
    """Hidden: the threshold keeps recall >= 0.95 on the validation digits (recomputed here), and on
    test digits the exercise never loads it finds the 7s (recall >= 0.95) without giving away
    precision: at most ``PRECISION_MARGIN`` below the threshold chosen on validation.

    Recall alone cannot judge a threshold (0.01 calls nearly every digit a 7 and finds them all);
    and a threshold tuned on the test digits looks best there, so the validation recall is
    recomputed too.
    """
    try:
        t = float(threshold)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"`threshold` should be a number, got {threshold!r}") from error
    p_val, y_val = validation_probabilities()
    _, val_recall = precision_recall_at(p_val, y_val, t)
    if val_recall < MIN_RECALL:
        raise CheckFailed(f"at threshold {t:g} the recall on the validation digits is {val_recall:.1%}, "
                          f"below {MIN_RECALL:.0%}: choose the threshold on the validation split")
    x_test, y_test = _test_digits()
    p_test = rare_digit_classifier(rare_digit_data()).predict_proba(x_test)[:, 1]
    precision, recall = precision_recall_at(p_test, y_test, t)
    reference, _ = precision_recall_at(p_test, y_test, reference_threshold(p_val, y_val, MIN_RECALL))
    if recall < MIN_TEST_RECALL:
        raise CheckFailed(f"on {len(y_test)} digits you never saw, threshold {t:g} finds only "
                          f"{recall:.0%} of the 7s; choose it on the validation split so that recall stays "
                          f">= {MIN_RECALL:.0%} there")
    if precision < reference - PRECISION_MARGIN:
        raise CheckFailed(f"on {len(y_test)} digits you never saw, threshold {t:g} finds the 7s but only "
                          f"{precision:.0%} of the digits it flags are 7s: among the thresholds that keep "
                          "the validation recall, it is not the one with the best precision")
