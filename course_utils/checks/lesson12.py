"""Checks for lesson 12 (after transfer): a distillation loss written by hand, and an abstention
threshold chosen on validation data.

Every check judges behaviour on the check's own cases (``exercise_data.after_transfer``): the loss
values a student's function returns, and which examples a student's threshold answers. The hints say
what kind of mistake the numbers show, never the expected numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.checks.common import finite_numbers
from course_utils.checks.registry import CheckFailed, CheckResult, lesson_checks
from course_utils.exercise_data.after_transfer import confidence_cases, logit_cases

register = lesson_checks(__name__)

TARGET = 0.97          # the exercise's accuracy target for the answered photos


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, "float64")
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def reference_kd_loss(teacher: np.ndarray, student: np.ndarray, temperature: float) -> float:
    """T² · KL(softmax(teacher / T) || softmax(student / T)), averaged over the batch."""
    p, q = _softmax(teacher / temperature), _softmax(student / temperature)
    return float(temperature ** 2 * np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1)))


def _kd_variants(teacher: np.ndarray, student: np.ndarray, temperature: float) -> dict[str, float]:
    """What common mistakes compute, by name."""
    p, q = _softmax(teacher / temperature), _softmax(student / temperature)
    kl = np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1))
    reverse = np.mean(np.sum(q * (np.log(q) - np.log(p)), axis=1))
    p1, q1 = _softmax(teacher), _softmax(student)
    return {"no T squared": float(kl), "reversed": float(temperature ** 2 * reverse),
            "no temperature": float(np.mean(np.sum(p1 * (np.log(p1) - np.log(q1)), axis=1))),
            "cross-entropy": float(temperature ** 2 * np.mean(-np.sum(p * np.log(q), axis=1)))}


HINTS = {
    "no T squared": "your losses are the KL divergence itself: multiply by T² (the gradients of softened "
                    "logits shrink by 1/T², Hinton et al. 2015)",
    "reversed": "your losses measure KL(student || teacher): the teacher's softened distribution is the "
                "target, KL(teacher || student)",
    "no temperature": "your losses do not change with the temperature: divide both models' logits by T "
                      "before the softmax",
    "cross-entropy": "your losses include the teacher's own entropy: that is the cross-entropy, not the KL "
                     "divergence (subtract sum p log p, or compute sum p (log p - log q))",
}


def _judge_kd(values: Any, seed: int) -> None:
    cases = logit_cases(seed)
    got = finite_numbers(values, "losses", len(cases))
    want = np.array([reference_kd_loss(*case) for case in cases])
    if np.allclose(got, want, rtol=1e-3, atol=1e-5):
        return
    for name, hint in HINTS.items():
        if np.allclose(got, [_kd_variants(*case)[name] for case in cases], rtol=1e-3, atol=1e-5):
            raise CheckFailed(hint)
    wrong = [i for i, (g, w) in enumerate(zip(got, want, strict=True))
             if not np.isclose(g, w, rtol=1e-3, atol=1e-5)]
    raise CheckFailed(f"your losses are wrong on case(s) {wrong} of {len(cases)}: softmax of logits / T for "
                      "both models, KL(teacher || student) per example, averaged over the batch, times T²")


@register("distillation_loss", points=2)
def distillation_loss(losses: Any) -> None:
    """``my_kd_loss`` on the exercise's cases (``logit_cases(3)``)."""
    _judge_kd(losses, 3)


@register("distillation_loss_hidden", points=1)
def distillation_loss_hidden(losses: Any) -> None:
    """Hidden: the same function on logits and temperatures the student has not seen."""
    _judge_kd(losses, 2025)


def reference_threshold(confidence: np.ndarray, correct: np.ndarray, target: float) -> float:
    """The lowest confidence c in the data such that the examples with confidence >= c are at least
    ``target`` accurate; ``inf`` (answer nothing) when no c reaches it."""
    confidence, correct = np.asarray(confidence, "float64"), np.asarray(correct, bool)
    for c in np.unique(confidence):
        if correct[confidence >= c].mean() >= target:
            return float(c)
    return float("inf")


def _answered(confidence: np.ndarray, threshold: float) -> np.ndarray:
    return np.asarray(confidence, "float64") >= threshold


