"""The grading pipeline's steps one by one, without a kernel: read, plan, collect, score, report."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import nbformat
import pytest

from course_utils.engine import CellRun, CellStatus
from course_utils.grading import grader, sandbox
from course_utils.grading.artifacts import UnsafeFile, collect_capture, read_bounded
from course_utils.grading.notebook import find_solution, lesson_of

FIXTURES = Path(__file__).resolve().parent / "grading_fixtures"
SOLUTIONS = FIXTURES / "solutions"
BLANK = FIXTURES / "submissions" / "99_fixture-blank.ipynb"


def test_fixture_submissions_are_their_case_files() -> None:
    """The committed fixture notebooks are what make_fixtures.py builds from cases/ (no stale copy)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    exercise = nbformat.read(FIXTURES / "exercises" / "99_fixture.ipynb", as_version=4)
    cases = make.cases()
    assert {f"99_fixture-{case.stem}.ipynb" for case in cases} == {
        path.name for path in (FIXTURES / "submissions").glob("*.ipynb")}
    for case in cases:
        expected = make.notebook_text(make.submission(exercise, case))
        assert (FIXTURES / "submissions" / f"99_fixture-{case.stem}.ipynb").read_text() == expected, (
            f"run: python tests/grading_fixtures/make_fixtures.py ({case.name} changed)")


def test_read_submission_refuses_links_fifos_and_oversized_files(tmp_path: Path) -> None:
    """Only a regular notebook file within the size limit is read; nothing blocks."""
    link = tmp_path / "99_link.ipynb"
    link.symlink_to(SOLUTIONS / "99_fixture.ipynb")
    with pytest.raises(grader.SubmissionRefused, match="symbolic link"):
        grader.read_submission(link)
    fifo = tmp_path / "99_fifo.ipynb"
    os.mkfifo(fifo)
    with pytest.raises(grader.SubmissionRefused, match="not a regular file"):
        grader.read_submission(fifo)  # a FIFO with no writer: refused at once, no hang
    with pytest.raises(grader.SubmissionRefused, match="over the"):
        grader.read_submission(BLANK, max_bytes=100)
    (tmp_path / "99_bad.ipynb").write_text("{not json")
    with pytest.raises(grader.SubmissionRefused, match="could not read"):
        grader.read_submission(tmp_path / "99_bad.ipynb")
    data, nb = grader.read_submission(BLANK)
    assert data == BLANK.read_bytes() and nb.cells


