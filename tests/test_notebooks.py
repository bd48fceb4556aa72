"""Every lesson and solution notebook runs in the smoke profile, and is committed clean."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, needs_mirror

from course_utils.cli import run as runner

LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
ALL_COMMITTED = LESSONS + SOLUTIONS + sorted((ROOT / "exercises").glob("*.ipynb"))


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    """One feature cache for all notebooks of a test run: keys cover weights and pixels, so
    sharing is safe, and a lesson and its solution never pay for the same frozen base twice."""
    return tmp_path_factory.mktemp("course_cache")


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


def test_every_lesson_with_exercises_has_its_solution():
    lessons = {p.name[:2] for p in LESSONS}
    assert {p.name[:2] for p in SOLUTIONS} <= lessons


@needs_mirror
@pytest.mark.notebook
@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_runs_in_smoke_profile(path, tmp_path, monkeypatch, shared_cache):
    monkeypatch.setenv("COURSE_CACHE", str(shared_cache))
    result = runner.execute_notebook(path, tmp_path, profile="smoke", timeout=900, html=False)
    assert result.status == "ok", f"{path.name} failed: {result.error}"
    assert result.headline != "-", f"{path.name} reports no headline number"


@needs_mirror
@pytest.mark.notebook
@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_solution_scores_full_marks_and_blank_exercise_zero(solution, tmp_path, monkeypatch,
                                                          shared_cache):
    """Executes each solution notebook (smoke profile) through the grader, and its exercise."""
    from course_utils.grading.grader import grade_submissions

    monkeypatch.setenv("COURSE_CACHE", str(shared_cache))
    exercise = ROOT / "exercises" / solution.name
    full, blank = grade_submissions([solution, exercise], solutions_dir=ROOT / "solutions",
                                    feedback_dir=tmp_path / "feedback", cell_timeout=600)
    assert full.max_score >= 4 and full.score == full.max_score, full
    assert blank.score == 0, blank
