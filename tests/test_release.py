"""Tests for generating exercises from solutions and detecting stale exercises."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from course_utils.cli import main as cli_main
from course_utils.grading.release import (
    release_all,
    release_notebook,
    stale_exercises,
    strip_solutions,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "grading_fixtures"


def test_course_exercises_are_up_to_date() -> None:
    """exercises/ must be regenerated (python -m course_utils release) after editing solutions/."""
    assert stale_exercises(ROOT / "solutions", ROOT / "exercises") == []


def test_fixture_exercise_is_up_to_date() -> None:
    """The committed fixture exercise matches a fresh release of the fixture solution."""
    assert stale_exercises(FIXTURES / "solutions", FIXTURES / "exercises") == []


def test_strip_solutions_keeps_indentation_and_outside_lines() -> None:
    """Markers become an indented stub; lines outside the markers are untouched."""
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\ny = f(1)"
    assert strip_solutions(source) == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError\n\ny = f(1)"
    )


@pytest.mark.parametrize(
    "source", ["### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION", "### BEGIN SOLUTION\n" * 2]
)
def test_strip_solutions_rejects_unbalanced_markers(source: str) -> None:
    """Unbalanced or nested markers are an error, not silently leaked solutions."""
    with pytest.raises(ValueError):
        strip_solutions(source)


def test_released_notebook_has_no_solutions_hidden_checks_or_outputs(tmp_path: Path) -> None:
    """The student version drops solution code, hidden checks, outputs and counts."""
    solution_path = FIXTURES / "solutions" / "99_fixture.ipynb"
    solution = nbformat.read(solution_path, as_version=4)
    solution.cells[2].outputs = [nbformat.v4.new_output("stream", text="secret output")]
    solution.cells[2].execution_count = 7
    solution.metadata["kernelspec"] = {"name": "course-env", "display_name": "Course"}
    src = tmp_path / "99_fixture.ipynb"
    nbformat.write(solution, src)
    released = release_notebook(src, tmp_path / "out" / "99_fixture.ipynb")
    text = released.read_text(encoding="utf-8")
    nb = nbformat.read(released, as_version=4)
    nbformat.validate(nb)
    assert "BEGIN SOLUTION" not in text and "np.arange(5) ** 2" not in text
    assert "x.mean()" not in text and "score = 0.9" not in text
    assert "hidden-check" not in text and "99.normalise_hidden" not in text
    assert "secret output" not in text
    assert all(
        c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code"
    )
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.course.lesson == "99"
    normalise = next(c for c in nb.cells if c.id == "normalise-code")
    assert "    # YOUR CODE HERE\n    raise NotImplementedError\n" in normalise.source
    assert [c.id for c in nb.cells] == [c.id for c in solution.cells if c.id != "normalise-hidden"]
    checks = [c for c in nb.cells if "check" in c.metadata.get("tags", [])]
    assert [c.metadata.check_id for c in checks] == ["99.squares", "99.normalise", "99.accuracy"]


def test_release_is_deterministic_and_stale_detection_works(tmp_path: Path) -> None:
    """Releasing twice gives identical bytes; edits, missing and orphan files are reported."""
    solutions = tmp_path / "solutions"
    exercises = tmp_path / "exercises"
    shutil.copytree(FIXTURES / "solutions", solutions)
    first = [p.read_bytes() for p in release_all(solutions, exercises)]
    second = [p.read_bytes() for p in release_all(solutions, exercises)]
    assert first == second
    assert stale_exercises(solutions, exercises) == []
    assert cli_main(["release", "--solutions", str(solutions), "--exercises", str(exercises), "--check"]) == 0

    nb = nbformat.read(solutions / "99_fixture.ipynb", as_version=4)
    nb.cells[0].source += "\nNew instructions."
    nbformat.write(nb, solutions / "99_fixture.ipynb")
    (exercises / "98_orphan.ipynb").write_text("{}", encoding="utf-8")
    problems = stale_exercises(solutions, exercises)
    assert any("99_fixture.ipynb is out of date" in p for p in problems)
    assert any("98_orphan.ipynb has no solution" in p for p in problems)
    assert cli_main(["release", "--solutions", str(solutions), "--exercises", str(exercises), "--check"]) == 1

    (exercises / "99_fixture.ipynb").unlink()
    assert any("is missing" in p for p in stale_exercises(solutions, exercises))


def test_release_rejects_malformed_check_cells(tmp_path: Path) -> None:
    """A check cell must be exactly one check(...) call so the grader can capture it."""
    nb = nbformat.read(FIXTURES / "solutions" / "99_fixture.ipynb", as_version=4)
    nb.cells[3].source = 'x = 1\ncheck("99.squares", squares=squares)'
    src = tmp_path / "99_bad.ipynb"
    nbformat.write(nb, src)
    with pytest.raises(ValueError, match="exactly one statement"):
        release_notebook(src, tmp_path / "out.ipynb")