def test_lesson_ids_are_two_digits() -> None:
    """A lesson id from metadata or a file name is two digits, never a path or a pattern."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["course"] = {"lesson": "../submissions/99"}
    with pytest.raises(ValueError, match="not two digits"):
        lesson_of("x.ipynb", nb)
    nb.metadata["course"] = {"lesson": "07"}
    assert lesson_of("x.ipynb", nb) == "07"
    assert lesson_of("123_x.ipynb", nbformat.v4.new_notebook()) is None
    with pytest.raises(ValueError, match="two digits"):
        find_solution("9*", SOLUTIONS)


def test_collect_submissions_lists_links_instead_of_following_them(tmp_path: Path) -> None:
    """A linked notebook or folder is listed (to be refused and reported), never followed."""
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "99_a.ipynb").write_bytes(BLANK.read_bytes())
    (tmp_path / "linked_folder").symlink_to(SOLUTIONS)
    (tmp_path / "99_link.ipynb").symlink_to(BLANK)
    (tmp_path / "real" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "real" / ".ipynb_checkpoints" / "99_a-checkpoint.ipynb").write_text("{}")
    found = [p.relative_to(tmp_path).as_posix() for p in grader.collect_submissions([tmp_path])]
    assert found == ["99_link.ipynb", "linked_folder", "real/99_a.ipynb"]


def capture_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "exchange" / "step3"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"z": {"kind": "npy"}}))
    (folder / "z.npy").write_bytes(b"\x93NUMPY" + b"x" * 100)
    (folder / "unexpected.py").write_text("import os")
    return folder


def test_collect_capture_copies_only_expected_regular_files(tmp_path: Path) -> None:
    """Expected names are copied; unexpected ones ignored; links and FIFOs refused and reported."""
    folder = capture_folder(tmp_path)
    problems = collect_capture(folder, ["z"], tmp_path / "a", 10_000, 10_000)
    assert problems == [] and sorted(p.name for p in (tmp_path / "a").iterdir()) == ["manifest.json", "z.npy"]
    (folder / "z.npy").unlink()
    (folder / "z.npy").symlink_to("/etc/passwd")
    os.mkfifo(folder / "z.json")
    problems = collect_capture(folder, ["z"], tmp_path / "b", 10_000, 10_000)
    assert any("z.npy" in p and "symbolic link" in p for p in problems)
    assert any("z.json" in p and "not a regular file" in p for p in problems)
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["manifest.json"]


def test_collect_capture_limits_sizes_and_refuses_a_replaced_folder(tmp_path: Path) -> None:
    """A file over the limit is left behind; a capture folder swapped for a link is refused."""
    folder = capture_folder(tmp_path)
    problems = collect_capture(folder, ["z"], tmp_path / "a", 50, 10_000)
    assert any("z.npy" in p and "limit" in p for p in problems)
    linked = tmp_path / "exchange" / "step4"
    linked.symlink_to(folder)
    assert "replaced by a link" in collect_capture(linked, ["z"], tmp_path / "b", 10_000, 10_000)[0]
    assert collect_capture(tmp_path / "missing", ["z"], tmp_path / "c", 10, 10) == []


def test_read_bounded_never_reads_more_than_the_limit(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 1000)
    assert read_bounded(tmp_path / "f", 1000) == b"x" * 1000
    with pytest.raises(UnsafeFile, match="limit"):
        read_bounded(tmp_path / "f", 999)


def test_results_file_only_counts_expected_keys(tmp_path: Path) -> None:
    """The worker's results: unknown keys, broken lines and repeated keys are ignored."""
    lines = [{"key": "99.a", "points": 1, "message": "ok"}, {"key": "99.evil", "points": 99,
                                                             "message": ""},
             {"key": "99.a", "points": 99, "message": "second"}]
    (tmp_path / "r.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    assert grader._read_results(tmp_path / "r.jsonl", {"99.a", "99.b"}) == {
        "99.a": grader.Outcome(1.0, "ok")}
    assert grader._read_results(tmp_path / "missing.jsonl", {"99.a"}) == {}


def plan() -> tuple[list[grader.GradedCheck], list[grader.Step]]:
    solution = grader.read_notebook(SOLUTIONS / "99_fixture.ipynb")
    checks = grader.solution_checks(solution)
    checks = [grader.dataclasses.replace(c, max_points=2) for c in checks]
    steps, _ = grader.plan_execution(solution, grader.read_notebook(BLANK), checks)
    return checks, steps


def test_classify_stops_and_score_checks() -> None:
    """A timeout in cell 5 stops execution: later checks say why, earlier ones keep their points."""
    checks, steps = plan()
    runs = [CellRun(CellStatus.OK), CellRun(CellStatus.ERROR, "NameError: x"), CellRun(CellStatus.OK),
            CellRun(CellStatus.TIMEOUT, "cell timed out after 9 s"), *[CellRun() for _ in steps[4:]]]
    grading = grader.Grading(checks, steps, runs, collected={"99.squares": Path("/nowhere")},
                             outcomes={"99.squares": grader.Outcome(5.0, "too many")})
    notes = grader.classify_stops(grading)
    assert grading.stop == "cell 5: cell timed out after 9 s"
    assert notes == ["execution stopped: cell 5: cell timed out after 9 s", "cell 3 raised NameError: x"]
    scores = grader.score_checks(grading)
    assert [(s.key, s.points) for s in scores] == [("99.squares", 2.0), ("99.normalise", 0.0),
                                                   ("99.normalise_hidden", 0.0), ("99.accuracy", 0.0)]
    assert scores[1].message == "not graded: the notebook stopped earlier (cell 5: cell timed out after 9 s)"
    runs[4] = CellRun(CellStatus.MEMORY, "memory limit 9 MB exceeded")  # the capture cell itself
    scores = grader.score_checks(grading)
    assert scores[1].message == "not graded: cell 6: memory limit 9 MB exceeded"
    grading.problems = {"99.squares": "z.npy was not collected"}
    scores = grader.score_checks(grading)
    assert (scores[0].points, scores[0].message) == (0.0, "not graded: z.npy was not collected")


