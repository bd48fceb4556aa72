"""Tests for lesson 05 checks: group weights and class weights hints (no data needed)."""

from __future__ import annotations

import numpy as np

from course_utils.checks.registry import run_check
from course_utils.methods import fairness


def test_group_weights_checks():
    good = fairness.group_weights(np.array([0, 0, 0, 1]))
    assert run_check("05.group_weights", weights=good).passed
    bad = run_check("05.group_weights", weights=np.ones(4))
    assert bad.points == 0 and "same total weight" in bad.message
    hidden = np.array([2, 0, 2, 1, 2, 2, 0, 1, 2, 2, 3])
    assert run_check("05.group_weights_hidden", weights=fairness.group_weights(hidden)).passed
    assert run_check("05.group_weights_hidden", weights=good).points == 0


def test_class_weights_check():
    y = np.array([0] * 12 + [1] * 108)
    assert run_check("05.class_weights", class_weight=fairness.class_weights(y), y=y).passed
    swapped = run_check("05.class_weights", class_weight={0: 0.5556, 1: 5.0}, y=y)
    assert swapped.points == 0 and "rare class" in swapped.message
    assert run_check("05.class_weights", class_weight=[1, 2], y=y).points == 0


def test_reference_threshold_keeps_the_recall_and_maximises_precision():
    from course_utils.checks import lesson05

    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.35, 0.2, 0.7, 0.3, 0.1, 0.05])
    assert lesson05.reference_threshold(p, y, 0.5) == 0.8      # 2 of 4 found, no false alarm
    assert lesson05.reference_threshold(p, y, 0.75) == 0.35    # needs 0.35: one false alarm
    assert lesson05.reference_threshold(p, y, 1.0) == 0.2
    assert lesson05.reference_threshold(np.zeros(4), np.array([1, 0, 1, 0]), 0.5) is None


def test_pick_threshold_checks():
    y = np.array([1, 1, 0, 0])
    p = np.array([0.9, 0.6, 0.4, 0.1])
    assert run_check("05.pick_threshold", threshold=0.6, p=p, y=y).passed
    assert "expected 0.6" in run_check("05.pick_threshold", threshold=0.5, p=p, y=y).message
    from course_utils.checks import lesson05

    answers = [lesson05.reference_threshold(p_, y_, r) for p_, y_, r in lesson05.unseen_threshold_cases()]
    assert run_check("05.pick_threshold_unseen", answers=answers).passed
    assert run_check("05.pick_threshold_unseen", answers=[0.5] * len(answers)).points == 0


def test_class_weights_are_judged_on_the_lessons_labels():
    """Balanced weights for the student's own, easier labels do not count."""
    easy = np.array([0, 1])
    outcome = run_check("05.class_weights", class_weight=fairness.class_weights(easy), y=easy)
    assert outcome.points == 0 and "y_imbalanced" in outcome.message
