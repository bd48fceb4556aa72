"""Tests for lesson 05 checks: group weights and class weights hints (no data needed)."""

from __future__ import annotations

import numpy as np

from course_utils.grading.registry import run_check
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


def test_class_weights_are_judged_on_the_lessons_labels():
    """Balanced weights for the student's own, easier labels do not count."""
    easy = np.array([0, 1])
    outcome = run_check("05.class_weights", class_weight=fairness.class_weights(easy), y=easy)
    assert outcome.points == 0 and "y_imbalanced" in outcome.message
