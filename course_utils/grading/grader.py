"""Grade collected student notebooks against the solution notebooks, tamper-proof.

For each submission the grader builds the notebook to execute from the student's
cells, with every check cell replaced by a grader-generated capture cell (the
solution's check call decides which artifacts are captured, whatever the student
did to the cell) and hidden checks inserted at their solution positions. The
notebook runs in a fresh kernel; then a fresh Python process, using a private copy
of this package, loads the artifacts and runs the registered check functions.
"""

from __future__ import annotations

import csv as csv_module
import dataclasses
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course_utils import engine
from course_utils.engine import CellRun
from course_utils.grading.artifacts import capture_source
from course_utils.grading.notebook import (
    check_key,
    find_solution,
    is_check_cell,
    is_hidden_check_cell,
    lesson_of,
    parse_check_call,
    read_notebook,
)
from course_utils.grading.registry import get_check, load_checks_module

DEFAULT_CELL_TIMEOUT = 300.0
DEFAULT_MEMORY_LIMIT_MB = 4096.0
DEFAULT_SUBMISSION_TIMEOUT = 1800.0
DEFAULT_CHECK_TIMEOUT = 300.0
END = -1  # anchor meaning "after the last submission cell"

STOP_STATUSES = ("timeout", "died", "memory", "wall")


@dataclass(frozen=True)
class GradedCheck:
    """A graded position taken from the solution notebook (visible or hidden check)."""

    key: str
    name: str
    artifacts: dict[str, str]
    hidden: bool
    source: str
    cell_id: str
    solution_index: int
    max_points: float = 0.0


@dataclass(frozen=True)
class Step:
    """One cell of the notebook the grader executes: student code or an artifact capture."""

    kind: str  # "student" or "capture"
    source: str = ""
    check: GradedCheck | None = None
    cell_number: int | None = None  # 1-based position in the submission, if any


@dataclass
class CheckScore:
    """Points earned by one submission on one check, with the message for the student."""

    key: str
    name: str
    points: float
    max_points: float
    message: str = ""


@dataclass
class SubmissionResult:
    """Grading result of one submission notebook."""

    submission: str
    path: Path
    lesson: str | None
    checks: list[CheckScore] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def score(self) -> float:
        """Total points earned."""
        return sum(check.points for check in self.checks)

    @property
    def max_score(self) -> float:
        """Total points available."""
        return sum(check.max_points for check in self.checks)


def _snapshot_package() -> dict[str, bytes]:
    """Read this package's source files into memory (relative path -> bytes)."""
    root = Path(__file__).resolve().parents[1]
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


# Taken when the grader is imported, before any submission runs, so a submission that
# deletes the package directory cannot break the grading of the next ones.
PACKAGE_SNAPSHOT = _snapshot_package()


def _write_package(parent: Path) -> Path:
    """Write a private copy of the package under ``parent``; return ``parent``."""
    for relative, data in PACKAGE_SNAPSHOT.items():
        target = parent / "course_utils" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return parent


def collect_submissions(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders into a sorted, de-duplicated list of ``.ipynb`` files."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                p for p in sorted(path.rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts
            )
        elif path.suffix == ".ipynb":
            found.append(path)
        else:
            raise FileNotFoundError(f"not a notebook or folder: {path}")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique


def submission_labels(paths: list[Path]) -> list[str]:
    """Short unique labels: paths relative to the submissions' common folder."""
    if not paths:
        return []
    if len(paths) == 1:
        return [paths[0].name]
    common = Path(os.path.commonpath([str(p.parent) for p in paths]))
    return [str(p.relative_to(common)) for p in paths]


def solution_checks(solution: NotebookNode) -> list[GradedCheck]:
    """List the graded check cells of a solution notebook, in order."""
    checks = []
    for index, cell in enumerate(solution.cells):
        hidden = is_hidden_check_cell(cell)
        if not (hidden or is_check_cell(cell)):
            continue
        call = parse_check_call(cell.source)
        if call is None:
            raise ValueError(f"solution cell {index + 1} is not a single check(...) call")
        checks.append(
            GradedCheck(
                key=check_key(cell) or call.name,
                name=call.name,
                artifacts=call.artifacts,
                hidden=hidden,
                source=cell.source,
                cell_id=str(cell.get("id", "")),
                solution_index=index,
            )
        )
    return checks


