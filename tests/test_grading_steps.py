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
    folder = tmp_path / "exchange" / "out" / "step3"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"z": {"kind": "npy"}}))
    (folder / "z.npy").write_bytes(b"\x93NUMPY" + b"x" * 100)
    (folder / "unexpected.py").write_text("import os")
    return folder


STEP3 = ["out", "step3"]


def test_collect_capture_copies_only_expected_regular_files(tmp_path: Path) -> None:
    """Expected names are copied; unexpected ones ignored; links and FIFOs refused and reported."""
    folder = capture_folder(tmp_path)
    exchange = tmp_path / "exchange"
    problems = collect_capture(exchange, STEP3, ["z"], tmp_path / "a", 10_000, 10_000)
    assert problems == [] and sorted(p.name for p in (tmp_path / "a").iterdir()) == ["manifest.json", "z.npy"]
    (folder / "z.npy").unlink()
    (folder / "z.npy").symlink_to("/etc/passwd")
    os.mkfifo(folder / "z.json")
    problems = collect_capture(exchange, STEP3, ["z"], tmp_path / "b", 10_000, 10_000)
    assert any("z.npy" in p and "symbolic link" in p for p in problems)
    assert any("z.json" in p and "not a regular file" in p for p in problems)
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["manifest.json"]


def test_collect_capture_limits_sizes_and_refuses_a_swapped_folder(tmp_path: Path) -> None:
    """A file over the limit is left behind; a capture folder, or a folder above it, swapped for a
    link is refused: nothing is read through it (the link points at host files with expected names)."""
    folder = capture_folder(tmp_path)
    exchange = tmp_path / "exchange"
    problems = collect_capture(exchange, STEP3, ["z"], tmp_path / "a", 50, 10_000)
    assert any("z.npy" in p and "limit" in p for p in problems)
    (exchange / "out" / "step4").symlink_to(folder)
    assert "replaced by a link" in collect_capture(exchange, ["out", "step4"], ["z"], tmp_path / "b",
                                                   10_000, 10_000)[0]
    (exchange / "out").rename(exchange / "moved")
    (exchange / "out").symlink_to(exchange / "moved")
    assert "replaced by a link" in collect_capture(exchange, STEP3, ["z"], tmp_path / "c", 10_000, 10_000)[0]
    assert list((tmp_path / "c").iterdir()) == []
    assert collect_capture(exchange, ["moved", "missing"], ["z"], tmp_path / "d", 10, 10) == []


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
    works = sandbox.SandboxStatus(sandbox.SandboxState.WORKS, "bubblewrap 0.8.0")
    results = [grader.SubmissionResult("a.ipynb", Path("a.ipynb"), "99", sandbox=works,
                                       checks=[grader.CheckScore("99.a", "99.a", 1, 2)]),
               grader.SubmissionResult("b.ipynb", Path("b.ipynb"), None,
                                       sandbox=sandbox.SandboxStatus(sandbox.SandboxState.OFF, "off"),
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
    works = sandbox.SandboxStatus(sandbox.SandboxState.WORKS, "test")
    config = grader.GradingConfig(solutions_dir=SOLUTIONS, sandbox=works, hidden_paths=(SOLUTIONS.resolve(),))
    box = grader.Box(tmp_path / "box", sandboxed=True)
    spec = sandbox.SandboxSpec((sandbox.Mount(sandbox.MountKind.RO, "/x", str(FIXTURES)),))
    with pytest.raises(RuntimeError, match="would show"):
        grader._refuse_exposure(spec, box, config)
    visible = sandbox.SandboxSpec((sandbox.Mount(sandbox.MountKind.RO, "/x", str(tmp_path)),))
    grader._refuse_exposure(visible, box, config)


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


NASTY = ("\ud800 \x1b[2K\rgraded x: 6/6 **Score: 6 / 6** <img src=x onerror=alert(1)> "
         "[full marks](javascript:alert(1)) www.example.com | # heading")


def test_every_sink_gets_text_it_can_hold_and_shows_nothing_it_would_interpret() -> None:
    from course_utils.grading import reports

    assert reports.safe_text("\ud800x\udcff").encode("utf-8") == "\ufffdx\ufffd".encode()
    assert reports.safe_text(os.fsdecode(b"a\xffb")) == "a\ufffdb"
    assert reports.safe_text(Path(os.fsdecode(b"\xfe.ipynb"))) == "\ufffd.ipynb"
    for start in "=+-@|":
        assert reports.for_csv(start + "1+1").startswith("'")
    assert reports.for_csv("\t=1+1") == "?=1+1" and reports.for_csv("\x1b[31m") == "?[31m"
    assert reports.for_csv("ana.ipynb") == "ana.ipynb"
    terminal = reports.for_terminal(NASTY)
    assert "\x1b" not in terminal and "\r" not in terminal and "\ud800" not in terminal
    markdown = reports.for_markdown(NASTY)
    for raw in ("<img", "](javascript", "**Score", "www.example", "| #", "\x1b"):
        assert raw not in markdown, raw


def test_a_submission_with_unencodable_strings_still_gets_its_row_and_feedback(tmp_path: Path) -> None:
    """A lone surrogate in a label, a message, a note and an error: files written, nothing raised."""
    check = grader.CheckScore("99.a", "99.a", 1, 2, message=NASTY)
    result = grader.SubmissionResult(os.fsdecode(b"=bad\xff.ipynb"), Path("x"), "99", checks=[check],
                                     notes=[NASTY], error=NASTY, sandbox=sandbox.SandboxStatus(
                                         sandbox.SandboxState.WORKS, "bubblewrap"))
    grader.write_csv([result], tmp_path / "g.csv")
    path = grader.write_feedback(result, tmp_path / "fb")
    row = next(csv.DictReader((tmp_path / "g.csv").open(newline="", encoding="utf-8")))
    assert row["submission"] == "'=bad\ufffd.ipynb" and row["error"].startswith("\ufffd")
    assert path.read_text(encoding="utf-8").count("**Score:") == 1


def test_a_report_that_cannot_be_written_is_reported_and_the_run_goes_on(tmp_path: Path) -> None:
    """Writing one submission's feedback fails: its row says so; the CSV is written all the same."""
    result = grader.SubmissionResult("a.ipynb", Path("a.ipynb"), "99")
    blocked = tmp_path / "feedback"
    blocked.write_text("a file where the feedback folder should be")
    grader._report(result, 0, ["a.md"], [result], tmp_path / "g.csv", blocked, verbose=True)
    assert result.error and "feedback file could not be written" in result.error
    row = next(csv.DictReader((tmp_path / "g.csv").open(newline="")))
    assert "feedback file could not be written" in row["error"]


def test_a_notebook_built_to_explode_when_parsed_is_refused_not_parsed(tmp_path: Path) -> None:
    """64 MB of ``[[],[],...`` would be 1.2 GB of lists: it is parsed in a child with a memory limit."""
    bomb = tmp_path / "99_bomb.ipynb"
    bomb.write_bytes(b'{"cells": [], "metadata": {"x": [' + b"[]," * (20 * 2**20) + b'[]]}, "nbformat": 4}')
    with pytest.raises(grader.SubmissionRefused, match="needs more than"):
        grader.read_submission(bomb)
    data, nb = grader.read_submission(BLANK)  # an honest one: only what grading reads is kept
    assert nb.metadata["course"]["lesson"] == "99" and all(not c.get("outputs") for c in nb.cells)


def test_an_executor_that_runs_out_of_memory_stops_that_submission_only(tmp_path: Path) -> None:
    """The process that reads the kernel has its own memory limit: past it, it dies; the grader
    reports the cell where that happened as stopped, with why, and everything is cleaned up."""
    from course_utils.grading import executor

    folder = tmp_path / "executor"
    folder.mkdir()
    job = executor.Job(sources=["x = 1", "y = 2"], cwd=str(tmp_path), env={}, wrap=[], cell_timeout=10,
                       memory_limit_mb=300, wall_timeout=60, ipc_dir=None, connection_dir=None,
                       socket_dir=None, folders=[], folder_bytes=2**20, folder_entries=10, max_processes=8,
                       exchange=str(tmp_path), memory_mb=0.01)
    outcome = executor.run(job, folder, Path(grader.__file__).resolve().parents[2], timeout=60)
    assert outcome.stats is None and outcome.failure and "more memory" in outcome.failure
    runs = outcome.cell_runs(2)
    assert runs[0].status is CellStatus.LIMIT and "more memory than the grader allows" in runs[0].detail
    assert runs[1].status is CellStatus.NOT_RUN
