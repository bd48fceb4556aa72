"""Tests for lesson 08 checks: importance weights and ESS, the hospital D decision and deployment."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import needs_mirror

keras = pytest.importorskip("keras")

from course_utils.checks import lesson08  # noqa: E402
from course_utils.checks.registry import run_check  # noqa: E402
from course_utils.exercise_data import domain_remedies as exercise  # noqa: E402
from course_utils.taught import domain_remedies as taught08  # noqa: E402


def test_weight_checks_accept_the_lesson_and_explain_mistakes() -> None:
    p = exercise.demo_probabilities(3)
    ess = [taught08.effective_sample_size(w) for w in exercise.ess_cases(3)]
    right = taught08.importance_weights(p, 300, 100)
    assert run_check("08.importance_weights", weights=right, ess=ess).passed
    p_hidden = exercise.demo_probabilities(2025, 240)
    ess_hidden = [taught08.effective_sample_size(w) for w in exercise.ess_cases(2025)]
    assert run_check("08.importance_weights_hidden", weights=taught08.importance_weights(p_hidden, 240, 60),
                     ess=ess_hidden).passed
    assert "odds" in run_check("08.importance_weights", weights=p / p.mean(), ess=ess).message
    assert "mean 1" in run_check("08.importance_weights", weights=right * 3, ess=ess).message
    wrong_ess = [len(w) for w in exercise.ess_cases(3)]
    assert "(sum w)^2" in run_check("08.importance_weights", weights=right, ess=wrong_ess).message
    assert "300 numbers" in run_check("08.importance_weights", weights=[1.0], ess=ess).message


def test_decision_check_wants_the_validation_choice_and_the_diagnosis() -> None:
    scores = {"source-only": 0.95, "AdaBN": 0.8, "importance weights": 0.93}
    ok = run_check("08.hospital_d_decision", choice="source-only", val_scores=scores, shift_kind="population")
    assert ok.passed
    outcome = run_check("08.hospital_d_decision", choice="AdaBN", val_scores=scores, shift_kind="population")
    assert outcome.points == 0 and "scores higher on validation" in outcome.message
    outcome = run_check("08.hospital_d_decision", choice="source-only", val_scores=scores,
                        shift_kind="scanner")
    assert outcome.points == 0 and "ESS" in outcome.message
    assert "exactly the keys" in run_check("08.hospital_d_decision", choice="x", val_scores={"x": 1.0},
                                           shift_kind="population").message


@needs_mirror
def test_hospital_d_is_a_population_shift_and_a_one_class_model_fails() -> None:
    xa, ya = exercise.hospital_a()
    pool, y_pool = exercise.hospital_d("pool")
    x_test, y_test = lesson08.hospital_d_test()
    assert abs(ya.mean() - 0.5) < 0.05
    assert y_pool.mean() == pytest.approx(exercise.D_PNEUMONIA, abs=0.01)
    assert y_test.mean() == pytest.approx(exercise.D_PNEUMONIA, abs=0.01)
    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(inputs)
    normal = keras.layers.Dense(2, activation="softmax", kernel_initializer="zeros",
                                bias_initializer=keras.initializers.Constant([5.0, 0.0]))
    always_normal = keras.Model(inputs, normal(flat))
    outcome = run_check("08.hospital_d_deployed", model=always_normal)
    assert outcome.points == 0 and "balanced accuracy 0.500" in outcome.message
    assert "Keras model" in run_check("08.hospital_d_deployed", model=np.zeros(3)).message
