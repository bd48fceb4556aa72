"""Lesson 05's checks on learners' answers: right ones written differently from the solution earn
full points, plausible mistakes lose theirs (a threshold of 0.01 among them)."""

from __future__ import annotations

import numpy as np
import pytest
from checks_support import fails, full, run

from course_utils.checks import lesson05
from course_utils.exercise_data.data_bias import rare_digit_classifier, rare_digit_data

# --- Exercise 1: group weights ---------------------------------------------------------------------


def group_weights_bincount(groups):
    """Right, written another way: bincount over the group ids, then the mean-1 rescaling."""
    groups = np.asarray(groups)
    _, inverse = np.unique(groups, return_inverse=True)
    counts = np.bincount(inverse)
    w = 1.0 / counts[inverse]
    return w / w.mean()


def inverse_counts(groups):
    """Mistake: 1 / count, not rescaled to mean 1."""
    groups = np.asarray(groups)
    return np.array([1.0 / np.sum(groups == g) for g in groups])


def share_of_group(groups):
    """Mistake: the group's share (large groups get large weights)."""
    groups = np.asarray(groups)
    return np.array([np.mean(groups == g) for g in groups]) * len(set(groups.tolist()))


def test_group_weights_accept_another_way_and_reject_mistakes():
    visible, hidden = np.array([0, 0, 0, 1]), lesson05.HIDDEN_GROUPS
    assert full(run("05.group_weights", weights=group_weights_bincount(visible)))
    assert full(run("05.group_weights_hidden", weights=group_weights_bincount(hidden)))
    assert fails(run("05.group_weights", weights=inverse_counts(visible)), "average 1")
    assert fails(run("05.group_weights_hidden", weights=share_of_group(hidden)), "same total weight")


# --- Exercise 2: the debiased model --------------------------------------------------------------------

def synthetic_env(seed: int, color_flip: float) -> dict[str, np.ndarray]:
    """A Colored MNIST environment built from "digits" whose shape is one bright corner: top left
    for digits below 5, bottom right otherwise."""
    from course_utils.methods import bias

    rng = np.random.default_rng(seed)
    digit = rng.integers(0, 10, 400)
    images = np.zeros((400, 28, 28), dtype="uint8")
    images[digit < 5, :8, :8] = 255
    images[digit >= 5, -8:, -8:] = 255
    return bias.colored_mnist(images, digit, color_flip=color_flip, seed=seed)


def linear_model(kernel: np.ndarray):
    import keras

    model = keras.Sequential([keras.Input((14, 14, 2)), keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.layers[-1].set_weights([kernel.reshape(-1, 1), np.zeros(1)])
    return model


def shape_reader():
    """Right, and not trained the lesson's way: a model that reads the shape in both channels."""
    kernel = np.zeros((14, 14, 2))
    kernel[:4, :4, :] = 1.0
    kernel[-4:, -4:, :] = -1.0
    return linear_model(kernel)


def colour_reader():
    """Mistake (plain ERM): a model that reads the colour."""
    kernel = np.zeros((14, 14, 2))
    kernel[..., 0], kernel[..., 1] = -1.0, 1.0
    return linear_model(kernel)


def test_debiased_checks_judge_what_the_model_reads(monkeypatch):
    pytest.importorskip("keras")
    monkeypatch.setattr(lesson05, "hidden_environment", lambda: synthetic_env(2024, 0.9))
    test_env = synthetic_env(3, 0.9)
    assert full(run("05.debiased_colored_mnist", model=shape_reader(), x=test_env["x"], y=test_env["y"]))
    assert full(run("05.debiased_hidden", model=shape_reader()))
    assert fails(run("05.debiased_colored_mnist", model=colour_reader(), x=test_env["x"], y=test_env["y"]),
                 "colour")
    assert fails(run("05.debiased_hidden", model=colour_reader()), "colour")


# --- Exercise 3: class weights ---------------------------------------------------------------------------

def test_class_weights_accept_sklearn_and_reject_mistakes():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0] * 12 + [1] * 108)
    balanced = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
    assert full(run("05.class_weights", class_weight={"0": balanced[0], "1": balanced[1]}, y=y))
    shares = {0: 12 / 120, 1: 108 / 120}                        # the class shares: rare class light
    assert fails(run("05.class_weights", class_weight=shares, y=y), "rare class")
    unscaled = {0: 1 / 12, 1: 1 / 108}                           # equal totals, not averaging 1
    assert fails(run("05.class_weights", class_weight=unscaled, y=y), "average")


