"""Tests for lesson 07 checks: CORAL loss values, AdaBN statistics and the shift diagnosis."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from helpers import needs_mirror  # noqa: E402

from course_utils.checks.lesson07 import coral_reference  # noqa: E402
from course_utils.checks.registry import run_check  # noqa: E402
from course_utils.exercise_data.domain_mismatch import coral_pairs  # noqa: E402
from course_utils.taught import domain_mismatch as taught07  # noqa: E402


def test_coral_checks_accept_the_formula_and_explain_mistakes() -> None:
    """Right values pass; forgetting to centre or to divide by 4 d^2 gets a specific hint."""
    right = [float(taught07.coral_loss(s, t)) for s, t in coral_pairs(7)]
    assert run_check("07.coral_loss", values=right).passed
    hidden = [coral_reference(s, t) for s, t in coral_pairs(2024)]
    assert run_check("07.coral_loss_hidden", values=hidden).passed
    assert not run_check("07.coral_loss_hidden", values=right).passed

    def uncentred(s, t):
        d = s.shape[1]
        return float(np.sum((s.T @ s / (len(s) - 1) - t.T @ t / (len(t) - 1)) ** 2) / (4 * d * d))

    outcome = run_check("07.coral_loss", values=[uncentred(s, t) for s, t in coral_pairs(7)])
    assert outcome.points == 0 and "centre" in outcome.message
    outcome = run_check("07.coral_loss", values=[v * 4 for v in right])
    assert outcome.points == 0 and "4 d^2" in outcome.message
    assert "5 numbers" in run_check("07.coral_loss", values=[0.0]).message


def tiny_bn_model() -> keras.Model:
    """A two-BN-layer model with non-trivial statistics."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(),
                             keras.layers.Dense(3), keras.layers.BatchNormalization()])


def test_adabn_statistics_check() -> None:
    """The lesson's adabn passes; the untouched copy fails with 'still holds the source statistics'."""
    source = tiny_bn_model()
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(200, 4)).astype("float32")
    untouched = keras.models.clone_model(source)
    untouched.set_weights(source.get_weights())
    outcome = run_check("07.adabn_statistics", adapted=untouched, source=source, x=x)
    assert outcome.points == 0 and "still holds the source statistics" in outcome.message
    adapted = taught07.adabn(source, x)
    assert run_check("07.adabn_statistics", adapted=adapted, source=source, x=x).passed
    assert "Keras model" in run_check("07.adabn_statistics", adapted=3, source=source, x=x).message


def test_shift_diagnosis_wants_fair_numbers_and_the_class_cause() -> None:
    assert run_check("07.shift_diagnosis", cause="b", pad_same=0.1, pad_target=1.7).passed
    assert "random rows" in run_check("07.shift_diagnosis", cause="b", pad_same=1.6, pad_target=1.7).message
    assert "far apart" in run_check("07.shift_diagnosis", cause="b", pad_same=0.1, pad_target=0.3).message
    assert "What do the first rows" in run_check("07.shift_diagnosis", cause="a", pad_same=0.1,
                                                 pad_target=1.7).message
    assert "between 0 and 2" in run_check("07.shift_diagnosis", cause="b", pad_same=3, pad_target=1.7).message


@needs_mirror
def test_sorted_pair_is_one_domain_sorted_by_class() -> None:
    from course_utils.exercise_data.domain_mismatch import shifted_pair, sorted_pair

    a, b = sorted_pair()
    assert a.shape == b.shape == (2000, 32, 32, 3)
    s, t = shifted_pair()
    assert s.shape == t.shape == (600, 32, 32, 3)
    assert run_check("07.fair_pad_hidden", values=[0.1, 1.7]).passed
    assert "random rows" in run_check("07.fair_pad_hidden", values=[1.5, 1.7]).message
    assert "should measure" in run_check("07.fair_pad_hidden", values=[0.1, 0.1]).message
    assert "two proxy" in run_check("07.fair_pad_hidden", values=0.1).message


def digit_models(trained: bool = True) -> tuple[keras.Model, keras.Model]:
    """A small source model on 32x32x3 digits and its AdaBN copy (BN statistics only differ)."""
    keras.utils.set_random_seed(0)
    features = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255),
                                 keras.layers.Flatten(), keras.layers.Dense(16, use_bias=False),
                                 keras.layers.BatchNormalization(), keras.layers.ReLU()])
    classifier = keras.layers.Dense(10, activation="softmax")
    source = keras.Sequential([features, classifier])
    adapted_features = keras.models.clone_model(features)
    adapted_features.set_weights(features.get_weights())
    bn = adapted_features.layers[3]
    bn.moving_mean.assign(bn.moving_mean.numpy() + 1.0)
    return keras.Sequential([adapted_features, classifier]), source


def test_adabn_improves_wants_the_same_network_with_only_new_statistics() -> None:
    """An "adapted" model with other learned weights is not AdaBN of the baseline."""
    adapted, source = digit_models()
    dense = adapted.layers[0].layers[2]
    dense.kernel.assign(dense.kernel.numpy() + 1.0)
    outcome = run_check("07.adabn_improves", adapted_model=adapted, source_model=source)
    assert outcome.points == 0 and "other learned weights" in outcome.message


@needs_mirror
def test_adabn_improves_refuses_an_untrained_baseline() -> None:
    """A sabotaged (untrained) source-only model is no baseline: it must classify MNIST digits."""
    adapted, source = digit_models()
    outcome = run_check("07.adabn_improves", adapted_model=adapted, source_model=source)
    assert outcome.points == 0 and "not a trained digit classifier" in outcome.message
