"""End-to-end grader tests on the NumPy-only fixture lesson 99: honest and hostile submissions.

Every submission is graded in one sandboxed run (module fixture), each hostile one
followed by an honest one (a copy of ``perfect``), so a hostile submission can neither
stop the grading of the next ones nor change their grade. The run uses its own asset
mirror, Keras home, feature cache and temporary folder, which the tests then inspect.
The hostile cases, one or more per root cause, are the files of grading_fixtures/cases/, each
saying what it attacks and why it fails.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from course_utils.grading import sandbox
from course_utils.grading.grader import SubmissionResult, grade_submissions, plan_execution
from course_utils.grading.plan import StepKind

FIXTURES = Path(__file__).resolve().parent / "grading_fixtures"
SOLUTIONS = FIXTURES / "solutions"
CHECKS = FIXTURES / "fixture_checks.py"
MARKER = "course-hostile"
# CI sets COURSE_REQUIRE_SANDBOX=1: there, a missing sandbox fails these tests instead of skipping.
HAS_SANDBOX = sandbox.probe().available or bool(os.environ.get("COURSE_REQUIRE_SANDBOX"))
needs_sandbox = pytest.mark.skipif(not HAS_SANDBOX, reason=f"no sandbox: {sandbox.probe().description}")

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
    # Attacks on the grader (root causes of the sandbox issue), see grading_fixtures/cases/.
    "forge_artifacts": (0, 0, 0, 0),
    "plant_code": (0, 0, 0, 0),
    "prefill_results": (0, 0, 0, 0),
    "write_environment": (1, 0, 0, 0),
    "escape_children": (1, 0, 0, 0),
    "child_memory": (1, 0, 0, 0),
    "read_grader": (0, 0, 0, 0),
    "input_transformer": (0, 0, 0, 0),
}
REFUSED = {"lesson_path": "is not two digits", "symlink": "symbolic link"}
MEMORY_MB = 300
CELL_TIMEOUT = 10


def digest(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder`` (links by their target text)."""
    result = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            result[key] = "link:" + os.readlink(path)
        elif path.is_file():
            result[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            result[key] = "dir"
    return result


def outside_state(world: dict[str, Path]) -> dict[str, object]:
    """What a submission must not be able to change: assets, caches, kernelspec, site-packages."""
    import site

    kernels = Path(sys.prefix) / "share" / "jupyter" / "kernels"
    planted = sorted(str(p) for folder in site.getsitepackages() if Path(folder).is_dir()
                     for p in Path(folder).iterdir()
                     if MARKER.replace("-", "_") in p.name or p.name in ("sitecustomize.py",
                                                                          "usercustomize.py"))
    return {
        "mirror": digest(world["mirror"]),
        "keras_home": digest(world["keras_home"]),
        "cache": digest(world["cache"]),
        "kernelspec": digest(kernels) if kernels.is_dir() else {},
        "planted in site-packages": planted,
        "host /tmp markers": sorted(p.name for p in Path("/tmp").iterdir() if MARKER in p.name),
    }


def hostile_processes() -> list[str]:
    """Command lines of live processes started by a hostile submission (they carry MARKER)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(process.info.get("cmdline") or [])
        if MARKER in cmdline and process.info.get("status") != psutil.STATUS_ZOMBIE:
            found.append(cmdline[:120])
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """A private asset mirror, Keras home, feature cache and temp folder; environment set."""
    root = tmp_path_factory.mktemp("world")
    paths = {"mirror": root / "course-test-mirror", "keras_home": root / "keras_home",
             "cache": root / "cache", "tmp": root / "tmp"}
    (paths["mirror"] / "datasets" / "cats_and_dogs" / "validation" / "cats").mkdir(parents=True)
    (paths["mirror"] / "datasets" / "cats_and_dogs" / "validation" / "cats" / "1.jpg").write_bytes(
        b"a photo")
    (paths["keras_home"] / "models").mkdir(parents=True)
    (paths["keras_home"] / "models" / "weights.h5").write_bytes(b"weights")
    (paths["cache"] / "features").mkdir(parents=True)
    (paths["cache"] / "features" / "f.npy").write_bytes(b"features")
    paths["tmp"].mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_MIRROR", str(paths["mirror"]))
        patch.setenv("KERAS_HOME", str(paths["keras_home"]))
        patch.setenv("COURSE_CACHE", str(paths["cache"]))
        patch.setattr(tempfile, "tempdir", str(paths["tmp"]))
        yield paths


def label_case(label: str) -> str:
    """``99_07a_memory_hog.ipynb`` -> ``memory_hog``; honest copies -> ``honest after <case>``."""
    stem = Path(label).stem
    return stem.split("_", 2)[2] if stem.count("_") >= 2 else stem


@pytest.fixture(scope="module")
def graded(world: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    """Grade every case, each hostile one followed by an honest copy, in one sandboxed run."""
    if not HAS_SANDBOX:
        pytest.skip(f"no sandbox: {sandbox.probe().description}")
    out = tmp_path_factory.mktemp("grading")
    folder = out / "submissions"
    folder.mkdir()
    perfect = FIXTURES / "submissions" / "99_fixture-perfect.ipynb"
    cases = [*EXPECTED, "lesson_path"]
    for number, case in enumerate(cases):
        source = FIXTURES / "submissions" / f"99_fixture-{case}.ipynb"
        shutil.copy(source, folder / f"99_{number:02d}a_{case}.ipynb")
        if case not in ("perfect", "blank"):
            shutil.copy(perfect, folder / f"99_{number:02d}b_honest after {case}.ipynb")
    (folder / "99_90a_symlink.ipynb").symlink_to(SOLUTIONS / "99_fixture.ipynb")
    shutil.copy(perfect, folder / "99_90b_honest after symlink.ipynb")
    shutil.copy(SOLUTIONS / "99_fixture.ipynb", folder / "99_99_solution.ipynb")
    (folder / "collide").mkdir()
    shutil.copy(perfect, folder / "collide" / "99_x.ipynb")
    shutil.copy(FIXTURES / "submissions" / "99_fixture-blank.ipynb", folder / "collide__99_x.ipynb")
    before = outside_state(world)
    started = time.monotonic()
    results = grade_submissions([folder], solutions_dir=SOLUTIONS, csv=out / "grades.csv",
                                feedback_dir=out / "feedback", cell_timeout=CELL_TIMEOUT,
                                memory_limit_mb=MEMORY_MB, submission_timeout=60, check_timeout=60,
                                checks_modules=[CHECKS], sandbox_mode="require")
    seconds = time.monotonic() - started
    return {"results": {r.submission: r for r in results}, "out": out, "before": before,
            "after": outside_state(world), "processes": hostile_processes(),
            "tmp_left": sorted(p.name for p in world["tmp"].iterdir()), "seconds": seconds}


def by_case(graded: dict, case: str) -> SubmissionResult:
    return next(r for label, r in graded["results"].items() if label_case(label) == case)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_scores(graded: dict, case: str) -> None:
    """Each submission earns exactly the points its real work earns, in the sandbox."""
    result = by_case(graded, case)
    assert result.error is None
    assert result.sandbox is not None and result.sandbox.label == "bwrap"
    points = tuple(check.points for check in result.checks)
    assert points == EXPECTED[case], [(c.key, c.points, c.message) for c in result.checks]
    assert result.max_score == 6


def test_honest_submission_after_each_hostile_one_keeps_full_marks(graded: dict) -> None:
    """Nothing a hostile submission did changes the grade of the honest one graded next."""
    honest = {label: r for label, r in graded["results"].items() if "honest after" in label}
    assert len(honest) == len(EXPECTED) - 2 + 2  # every case but perfect/blank, lesson_path, symlink
    for label, result in honest.items():
        assert (result.score, result.max_score, result.error) == (6, 6, None), (label, result)


def test_refused_submissions(graded: dict) -> None:
    """A lesson id that is a path and a link to the solution are refused, with the reason."""
    for case, reason in REFUSED.items():
        result = by_case(graded, case)
        assert result.error and reason in result.error, result
        assert result.score == 0


def test_solution_scores_full_marks(graded: dict) -> None:
    """The solution notebook itself (with its hidden checks) earns every point."""
    result = by_case(graded, "solution")
    assert (result.score, result.max_score) == (6, 6)


def test_stop_reasons_are_explained(graded: dict) -> None:
    """Unrun checks say why: timeout, kernel death, memory limit (also through a child)."""
    assert f"timed out after {CELL_TIMEOUT} s" in by_case(graded, "infinite_loop").checks[1].message
    assert "kernel died" in by_case(graded, "os_exit").checks[1].message
    assert f"memory limit {MEMORY_MB} MB exceeded" in by_case(graded, "memory_hog").checks[1].message
    assert f"memory limit {MEMORY_MB} MB exceeded" in by_case(graded, "child_memory").checks[1].message
    assert "was not available" in by_case(graded, "blank").checks[0].message


def test_edited_and_deleted_check_cells_are_reported(graded: dict) -> None:
    """Edited check cells are replaced by the original and reported, in notes and feedback."""
    notes = by_case(graded, "edited_check").notes
    assert "check cell 4 (99.squares) was edited; the original was used" in notes
    assert "the check cell for 99.accuracy was deleted; the original was restored" in notes
    feedback = next((graded["out"] / "feedback").glob("*a_edited_check.md")).read_text()
    assert "was edited; the original was used" in feedback
    assert "| 99.squares | 0/1 |" in feedback
    assert not by_case(graded, "perfect").notes


def test_csv_is_complete_and_feedback_names_are_unique(graded: dict) -> None:
    """One CSV row per submission, with the sandbox column; one distinct feedback file each."""
    with (graded["out"] / "grades.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(graded["results"])
    assert {"submission", "sandbox", "score", "max_score", "99.squares", "error"} <= set(rows[0])
    assert {row["sandbox"] for row in rows} == {"bwrap"}
    assert not any(row["error"].startswith("not graded: the grading run") for row in rows)
    feedback = sorted((graded["out"] / "feedback").glob("*.md"))
    assert len(feedback) == len(rows)
    collided = [p for p in feedback if p.name.startswith("collide__99_x")]
    assert len(collided) == 2
    scores = sorted("Score: 6 / 6" in p.read_text() for p in collided)
    assert scores == [False, True]


def test_nothing_outside_the_sandbox_changed(graded: dict) -> None:
    """Assets, caches, the kernelspec and site-packages are as before; temp folders are clean."""
    assert graded["after"] == graded["before"]
    assert graded["tmp_left"] == []


def test_no_process_of_a_submission_is_alive(graded: dict) -> None:
    """The double-forked, setsid child of escape_children died with its sandbox."""
    assert graded["processes"] == []


@needs_sandbox
def test_output_flood_costs_the_grader_bounded_memory(tmp_path: Path) -> None:
    """240 MB printed by a submission: the grader's memory grows by far less; grading goes on."""
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(FIXTURES / "submissions" / "99_fixture-flood_output.ipynb", folder / "99_a_flood.ipynb")
    shutil.copy(FIXTURES / "submissions" / "99_fixture-perfect.ipynb", folder / "99_b_honest.ipynb")
    try:
        flood, honest = grade_submissions([folder], solutions_dir=SOLUTIONS, cell_timeout=120,
                                          memory_limit_mb=3000, submission_timeout=300,
                                          checks_modules=[CHECKS], sandbox_mode="require")
    finally:
        done.set()
        sampler.join()
    assert tuple(c.points for c in flood.checks) == (1, 0, 0, 0), flood
    assert honest.score == 6
    assert (peak[0] - baseline) / 2**20 < 120, f"grader grew by {(peak[0] - baseline) / 2**20:.0f} MB"


def test_without_a_sandbox_grading_works_and_says_so(tmp_path: Path, capfd: pytest.CaptureFixture[str]
                                                     ) -> None:
    """With the sandbox off: correct scores, and a warning on the terminal, in the CSV and feedback."""
    folder = tmp_path / "subs"
    folder.mkdir()
    for case in ("blank", "perfect"):
        shutil.copy(FIXTURES / "submissions" / f"99_fixture-{case}.ipynb", folder / f"99_{case}.ipynb")
    blank, perfect = grade_submissions([folder], solutions_dir=SOLUTIONS, csv=tmp_path / "g.csv",
                                       feedback_dir=tmp_path / "fb", cell_timeout=CELL_TIMEOUT,
                                       checks_modules=[CHECKS], sandbox_mode="off")
    assert (blank.score, perfect.score) == (0, 6)
    assert "WITHOUT a sandbox" in capfd.readouterr().err
    rows = list(csv.DictReader((tmp_path / "g.csv").open(newline="")))
    assert all(row["sandbox"].startswith("NONE") for row in rows)
    assert "Graded without a sandbox" in (tmp_path / "fb" / "99_perfect.md").read_text()


def test_plan_inserts_hidden_checks_and_restores_deleted_ones() -> None:
    """Hidden checks go right after their solution anchor; deleted checks come back."""
    solution = nbformat.read(SOLUTIONS / "99_fixture.ipynb", as_version=4)
    submission = nbformat.read(FIXTURES / "exercises" / "99_fixture.ipynb", as_version=4)
    submission.cells = [c for c in submission.cells if c.id != "squares-check"]
    steps, notes = plan_execution(solution, submission)
    kinds = [(s.kind, s.check.key if s.check else s.cell_number) for s in steps]
    assert kinds == [
        (StepKind.STUDENT, 2),
        (StepKind.STUDENT, 3),
        (StepKind.CAPTURE, "99.squares"),
        (StepKind.STUDENT, 4),
        (StepKind.CAPTURE, "99.normalise"),
        (StepKind.CAPTURE, "99.normalise_hidden"),
        (StepKind.STUDENT, 6),
        (StepKind.CAPTURE, "99.accuracy"),
    ]
    assert notes == ["the check cell for 99.squares was deleted; the original was restored"]