# --- Exercise 4: the threshold -------------------------------------------------------------------------

def pick_vectorised(p, y, min_recall):
    """Right, written another way: every threshold at once, then a lexicographic choice."""
    p, y = np.asarray(p), np.asarray(y).astype(bool)
    t = lesson05.THRESHOLDS
    flagged = p[None, :] >= t[:, None]
    hits = (flagged & y[None, :]).sum(axis=1)
    precision = hits / np.maximum(flagged.sum(axis=1), 1)
    recall = hits / max(y.sum(), 1)
    ok = np.flatnonzero(recall >= min_recall)
    if not len(ok):
        return None
    best = max(ok, key=lambda i: (precision[i], t[i]))
    return float(t[best])


def pick_strictly_greater(p, y, min_recall):
    """Mistake: positive when p > t."""
    p, y = np.asarray(p), np.asarray(y)
    best, best_precision = None, -1.0
    for t in lesson05.THRESHOLDS:
        hits = np.sum((p > t) & (y == 1))
        precision, recall = hits / max(np.sum(p > t), 1), hits / max(np.sum(y == 1), 1)
        if recall >= min_recall and precision >= best_precision:
            best, best_precision = float(t), precision
    return best


def pick_best_recall(p, y, min_recall):
    """Mistake: the threshold with the highest recall (the lowest one)."""
    return float(lesson05.THRESHOLDS[0])


@pytest.fixture(scope="module")
def validation():
    data = rare_digit_data()
    return rare_digit_classifier(data).predict_proba(data["x_val"])[:, 1], data["y_val"]


def test_pick_threshold_accepts_another_way_of_writing_it(validation):
    p, y = validation
    assert full(run("05.pick_threshold", threshold=pick_vectorised(p, y, 0.95)))
    answers = [pick_vectorised(p_, y_, r) for p_, y_, r in lesson05.unseen_threshold_cases()]
    assert full(run("05.pick_threshold_unseen", answers=answers))
    assert full(run("05.threshold_on_test", threshold=pick_vectorised(p, y, 0.95)))


@pytest.mark.parametrize("mistake", [pick_strictly_greater, pick_best_recall])
def test_pick_threshold_mistakes(validation, mistake):
    p, y = validation
    answers = [mistake(p_, y_, r) for p_, y_, r in lesson05.unseen_threshold_cases()]
    assert fails(run("05.pick_threshold_unseen", answers=answers))
    if mistake(p, y, 0.95) != pick_vectorised(p, y, 0.95):
        assert fails(run("05.pick_threshold", threshold=mistake(p, y, 0.95)))


def test_threshold_on_test_judges_precision_too(validation):
    """0.01 finds every 7 by calling most digits a 7 (the issue's case); a threshold tuned on the
    test digits looks good there but breaks the recall on validation."""
    assert fails(run("05.threshold_on_test", threshold=0.01), "only")
    x_test, y_test = lesson05._test_digits()
    p_test = rare_digit_classifier(rare_digit_data()).predict_proba(x_test)[:, 1]
    on_test = lesson05.reference_threshold(p_test, y_test, 0.95)
    assert fails(run("05.threshold_on_test", threshold=on_test), "validation")


def test_pick_threshold_ignores_the_learners_probabilities(validation):
    """The visible check computes the probabilities itself: a threshold right for other numbers fails."""
    p, y = validation
    shifted = np.clip(p + 0.2, 0, 1)
    assert fails(run("05.pick_threshold", threshold=pick_vectorised(shifted, y, 0.95)))