def _same_source(a: str, b: str) -> bool:
    """Compare cell sources ignoring trailing whitespace on lines and at the end."""
    return [line.rstrip() for line in a.strip().splitlines()] == [
        line.rstrip() for line in b.strip().splitlines()
    ]


def _match_visible_checks(checks: list[GradedCheck], cells: list[NotebookNode]) -> dict[str, int]:
    """Map each visible check key to a submission cell index, by metadata, id, then call."""

    def by_metadata(cell: NotebookNode, check: GradedCheck) -> bool:
        return cell.get("metadata", {}).get("check_id") == check.key

    def by_cell_id(cell: NotebookNode, check: GradedCheck) -> bool:
        return bool(check.cell_id) and cell.get("id") == check.cell_id

    def by_call(cell: NotebookNode, check: GradedCheck) -> bool:
        call = parse_check_call(cell.source)
        return call is not None and call.name == check.name

    matched: dict[str, int] = {}
    for rule in (by_metadata, by_cell_id, by_call):
        for check in checks:
            if check.hidden or check.key in matched:
                continue
            for index, cell in enumerate(cells):
                if cell.cell_type == "code" and index not in matched.values():
                    if rule(cell, check):
                        matched[check.key] = index
                        break
    return matched


def plan_execution(
    solution: NotebookNode, submission: NotebookNode, checks: list[GradedCheck] | None = None
) -> tuple[list[Step], list[str]]:
    """Build the cells to execute for a submission, plus notes on edited/deleted checks."""
    checks = solution_checks(solution) if checks is None else checks
    cells = submission.cells
    matched = _match_visible_checks(checks, cells)
    key_at = {index: key for key, index in matched.items()}
    by_key = {check.key: check for check in checks}
    notes = []
    for check in checks:
        if check.hidden:
            continue
        if check.key not in matched:
            notes.append(f"the check cell for {check.key} was deleted; the original was restored")
        elif not _same_source(cells[matched[check.key]].source, check.source):
            number = matched[check.key] + 1
            notes.append(f"check cell {number} ({check.key}) was edited; the original was used")

    submission_ids = {}
    for index, cell in enumerate(cells):
        submission_ids.setdefault(cell.get("id"), index)
    solution_keys = {check.solution_index: check.key for check in checks}
    inserts: dict[int, list[GradedCheck]] = {}
    for check in checks:
        if check.key in matched:
            continue
        anchor = END
        for index in range(check.solution_index - 1, -1, -1):
            earlier_key = solution_keys.get(index)
            if earlier_key is not None:
                if earlier_key in matched:
                    anchor = matched[earlier_key]
                    break
                continue  # an inserted check: keep looking for a real anchor
            cell_id = solution.cells[index].get("id")
            if cell_id in submission_ids:
                anchor = submission_ids[cell_id]
                break
        inserts.setdefault(anchor, []).append(check)

    steps: list[Step] = []
    for index, cell in enumerate(cells):
        if cell.cell_type == "code":
            if index in key_at:
                steps.append(Step("capture", check=by_key[key_at[index]], cell_number=index + 1))
            else:
                steps.append(Step("student", source=cell.source, cell_number=index + 1))
        steps.extend(Step("capture", check=check) for check in inserts.get(index, []))
    steps.extend(Step("capture", check=check) for check in inserts.get(END, []))
    return steps, notes


def _kernel_env(package_parent: Path) -> dict[str, str]:
    """Environment of a student kernel: the private package copy first on PYTHONPATH."""
    return engine.kernel_env({"PYTHONPATH": str(package_parent), "MPLBACKEND": "Agg",
                              "PYTHONDONTWRITEBYTECODE": "1"})


def _stop_message(run: CellRun, step: Step) -> str:
    """Describe why execution stopped, naming the submission cell when known."""
    where = f"cell {step.cell_number}" if step.cell_number else "a grader cell"
    reasons = {
        "timeout": f"{where}: {run.detail}",
        "died": f"{where}: {run.detail}",
        "memory": f"{where}: {run.detail}",
        "wall": run.detail,
    }
    return reasons.get(run.status, run.detail)


