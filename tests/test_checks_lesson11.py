"""Tests for lesson 11 checks: merging a LoRA adapter, and WiSE-FT's mix chosen on validation.

Each graded check gets a correct answer written differently from the solution (full marks) and the
plausible mistakes it must catch; the photo checks run on small stand-in models and data (their
own loading of photos is replaced), so these tests need no mirror and take seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils.checks import lesson11  # noqa: E402
from course_utils.checks.registry import run_check  # noqa: E402
from course_utils.exercise_data.efficient_fine_tuning import ALPHAS, merge_case  # noqa: E402


def _einsum_merge(kernel, a, b, alpha, rank):   # written otherwise than the solution's tensordot
    flat = a.reshape(-1, rank)
    return kernel + np.einsum("ir,ro->io", flat, b).reshape(kernel.shape) * alpha / rank


def test_merge_accepts_a_differently_written_merge_and_matches_keras() -> None:
    kernel, a, b, alpha, rank = merge_case(lesson11.VISIBLE_CASE)
    assert alpha != rank, "the case must tell a missing scale from a right one"
    assert run_check("11.merge", merged=_einsum_merge(kernel, a, b, alpha, rank)).passed
    assert run_check("11.merge_conv", merged=_einsum_merge(*merge_case(lesson11.HIDDEN_CASE, "conv"))).passed
    want = kernel + alpha / rank * (a @ b)
    assert np.allclose(lesson11.keras_merge(kernel, a, b, alpha, rank), want, atol=1e-5)


@pytest.mark.parametrize("mistake, hint", [
    (lambda k, a, b, alpha, r: k + a @ b, "unscaled"),
    (lambda k, a, b, alpha, r: k + r / alpha * (a @ b), "upside down"),
    (lambda k, a, b, alpha, r: alpha / r * (a @ b), "change alone"),
    (lambda k, a, b, alpha, r: k, "unchanged"),
    (lambda k, a, b, alpha, r: (k + alpha / r * (a @ b)).T, "shape"),
])
def test_merge_names_each_plausible_mistake_without_the_answer(mistake, hint) -> None:
    case = merge_case(lesson11.VISIBLE_CASE)
    outcome = run_check("11.merge", merged=mistake(*case))
    assert not outcome.passed and hint in outcome.message, outcome.message
    assert f"{case[3]:g}" not in outcome.message.replace(f"{case[0].shape}", "")   # no alpha value given away


def test_merge_conv_refuses_a_merge_that_loses_the_kernel_axes() -> None:
    kernel, a, b, alpha, rank = merge_case(lesson11.HIDDEN_CASE, "conv")
    flat = kernel.reshape(-1, kernel.shape[-1]) + alpha / rank * (a.reshape(-1, rank) @ b)
    assert "shape" in run_check("11.merge_conv", merged=flat).message
    assert not run_check("11.merge_conv", merged=_einsum_merge(*merge_case(lesson11.VISIBLE_CASE))).passed


@pytest.fixture()
def photo_stand_in(monkeypatch):
    """Two small 'maps -> top -> head' models and the check's own data, replaced by stand-ins."""
    x = np.random.default_rng(0).normal(size=(60, 4, 4, 3)).astype("float32")

    def model():
        keras.utils.set_random_seed(1)
        inputs = keras.Input((4, 4, 3))
        top = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(8, 1),
                                keras.layers.GlobalAveragePooling2D()])
        return keras.Model(inputs, keras.layers.Dense(7, activation="softmax", name="head")(top(inputs)))

    probe, tuned = model(), model()
    kernel, bias = tuned.get_layer("head").get_weights()
    tuned.get_layer("head").set_weights([np.roll(kernel, 3, axis=1), np.roll(bias, 3)])   # other classes
    y = np.argmax(probe(x), 1)          # the probe end is right on every photo, the tuned end on none
    monkeypatch.setattr(lesson11, "_photos", lambda size, split, per_class, seed: (x, y))
    return probe, tuned, x, y


def _mixed(probe, tuned, alpha):      # written otherwise than the solution: keras.ops on variables
    copy = keras.models.clone_model(probe)
    for target, s, e in zip(copy.weights, probe.weights, tuned.weights, strict=True):
        target.assign(keras.ops.add(keras.ops.multiply(1 - alpha, s), keras.ops.multiply(alpha, e)))
    return copy


def _scores(probe, tuned, x, y):
    return np.array([np.mean(np.argmax(_mixed(probe, tuned, a)(x), 1) == y) for a in ALPHAS])


def test_wise_choice_wants_the_mixes_validation_scores_and_their_best(photo_stand_in) -> None:
    probe, tuned, x, y = photo_stand_in
    scores = _scores(probe, tuned, x, y)
    best = ALPHAS[int(np.argmax(scores))]
    kw = {"probe_model": probe, "tuned_model": tuned, "image_size": 128, "per_class": 10}
    ok = run_check("11.wise_choice", val_scores=scores, alpha=best, **kw)          # an array, not a list
    assert ok.passed, ok.message
    worse = ALPHAS[int(np.argmin(scores))]
    assert scores.min() < scores.max()
    outcome = run_check("11.wise_choice", val_scores=scores.tolist(), alpha=worse, **kw)
    assert "not a best mix" in outcome.message
    elsewhere = scores.copy()
    elsewhere[0] = 1.0 - elsewhere[0]                    # e.g. scored on other photos than validation
    outcome = run_check("11.wise_choice", val_scores=elsewhere.tolist(), alpha=best, **kw)
    assert "validation photos" in outcome.message
    assert "one of ALPHAS" in run_check("11.wise_choice", val_scores=scores, alpha=0.3, **kw).message
    assert "accuracies" in run_check("11.wise_choice", val_scores=scores[:2], alpha=best, **kw).message


def test_wise_model_wants_the_mix_at_the_chosen_alpha(photo_stand_in) -> None:
    probe, tuned, x, y = photo_stand_in
    scores = _scores(probe, tuned, x, y)
    best = ALPHAS[int(np.argmax(scores))]
    kw = {"probe_model": probe, "tuned_model": tuned, "image_size": 128}
    ok = run_check("11.wise_model", mixed=_mixed(probe, tuned, best), alpha=best, **kw)
    assert ok.passed, ok.message
    swapped = _mixed(probe, tuned, 1 - 0.25)
    assert "wrong end" in run_check("11.wise_model", mixed=swapped, alpha=0.25, **kw).message
    assert "Keras model" in run_check("11.wise_model", mixed=scores, alpha=best, **kw).message
    worst = ALPHAS[int(np.argmin(scores))]
    assert scores.max() - scores.min() > lesson11.FRESH_MARGIN
    outcome = run_check("11.wise_model", mixed=_mixed(probe, tuned, worst), alpha=worst, **kw)
    assert "trails the best mix" in outcome.message
