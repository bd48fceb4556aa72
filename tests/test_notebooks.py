"""Lessons and solutions: committed clean, runnable, graded; executed lessons free of noise.

The lessons themselves are executed by nbval (see pyproject.toml: `pytest` collects
notebooks/ with --nbval-lax), so their assertions are their checks. Solutions are graded
through the grader: a solution earns full marks, its blank exercise zero.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import ROOT, needs_mirror

from course_utils import engine, lessons

RECORD = lessons.all_lessons()
LESSONS = [lesson.notebook for lesson in RECORD]
SOLUTIONS = [lesson.solution for lesson in RECORD if lesson.solution]
ALL_COMMITTED = LESSONS + SOLUTIONS + [lesson.exercise for lesson in RECORD if lesson.exercise]


def _code(path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", ALL_COMMITTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_notebooks_are_clean(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, \
                f"{path.name} is committed with outputs: clear them"


@pytest.mark.parametrize("path", LESSONS + SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_lesson_has_a_parameters_cell(path):
    nb = json.loads(path.read_text())
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_each_lesson_reports_a_headline_and_asserts_its_claims(path):
    code = "\n".join(_code(path))
    assert "report.headline(" in code, f"{path.name} reports no headline number for the run summary"
    # a claim is asserted directly or through course_utils.stats, which raises when it does not hold
    asserting = ("assert ", "stats.every_seed(", "stats.on_average(")
    assert any(a in code for a in asserting), f"{path.name} asserts nothing: its claims cannot fail"


@needs_mirror
@pytest.mark.notebook
def test_run_shows_no_start_up_noise(tmp_path):
    """`python -m course_utils run 00`: neither the console nor the executed notebook shows
    TensorFlow/absl/CUDA start-up lines or the kernel's transport warning."""
    env = {**os.environ, "COURSE_PROFILE": "smoke"}
    res = subprocess.run([sys.executable, "-m", "course_utils", "run", "00", "--out", str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    executed = (tmp_path / "00_setup.ipynb").read_text()
    for marker in engine.NOISE_MARKERS:
        assert marker not in res.stdout + res.stderr, f"console shows {marker!r}:\n{res.stderr}"
        assert marker not in executed, f"the executed lesson shows {marker!r}"
    assert "Headline:" in executed


@needs_mirror
@pytest.mark.notebook
@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_solution_scores_full_marks_and_blank_exercise_zero(solution, tmp_path):
    """Executes each solution notebook (smoke profile) through the grader, and its exercise."""
    from course_utils.grading.grader import grade_submissions

    exercise = ROOT / "exercises" / solution.name
    full, blank = grade_submissions([solution, exercise], solutions_dir=ROOT / "solutions",
                                    feedback_dir=tmp_path / "feedback", cell_timeout=600)
    assert full.max_score >= 4 and full.score == full.max_score, full
    assert blank.score == 0, blank