def _run_checks(
    items: list[dict], checks_modules: list[str], private: Path, timeout: float
) -> tuple[dict[str, dict], str | None]:
    """Run captured checks in a fresh process; return results by key and an error, if any."""
    workdir = private / "checkrun"
    package_parent = _write_package(workdir / "pkg")
    job_path = workdir / "job.json"
    results_path = workdir / "results.jsonl"
    job_path.write_text(json.dumps({"checks_modules": checks_modules, "items": items}))
    env = _kernel_env(package_parent)
    error = None
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "course_utils.grading.worker", str(job_path), str(results_path)],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if completed.returncode != 0:
            tail = completed.stderr.strip().splitlines()[-1:] or ["no error output"]
            error = f"the check process failed: {tail[0]}"
    except subprocess.TimeoutExpired:
        error = f"the check process timed out after {timeout:g} s"
    results: dict[str, dict] = {}
    if results_path.exists():
        for line in results_path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            results[record["key"]] = record
    return results, error


def _private_checks_modules(checks_modules: list[str], private: Path) -> list[str]:
    """Snapshot checks modules given as ``.py`` paths into ``private``; keep dotted names."""
    result = []
    for module in checks_modules:
        if module.endswith(".py") or os.sep in module or "/" in module:
            source = Path(module).read_bytes()
            target = private / "checks_modules" / Path(module).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source)
            result.append(str(target))
        else:
            result.append(module)
    return result


