"""Tests for lesson 12 checks: the distillation loss by hand, the abstention rule and the decision.

Each check is run with the lesson's answer, with a differently written correct answer (full marks),
and with plausible mistakes (which lose the points, with a hint that names the mistake).
"""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils.checks import lesson12  # noqa: E402
from course_utils.checks.registry import run_check  # noqa: E402
from course_utils.exercise_data.after_transfer import confidence_cases, logit_cases  # noqa: E402


def _softmax(z, t=1.0):
    e = np.exp(np.asarray(z, "float64") / t - np.max(np.asarray(z, "float64") / t, axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def kd_numpy(teacher, student, t):
    p, q = _softmax(teacher, t), _softmax(student, t)
    return float(t * t * np.mean(np.sum(p * np.log(p / q), axis=1)))


def kd_keras(teacher, student, t):
    """The same loss, written with Keras' own distillation loss (the right way to call it)."""
    loss = keras.distillation.LogitsDistillation(t, loss=keras.losses.KLDivergence())
    return float(loss.compute_loss(teacher, student))


def test_the_lesson_and_keras_losses_pass_both_checks() -> None:
    for fn in (kd_numpy, kd_keras):
        assert run_check("12.distillation_loss", losses=[fn(*c) for c in logit_cases(3)]).passed
        assert run_check("12.distillation_loss_hidden", losses=[fn(*c) for c in logit_cases(2025)]).passed


@pytest.mark.parametrize(("mistake", "hint"), [
    (lambda a, b, t: kd_numpy(a, b, t) / (t * t), "multiply by T²"),
    (lambda a, b, t: kd_numpy(b, a, t), "KL(student || teacher)"),
    (lambda a, b, t: kd_numpy(a, b, 1.0), "do not change with the temperature"),
    (lambda a, b, t: t * t * float(np.mean(-np.sum(_softmax(a, t) * np.log(_softmax(b, t)), axis=1))),
     "cross-entropy"),
])
def test_plausible_distillation_mistakes_get_their_hint(mistake, hint) -> None:
    outcome = run_check("12.distillation_loss", losses=[mistake(*c) for c in logit_cases(3)])
    assert outcome.points == 0 and hint in outcome.message


def test_keras_default_string_loss_fails_and_odd_input_is_explained() -> None:
    default = [float(keras.distillation.LogitsDistillation(t).compute_loss(a, b))   # loss="kl_divergence"
               for a, b, t in logit_cases(3)]
    outcome = run_check("12.distillation_loss", losses=default)
    assert outcome.points == 0 and "wrong on case" in outcome.message
    assert "should hold 5 numbers" in run_check("12.distillation_loss", losses=[1.0]).message


def threshold_by_sorting(confidence, correct, target):
    """A differently written correct rule: the longest most-confident prefix, cut between ties only."""
    order = np.argsort(-confidence, kind="stable")
    c, k = confidence[order], correct[order].astype(float)
    accuracy = np.cumsum(k) / np.arange(1, len(k) + 1)
    group_end = np.r_[c[1:] != c[:-1], True]
    ok = np.flatnonzero(group_end & (accuracy >= target))
    return float(c[ok[-1]]) if len(ok) else 2.0   # above every confidence: answer nothing


def test_threshold_rule_accepts_any_correct_rule_and_judges_by_what_it_answers() -> None:
    for seed, name in ((3, "12.threshold_rule"), (2025, "12.threshold_rule_hidden")):
        cases = confidence_cases(seed)
        reference = [lesson12.reference_threshold(*c) for c in cases]
        assert np.isinf(reference[-1]), "the last case should be unreachable"
        assert run_check(name, thresholds=np.array(reference)).passed
        assert run_check(name, thresholds=np.array([threshold_by_sorting(*c) for c in cases])).passed


def test_threshold_rule_mistakes_lose_the_point() -> None:
    cases = confidence_cases(3)

    def strict(confidence, correct, target):   # answers confidence > c: ties at the threshold left out
        for c in np.unique(confidence)[:-1]:
            if correct[confidence > c].mean() >= target:
                return float(c)
        return np.inf

    def highest(confidence, correct, target):  # the most cautious threshold that meets the target
        good = [c for c in np.unique(confidence) if correct[confidence >= c].mean() >= target]
        return float(max(good)) if good else np.inf

    outcome = run_check("12.threshold_rule", thresholds=np.array([strict(*c) for c in cases]))
    assert outcome.points == 0 and "case" in outcome.message
    outcome = run_check("12.threshold_rule", thresholds=np.array([highest(*c) for c in cases]))
    assert outcome.points == 0 and "a lower threshold also meets the target" in outcome.message
    fixed = np.array([np.quantile(c[0], 0.2) for c in cases])   # "abstain on the least confident fifth"
    assert run_check("12.threshold_rule", thresholds=fixed).points == 0
    assert "5 numbers" in run_check("12.threshold_rule", thresholds=np.array([0.5])).message


def _splits(seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for name, n, skill in (("validation", 300, 1.0), ("photos", 300, 1.0), ("sketches", 300, 4.0)):
        confidence = np.round(rng.uniform(0.4, 1.0, n), 3)
        correct = rng.uniform(0, 1, n) < confidence ** (3 * skill)
        out[name] = np.column_stack([confidence, correct])
    return out


def _report(splits, threshold):
    report = {}
    for name, key in (("photos", "photo"), ("sketches", "sketch")):
        answered = splits[name][:, 0] >= threshold
        report[f"{key} coverage"] = float(answered.mean())
        report[f"{key} accuracy"] = float(splits[name][answered, 1].mean()) if answered.any() else None
    return report


def test_abstention_decision_wants_the_validation_threshold_and_true_numbers() -> None:
    s = _splits()
    t = lesson12.reference_threshold(s["validation"][:, 0], s["validation"][:, 1] > 0.5, lesson12.TARGET)
    assert np.isfinite(t)
    report = _report(s, t)
    meets = report["sketch accuracy"] is not None and report["sketch accuracy"] >= lesson12.TARGET
    args = dict(validation=s["validation"], photos=s["photos"], sketches=s["sketches"])
    assert run_check("12.abstention_decision", threshold=np.array([t]), report=report, answer_sketches=meets,
                     **args).passed
    on_test = lesson12.reference_threshold(s["photos"][:, 0], s["photos"][:, 1] > 0.5, lesson12.TARGET)
    assert not np.isclose(on_test, t)
    outcome = run_check("12.abstention_decision", threshold=np.array([on_test]), report=_report(s, on_test),
                        answer_sketches=meets, **args)
    assert outcome.points == 0 and "validation photos" in outcome.message
    outcome = run_check("12.abstention_decision", threshold=np.array([t]), report=report,
                        answer_sketches=not meets, **args)
    assert outcome.points == 1 and "answer_sketches" in outcome.message
    wrong = {**report, "photo accuracy": report["photo accuracy"] - 0.1}
    outcome = run_check("12.abstention_decision", threshold=np.array([t]), report=wrong,
                        answer_sketches=meets, **args)
    assert outcome.points == 1 and "photo accuracy" in outcome.message
    assert "column_stack" in run_check("12.abstention_decision", threshold=np.array([t]), report=report,
                                       answer_sketches=meets, validation=[1, 2], photos=s["photos"],
                                       sketches=s["sketches"]).message
