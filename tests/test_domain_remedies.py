"""Tests for what lesson 08 teaches (course_utils.taught.domain_remedies), on small inputs."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils.taught import domain_remedies as taught08  # noqa: E402
from course_utils.taught.domain_mismatch import pacs_networks, train  # noqa: E402


def test_importance_weights_are_the_odds_scaled_to_mean_one() -> None:
    p = np.array([0.5, 0.8, 0.2, 0.0, 1.0])
    w = taught08.importance_weights(p, n_source=10, n_target=5)
    assert w.mean() == pytest.approx(1.0)
    assert w[1] / w[0] == pytest.approx(4.0)       # odds 4 against odds 1
    assert w[2] / w[0] == pytest.approx(0.25)
    assert np.all(np.isfinite(w)) and w[3] > 0     # p = 0 and p = 1 are clipped, never inf or 0


def test_effective_sample_size_counts_equal_weights_and_collapses_to_one() -> None:
    assert taught08.effective_sample_size(np.ones(7)) == pytest.approx(7.0)
    assert taught08.effective_sample_size(np.r_[3.0, np.zeros(9)]) == pytest.approx(1.0)
    assert taught08.effective_sample_size([1.0, 1.0, 2.0]) == pytest.approx(16 / 6)


def test_domain_probabilities_see_a_shift_and_not_its_absence() -> None:
    rng = np.random.default_rng(0)
    source = rng.normal(size=(200, 5))
    same = taught08.domain_probabilities(source, rng.normal(size=(200, 5)))
    shifted = taught08.domain_probabilities(source, rng.normal(3.0, 1.0, size=(200, 5)), C=1.0)
    assert same.shape == (200,) and 0.35 < same.mean() < 0.65
    assert np.median(shifted) < 0.05     # cross-fitted: most source rows are confidently "source"
    ess_same = taught08.effective_sample_size(taught08.importance_weights(same, 200, 200))
    ess_shifted = taught08.effective_sample_size(taught08.importance_weights(shifted, 200, 200))
    assert ess_same > 150 > 20 > ess_shifted


def test_with_prevalence_keeps_every_example_of_the_rarer_side() -> None:
    y = np.r_[np.zeros(60, int), np.ones(40, int)]
    x = np.arange(100)
    xw, yw = taught08.with_prevalence(x, y, 0.8, seed=1)
    assert yw.mean() == pytest.approx(0.8) and (yw == 1).sum() == 40
    xh, yh = taught08.with_prevalence(x, y, 0.2, seed=1)
    assert yh.mean() == pytest.approx(0.2) and (yh == 0).sum() == 60
    assert np.array_equal(np.sort(xh), xh) and set(xh) <= set(x)


def test_scanner_shift_changes_only_what_it_is_asked_to() -> None:
    x = np.random.default_rng(0).uniform(0, 255, size=(4, 8, 8, 1)).astype("float32")
    identity = taught08.scanner_shift(x, contrast=1.0, gamma=1.0, blur=0.0, noise=0.0)
    assert np.allclose(identity, x, atol=1e-3)
    flat = taught08.scanner_shift(x, contrast=0.0, gamma=1.0, blur=0.0, noise=0.0)
    assert np.allclose(flat, x.mean(axis=(1, 2), keepdims=True), atol=1e-3)   # each image its own mean
    noisy = taught08.scanner_shift(x, noise=12.0, seed=3)
    assert noisy.min() >= 0 and noisy.max() <= 255
    assert np.array_equal(noisy, taught08.scanner_shift(x, seed=3))


def test_ensemble_averages_the_members_probabilities() -> None:
    def constant(probs):
        inputs = keras.Input((3,))
        zeros = keras.layers.Dense(len(probs), kernel_initializer="zeros",
                                   bias_initializer=keras.initializers.Constant(np.log(probs)))(inputs)
        return keras.Model(inputs, keras.layers.Softmax()(zeros))

    model = taught08.ensemble([constant([0.9, 0.1]), constant([0.3, 0.7])], (3,))
    assert np.allclose(model(np.zeros((2, 3), "float32")), [[0.6, 0.4], [0.6, 0.4]], atol=1e-5)


def test_pseudo_labels_confident_and_centroid_and_the_threshold_choice() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(3, 8) * 6
    x = np.concatenate([c + rng.normal(size=(40, 8)) for c in centres]).astype("float32")
    y = np.repeat(np.arange(3), 40).astype("int32")
    def small():
        return pacs_networks(input_dim=8, classes=3, hidden=16)

    teacher = train(small, x, y, steps=150, batch=32, seed=0)[0]
    keep, labels = taught08.pseudo_labels(teacher, x, threshold=0.9)
    assert keep.dtype == bool and np.mean(labels[keep] == y[keep]) > 0.95
    keep_all, centroid = taught08.pseudo_labels(teacher, x)
    assert keep_all.all() and np.mean(centroid == y) > 0.95
    assert taught08.choose_threshold(teacher, x, y, [0.9, 0.5, 0.7]) == 0.5   # lowest that is precise enough
    student = taught08.self_train(small, teacher, x[:30], y[:30], x[30:], steps=50, batch=16, seed=0)
    assert student.output_shape == (None, 3)


def test_prior_shift_em_recovers_a_new_class_mix_from_calibrated_probabilities() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(4000) < 0.8).astype(int)                   # target: 80% positives
    score = rng.normal(np.where(y == 1, 1.0, -1.0), 1.0)       # the same p(x | y) as in the source
    p1 = 1 / (1 + np.exp(-2 * score))                          # exact posteriors under a 50/50 source mix
    probs = np.stack([1 - p1, p1], axis=1)
    prior, corrected = taught08.prior_shift_em(probs, [0.5, 0.5])
    assert prior[1] == pytest.approx(0.8, abs=0.03)
    assert corrected[:, 1].mean() == pytest.approx(prior[1], abs=1e-3)   # EM's fixed point
    assert np.mean(corrected.argmax(1) == y) > np.mean(probs.argmax(1) == y)   # Bayes' rule for the new mix


def test_correct_priors_is_bayes_rule_and_leaves_an_unchanged_mix_alone() -> None:
    probs = np.array([[0.5, 0.5], [0.9, 0.1]])
    assert np.allclose(taught08.correct_priors(probs, [0.5, 0.5], [0.5, 0.5]), probs)
    assert taught08.correct_priors(probs, [0.5, 0.5], [0.2, 0.8])[0, 1] == pytest.approx(0.8)
