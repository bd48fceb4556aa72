"""Lesson 08's checks on learners' answers: right ones written differently from the solution earn
full points, plausible mistakes lose theirs (validation scores that were not measured on D's
validation X-rays among them); and the exercise's data module does not say what changed at D."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from checks_support import captured, fails, full, run  # noqa: E402

from course_utils.checks import lesson08  # noqa: E402
from course_utils.exercise_data import domain_remedies as exercise  # noqa: E402


def weights_via_logits(p_target, n_source, n_target):
    """Right, written another way: the odds as exp(logit), normalised by the sum."""
    p = np.clip(np.asarray(p_target, dtype="float64"), 1e-6, 1 - 1e-6)
    w = np.exp(np.log(p) - np.log1p(-p)) * (n_source / n_target)
    return w * len(w) / w.sum()


def ess_normalised(w):
    """Right, written another way: 1 / sum of squared normalised weights."""
    q = np.asarray(w, dtype="float64") / np.sum(w)
    return float(1.0 / np.sum(q**2))


def visible(weights, ess):
    return run("08.importance_weights", weights=weights(exercise.demo_probabilities(3), 300, 100),
               ess=[ess(w) for w in exercise.ess_cases(3)])


def hidden(weights, ess):
    p = exercise.demo_probabilities(2025, 240)
    return run("08.importance_weights_hidden", weights=weights(p, 240, 60),
               ess=[ess(w) for w in exercise.ess_cases(2025)])


def test_importance_weights_accept_another_way_of_writing_them():
    assert full(visible(weights_via_logits, ess_normalised))
    assert full(hidden(weights_via_logits, ess_normalised))


@pytest.mark.parametrize(("weights", "ess", "hint"), [
    (lambda p, ns, nt: weights_via_logits(1 - np.asarray(p), ns, nt), ess_normalised, "p / (1 - p)"),
    (weights_via_logits, lambda w: float(np.sum(np.square(w)) / np.sum(w) ** 2), "(sum w)^2"),
    (weights_via_logits, lambda w: float(len(w)), "(sum w)^2"),
])
def test_importance_weights_mistakes(weights, ess, hint):
    assert fails(visible(weights, ess), hint)
    assert fails(hidden(weights, ess))


@pytest.fixture
def hospital(monkeypatch):
    """Hospital D's validation X-rays, small: the class is whether the first pixel is bright."""
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(40, int), np.ones(10, int)]
    x = rng.uniform(0, 100, (50, 2, 2, 1)).astype("float32")
    x[y == 1, 0, 0, 0] += 150
    monkeypatch.setattr(lesson08, "hospital_d", lambda split: (x, y))
    monkeypatch.setattr(lesson08, "hospital_d_test", lambda: (x, y))
    return x, y


def xray_model(weight: float, bias: float, softmax: bool = True) -> keras.Model:
    """Reads the first pixel: class 1 when weight * (pixel - 125) + bias > 0."""
    model = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax" if softmax else None)])
    kernel = np.zeros((4, 2))
    kernel[0] = [-weight / 2, weight / 2]
    shift = 125 * weight / 2 - bias / 2
    model.layers[-1].set_weights([kernel, np.array([shift, -shift])])
    return model


def candidates():
    return {"source_only": xray_model(0.1, 0.0), "adabn": xray_model(0.0, 1.0),
            "weighted": xray_model(0.1, -3.0, softmax=False)}


def test_decision_recomputes_the_scores_and_accepts_another_way_of_measuring(tmp_path, hospital):
    from sklearn.metrics import accuracy_score

    x, y = hospital
    models = candidates()
    names = dict(zip(("source_only", "adabn", "weighted"), lesson08.CANDIDATES, strict=True))
    scores = {names[k]: float(accuracy_score(y, m.predict(x, verbose=0).argmax(1)))
              for k, m in models.items()}
    choice = sorted(scores, key=scores.get)[-1]
    artifacts = captured(tmp_path, val_scores=scores, choice=choice, **models)
    assert full(run("08.hospital_d_decision", shift_kind="Population", **artifacts))


def test_decision_mistakes(hospital):
    x, y = hospital
    models = candidates()
    names = dict(zip(("source_only", "adabn", "weighted"), lesson08.CANDIDATES, strict=True))
    right = {names[k]: float(np.mean(m.predict(x, verbose=0).argmax(1) == y)) for k, m in models.items()}
    on_other_data = {**right, "AdaBN": 0.99}             # a number not measured on D's validation split
    assert fails(run("08.hospital_d_decision", val_scores=on_other_data, choice="AdaBN",
                     shift_kind="population", **models), "not the accuracy")
    worst = min(right, key=right.get)
    assert fails(run("08.hospital_d_decision", val_scores=right, choice=worst, shift_kind="population",
                     **models), "your own val_scores")


def test_shift_kind_and_deployment(hospital):
    assert full(run("08.shift_kind", shift_kind=" population"))
    assert fails(run("08.shift_kind", shift_kind="scanner"))
    assert full(run("08.hospital_d_deployed", model=xray_model(0.1, 0.0, softmax=False)))   # logits read too
    assert fails(run("08.hospital_d_deployed", model=xray_model(0.0, -1.0)), "balanced accuracy")


def test_the_exercise_data_does_not_say_what_changed_at_hospital_d():
    source = inspect.getsource(exercise)
    assert "with_prevalence" not in inspect.getsource(exercise.hospital_d)
    for telling in ("D_PNEUMONIA", "population shift", "patients differ", "0.2"):
        assert telling not in source, telling
    site = exercise.site_description(exercise._HOSPITAL_D)
    assert site == {"pneumonia_share": lesson08.D_PNEUMONIA, "contrast": lesson08.D_CONTRAST}
