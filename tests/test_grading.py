"""End-to-end grader tests on the NumPy-only fixture lesson 99 and hostile submissions.

All submissions are graded in one run (module fixture), which also shows that a
hostile submission never stops the grading of the next ones.
"""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pytest

from course_utils.grading.grader import SubmissionResult, grade_submissions, plan_execution

FIXTURES = Path(__file__).resolve().parent / "grading_fixtures"
SOLUTIONS = FIXTURES / "solutions"
CHECKS = FIXTURES / "fixture_checks.py"

# case -> (points for squares, normalise, normalise_hidden, accuracy)
EXPECTED = {
    "blank": (0, 0, 0, 0),
    "perfect": (1, 2, 1, 2),
    "patch_check": (0, 0, 0, 0),
    "patch_numpy": (0, 2, 1, 1),
    "edited_check": (0, 0, 0, 2),
    "fake_print": (0, 0, 0, 0),
    "sys_exit": (1, 2, 1, 0),
    "os_exit": (1, 0, 0, 0),
    "infinite_loop": (1, 0, 0, 0),
    "memory_hog": (1, 0, 0, 0),
    "delete_files": (1, 2, 1, 2),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, SubmissionResult], Path]:
    """Grade every fixture submission plus the solution itself, once."""
    out = tmp_path_factory.mktemp("grading")
    results = grade_submissions(
        [FIXTURES / "submissions", SOLUTIONS / "99_fixture.ipynb"],
        solutions_dir=SOLUTIONS,
        csv=out / "grades.csv",
        feedback_dir=out / "feedback",
        cell_timeout=8,
        memory_limit_mb=1500,
        submission_timeout=60,
        check_timeout=60,
        checks_modules=[CHECKS],
    )
    by_case = {}
    for result in results:
        stem = Path(result.submission).stem
        by_case[stem.split("-", 1)[1] if "-" in stem else "solution"] = result
    return by_case, out


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_scores(graded: tuple[dict[str, SubmissionResult], Path], case: str) -> None:
    """Each submission earns exactly the points its real work earns."""
    result = graded[0][case]
    assert result.error is None
    points = tuple(check.points for check in result.checks)
    assert points == EXPECTED[case], [(c.key, c.points, c.message) for c in result.checks]
    assert result.max_score == 6


def test_solution_scores_full_marks(graded: tuple[dict[str, SubmissionResult], Path]) -> None:
    """The solution notebook itself (with its hidden checks) earns every point."""
    result = graded[0]["solution"]
    assert (result.score, result.max_score) == (6, 6)


def test_stop_reasons_are_explained(graded: tuple[dict[str, SubmissionResult], Path]) -> None:
    """Unrun checks say why: timeout, kernel death, memory limit."""
    results = graded[0]
    assert "timed out after 8 s" in results["infinite_loop"].checks[1].message
    assert "kernel died" in results["os_exit"].checks[1].message
    assert "memory limit 1500 MB exceeded" in results["memory_hog"].checks[1].message
    assert "was not available" in results["blank"].checks[0].message


def test_edited_and_deleted_check_cells_are_reported(
    graded: tuple[dict[str, SubmissionResult], Path],
) -> None:
    """Edited check cells are replaced by the original and reported, in notes and feedback."""
    notes = graded[0]["edited_check"].notes
    assert "check cell 4 (99.squares) was edited; the original was used" in notes
    assert "the check cell for 99.accuracy was deleted; the original was restored" in notes
    feedback = (graded[1] / "feedback" / "submissions__99_fixture-edited_check.md").read_text()
    assert "was edited; the original was used" in feedback
    assert "| 99.squares | 0/1 |" in feedback
    assert not graded[0]["perfect"].notes


def test_csv_and_feedback_files(graded: tuple[dict[str, SubmissionResult], Path]) -> None:
    """One CSV row per submission with score columns; one feedback file per submission."""
    with (graded[1] / "grades.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(EXPECTED) + 1
    assert {"submission", "score", "max_score", "99.squares", "99.normalise_hidden"} <= set(rows[0])
    perfect = next(row for row in rows if row["submission"].endswith("perfect.ipynb"))
    assert (perfect["score"], perfect["max_score"], perfect["99.normalise"]) == ("6", "6", "2")
    assert len(list((graded[1] / "feedback").glob("*.md"))) == len(EXPECTED) + 1


def test_package_source_survives_hostile_submissions() -> None:
    """The delete_files submission only deleted its private copy of the package."""
    assert (Path(__file__).resolve().parents[1] / "course_utils" / "grading" / "grader.py").exists()


def test_plan_inserts_hidden_checks_and_restores_deleted_ones() -> None:
    """Hidden checks go right after their solution anchor; deleted checks come back."""
    solution = nbformat.read(SOLUTIONS / "99_fixture.ipynb", as_version=4)
    submission = nbformat.read(FIXTURES / "exercises" / "99_fixture.ipynb", as_version=4)
    submission.cells = [c for c in submission.cells if c.id != "squares-check"]
    steps, notes = plan_execution(solution, submission)
    kinds = [(s.kind, s.check.key if s.check else s.cell_number) for s in steps]
    assert kinds == [
        ("student", 2),
        ("student", 3),
        ("capture", "99.squares"),
        ("student", 4),
        ("capture", "99.normalise"),
        ("capture", "99.normalise_hidden"),
        ("student", 6),
        ("capture", "99.accuracy"),
    ]
    assert notes == ["the check cell for 99.squares was deleted; the original was restored"]