def grade_submission(
    path: Path,
    label: str,
    solutions_dir: str | Path,
    checks_modules: list[str],
    cell_timeout: float,
    memory_limit_mb: float,
    submission_timeout: float,
    check_timeout: float,
) -> SubmissionResult:
    """Grade one submission notebook; never raises for problems caused by the submission."""
    result = SubmissionResult(submission=label, path=path, lesson=None)
    try:
        submission = read_notebook(path)
    except Exception as error:
        result.error = f"could not read the notebook: {type(error).__name__}: {error}"
        return result
    result.lesson = lesson_of(path, submission)
    if result.lesson is None:
        result.error = "cannot tell the lesson (no course.lesson metadata, no NN_ prefix)"
        return result
    solution_path = find_solution(result.lesson, solutions_dir)
    solution = read_notebook(solution_path)
    checks = [
        dataclasses.replace(check, max_points=get_check(check.name).points)
        for check in solution_checks(solution)
    ]
    scores = {c.key: CheckScore(c.key, c.name, 0.0, c.max_points) for c in checks}
    result.checks = list(scores.values())
    steps, result.notes = plan_execution(solution, submission, checks)

    scratch = Path(tempfile.mkdtemp(prefix="grade-kernel-"))
    private = Path(tempfile.mkdtemp(prefix="grade-private-"))
    try:
        workdir = scratch / "work"
        workdir.mkdir()
        shutil.copy2(path, workdir / path.name)
        package_parent = _write_package(scratch / "pkg")
        capture_dirs: dict[int, Path] = {}
        stored: dict[str, Path] = {}
        sources = []
        for index, step in enumerate(steps):
            if step.kind == "capture":
                assert step.check is not None
                capture_dirs[index] = scratch / "capture" / secrets.token_hex(8)
                sources.append(
                    capture_source(step.check.key, step.check.artifacts, capture_dirs[index])
                )
            else:
                sources.append(step.source)

        def after_cell(index: int, run: CellRun) -> None:
            """Move fresh artifacts out of the student's reach right after capture."""
            step = steps[index]
            if step.kind == "capture" and step.check is not None:
                target = private / "artifacts" / f"check{index}"
                if capture_dirs[index].exists():
                    shutil.move(str(capture_dirs[index]), target)
                else:
                    target.mkdir(parents=True)
                stored[step.check.key] = target

        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
        runs = engine.execute(
            nb,
            workdir,
            _kernel_env(package_parent),
            cell_timeout,
            memory_limit_mb=memory_limit_mb,
            wall_timeout=submission_timeout,
            after_cell=after_cell,
        )
        stop = next(
            (
                _stop_message(run, steps[i])
                for i, run in enumerate(runs)
                if run.status in STOP_STATUSES
            ),
            None,
        )
        if stop:
            result.notes.append(f"execution stopped: {stop}")
        for step, run in zip(steps, runs, strict=True):
            if step.kind == "student" and run.status == "error":
                result.notes.append(f"cell {step.cell_number} raised {run.detail}")

        items = []
        for step, run in zip(steps, runs, strict=True):
            if step.kind != "capture" or step.check is None:
                continue
            score = scores[step.check.key]
            if step.check.key in stored and run.status in ("ok", "error"):
                items.append(
                    {
                        "key": step.check.key,
                        "check": step.check.name,
                        "artifacts": list(step.check.artifacts),
                        "dir": str(stored[step.check.key]),
                    }
                )
            elif run.status in STOP_STATUSES:
                score.message = f"not graded: {_stop_message(run, step)}"
            else:
                score.message = f"not graded: the notebook stopped earlier ({stop})"
        if items:
            private_modules = _private_checks_modules(checks_modules, private)
            outcomes, error = _run_checks(items, private_modules, private, check_timeout)
            for item in items:
                score = scores[item["key"]]
                record = outcomes.get(item["key"])
                if record is None:
                    score.message = error or "the check did not report a result"
                    continue
                score.points = min(max(float(record["points"]), 0.0), score.max_points)
                score.message = str(record["message"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)
    return result


def grade_submissions(
    paths: list[str | Path],
    solutions_dir: str | Path = "solutions",
    csv: str | Path | None = None,
    feedback_dir: str | Path | None = None,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    memory_limit_mb: float = DEFAULT_MEMORY_LIMIT_MB,
    submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT,
    check_timeout: float = DEFAULT_CHECK_TIMEOUT,
    checks_modules: list[str | Path] | None = None,
    verbose: bool = False,
) -> list[SubmissionResult]:
    """Grade notebooks (files or folders); optionally write a CSV and feedback files."""
    modules = [
        str(Path(m).resolve()) if str(m).endswith(".py") else str(m) for m in checks_modules or []
    ]
    for module in modules:
        load_checks_module(module)
    # Import everything grading needs before any student code runs.
    import course_utils.grading.worker  # noqa: F401

    submissions = collect_submissions(paths)
    results = []
    for path, label in zip(submissions, submission_labels(submissions), strict=True):
        started = time.monotonic()
        try:
            result = grade_submission(
                path,
                label,
                solutions_dir,
                modules,
                cell_timeout,
                memory_limit_mb,
                submission_timeout,
                check_timeout,
            )
        except Exception as error:  # a broken solution or grader bug: report, go on
            result = SubmissionResult(label, path, None, error=f"{type(error).__name__}: {error}")
        results.append(result)
        if verbose:
            elapsed = time.monotonic() - started
            print(f"graded {label}: {result.score:g}/{result.max_score:g} ({elapsed:.0f} s)")
        if feedback_dir is not None:
            write_feedback(result, feedback_dir)
    if csv is not None:
        write_csv(results, csv)
    return results


def check_columns(results: list[SubmissionResult]) -> list[str]:
    """Check keys of all results, in order of first appearance."""
    return list(dict.fromkeys(check.key for result in results for check in result.checks))


def write_csv(results: list[SubmissionResult], path: str | Path) -> Path:
    """Write one row per submission: submission, lesson, score, max_score, one column per check."""
    path = Path(path)
    columns = check_columns(results)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv_module.writer(handle)
        writer.writerow(["submission", "lesson", "score", "max_score", *columns, "error"])
        for result in results:
            points = {check.key: f"{check.points:g}" for check in result.checks}
            writer.writerow(
                [
                    result.submission,
                    result.lesson or "",
                    f"{result.score:g}",
                    f"{result.max_score:g}",
                    *(points.get(column, "") for column in columns),
                    result.error or "",
                ]
            )
    return path


def feedback_markdown(result: SubmissionResult) -> str:
    """Feedback for one student: score, each check with points and message, and notes."""
    lines = [f"# Feedback: {result.submission}", ""]
    if result.error:
        lines += [f"**Could not grade this notebook:** {result.error}", ""]
    lines += [f"**Score: {result.score:g} / {result.max_score:g}**", ""]
    if result.checks:
        lines += ["| check | points | message |", "|---|---|---|"]
        for check in result.checks:
            message = check.message.replace("|", "\\|").replace("\n", " ") or "passed"
            lines.append(f"| {check.key} | {check.points:g}/{check.max_points:g} | {message} |")
        lines.append("")
    if result.notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in result.notes] + [""]
    return "\n".join(lines)


def write_feedback(result: SubmissionResult, feedback_dir: str | Path) -> Path:
    """Write ``<feedback_dir>/<submission label>.md`` (slashes become ``__``)."""
    directory = Path(feedback_dir)
    directory.mkdir(parents=True, exist_ok=True)
    name = result.submission.replace("/", "__").replace("\\", "__")
    target = directory / f"{Path(name).with_suffix('').name}.md"
    target.write_text(feedback_markdown(result), encoding="utf-8")
    return target