def _threshold_hint(confidence: np.ndarray, correct: np.ndarray, target: float, threshold: float) -> str:
    """Why a threshold is not the validation choice, in words (no numbers to copy)."""
    answered = _answered(confidence, threshold)
    best = _answered(confidence, reference_threshold(confidence, correct, target))
    if answered.any() and correct[answered].mean() < target:
        return "the examples your threshold answers are less accurate than the target: raise it"
    if answered.sum() < best.sum():
        return ("a lower threshold also meets the target: you abstain on more examples than you need to "
                "(the lowest threshold that meets the target keeps the most)")
    return "your threshold answers a different set of examples than the rule (confidence >= threshold)"


def _judge_rule(thresholds: Any, seed: int) -> None:
    cases = confidence_cases(seed)
    try:
        got = np.asarray(thresholds, dtype="float64").reshape(-1)
    except (TypeError, ValueError) as error:
        raise CheckFailed("`thresholds` should be numbers, one per case") from error
    if got.size != len(cases) or np.isnan(got).any():
        raise CheckFailed(f"`thresholds` should hold {len(cases)} numbers (inf: answer nothing), got {got}")
    for i, ((confidence, correct, target), threshold) in enumerate(zip(cases, got, strict=True)):
        want = _answered(confidence, reference_threshold(confidence, correct, target))
        if not np.array_equal(_answered(confidence, threshold), want):
            raise CheckFailed(f"case {i} (target {target}): " + _threshold_hint(confidence, correct, target,
                                                                                 threshold))


@register("threshold_rule", points=1)
def threshold_rule(thresholds: Any) -> None:
    """``choose_threshold`` on the exercise's cases (``confidence_cases(3)``), judged by what it answers."""
    _judge_rule(thresholds, 3)


@register("threshold_rule_hidden", points=1)
def threshold_rule_hidden(thresholds: Any) -> None:
    """Hidden: the same function on confidences the student has not seen (ties, an unreachable target)."""
    _judge_rule(thresholds, 2025)


@register("abstention_decision", points=2)
def abstention_decision(threshold: Any, validation: Any, photos: Any, sketches: Any, report: Any,
                        answer_sketches: Any) -> CheckResult | None:
    """The threshold chosen on the validation photos, the test numbers it gives, and the decision
    for sketches. ``validation``, ``photos``, ``sketches``: arrays of (confidence, correct) rows."""
    splits = {}
    for name, value in (("validation", validation), ("photos", photos), ("sketches", sketches)):
        arr = np.asarray(value, dtype="float64")
        if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < 10:
            raise CheckFailed(f"`{name}` should be np.column_stack([confidence, correct]) of its images")
        splits[name] = arr[:, 0], arr[:, 1] > 0.5
    try:
        t = float(np.asarray(threshold, dtype="float64").reshape(-1)[0])
    except (TypeError, ValueError, IndexError) as error:
        raise CheckFailed("`threshold` should be one number") from error
    conf, right = splits["validation"]
    if not np.array_equal(_answered(conf, t), _answered(conf, reference_threshold(conf, right, TARGET))):
        raise CheckFailed("choose the threshold on the validation photos, by the rule: "
                          + _threshold_hint(conf, right, TARGET, t))
    if not isinstance(report, dict):
        raise CheckFailed("`report` should be a dict with the coverage and accuracy of photos and sketches")
    points, problems = 2.0, []
    for domain, short in (("photos", "photo"), ("sketches", "sketch")):
        conf, right = splits[domain]
        answered = _answered(conf, t)
        for key, value in ((f"{short} coverage", answered.mean()),
                           (f"{short} accuracy", right[answered].mean() if answered.any() else None)):
            given = report.get(key)
            if value is None:
                continue
            if not isinstance(given, (int, float)) or not np.isclose(given, value, atol=1e-6):
                problems.append(key)
    if problems:
        points -= 1.0
    conf, right = splits["sketches"]
    answered = _answered(conf, t)
    meets = bool(answered.any() and right[answered].mean() >= TARGET)
    if bool(answer_sketches) != meets:
        points -= 1.0
        problems.append("answer_sketches: compare the accuracy on the sketches it would answer with the "
                        "target you chose the threshold for")
    if problems:
        return CheckResult(points, "recompute at your threshold (confidence >= threshold): "
                           + "; ".join(problems))
    return None