def test_feedback_names_are_unique_and_safe() -> None:
    names = grader.feedback_names(["a/b.ipynb", "a__b.ipynb", "../../etc/passwd", "x y.ipynb"])
    assert names[0] == "a__b.md" and names[1].startswith("a__b-") and names[1] != names[0]
    assert all("/" not in name and not name.startswith(".") for name in names)
    assert names[3] == "x_y.md"


def test_csv_lists_every_submission_with_its_sandbox(tmp_path: Path) -> None:
    results = [grader.SubmissionResult("a.ipynb", Path("a.ipynb"), "99",
                                       sandbox=sandbox.SandboxStatus(True, "bubblewrap 0.8.0"),
                                       checks=[grader.CheckScore("99.a", "99.a", 1, 2)]),
               grader.SubmissionResult("b.ipynb", Path("b.ipynb"), None,
                                       sandbox=sandbox.SandboxStatus(False, "off"),
                                       error="refused: x")]
    target = tmp_path / "g.csv"
    target.symlink_to(tmp_path / "elsewhere.csv")  # replaced, not followed
    grader.write_csv(results, target)
    rows = list(csv.DictReader(target.open(newline="")))
    assert not target.is_symlink() and not (tmp_path / "elsewhere.csv").exists()
    assert [(r["submission"], r["sandbox"], r["score"], r["99.a"], r["error"]) for r in rows] == [
        ("a.ipynb", "bwrap", "1", "1", ""), ("b.ipynb", "NONE (off)", "0", "", "refused: x")]


def test_a_sandbox_never_shows_the_solutions(tmp_path: Path) -> None:
    """Grading stops with a set-up error when a folder bound into the sandbox holds the solutions."""
    config = grader.GradingConfig(solutions_dir=SOLUTIONS, sandbox=sandbox.SandboxStatus(True, "test"),
                                  hidden_paths=(SOLUTIONS.resolve(),))
    box = grader.Box(tmp_path / "box", sandboxed=True)
    spec = sandbox.SandboxSpec((sandbox.Mount("ro", "/x", str(FIXTURES)),))
    with pytest.raises(RuntimeError, match="would show"):
        grader._refuse_exposure(spec, box, config)
    grader._refuse_exposure(sandbox.SandboxSpec((sandbox.Mount("ro", "/x", str(tmp_path)),)), box, config)


def test_kernel_environment_passes_nothing_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The kernel's environment is built, not inherited: a grader secret never reaches it."""
    monkeypatch.setenv("GITHUB_TOKEN", "secret")
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    for sandboxed in (True, False):
        env = grader.kernel_environment(grader.Box(tmp_path, sandboxed=sandboxed))
        assert "GITHUB_TOKEN" not in env and env["COURSE_PROFILE"] == "smoke"
        assert env["COURSE_OFFLINE"] == "1"


def test_doctor_says_loudly_when_grading_would_not_be_sandboxed(monkeypatch: pytest.MonkeyPatch) -> None:
    from course_utils.cli.doctor import sandbox_row

    sandbox.probe.cache_clear()
    monkeypatch.setenv("COURSE_BWRAP", "/nonexistent/bwrap")
    try:
        assert sandbox_row().startswith("NONE: bubblewrap is not installed")
    finally:
        sandbox.probe.cache_clear()
