"""``python -m course_utils run``: execute lessons headless, write notebooks + HTML, summarise."""

from __future__ import annotations

import ast
import copy
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_utils import engine, lessons, profiles, report
from course_utils.cli.table import format_table

ROOT = Path(__file__).resolve().parents[2]
PARAMETERS_TAG = "parameters"


@dataclass
class LessonResult:
    """How one executed lesson went."""

    lesson: str
    status: str  # "ok" or "FAILED"
    minutes: float
    headline: str
    error: str = ""
    headlines: list[dict] = field(default_factory=list)
    notebook: Path | None = None
    html: Path | None = None


def find_lessons(selectors: list[str] | None = None) -> list[Path]:
    """Lesson notebooks: every lesson, or those named by number, name or path (``01``, ``05_data``)."""
    if not selectors:
        return [lesson.notebook for lesson in lessons.all_lessons()]
    chosen = []
    for sel in selectors:
        path = Path(sel)
        if path.suffix == ".ipynb" and path.exists():
            chosen.append(path)
            continue
        try:
            chosen.append(lessons.find(sel).notebook)
        except LookupError as error:
            raise SystemExit(str(error)) from None
    return chosen


def inject_parameters(nb: nbformat.NotebookNode, params: dict) -> nbformat.NotebookNode:
    """Insert a cell setting ``params`` right after the ``parameters`` cell (papermill style)."""
    if not params:
        return nb
    nb = copy.deepcopy(nb)
    source = "# Injected parameters\n" + "\n".join(f"{k} = {v!r}" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    index = next((i + 1 for i, c in enumerate(nb.cells)
                  if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])), 0)
    nb.cells.insert(index, cell)
    return nb


def execute_notebook(
    path: Path,
    out_dir: Path | None = None,
    profile: str | None = None,
    params: dict | None = None,
    timeout: int = 1800,
    html: bool = True,
    env: dict[str, str] | None = None,
) -> LessonResult:
    """Execute one notebook in a fresh kernel under ``profile``; write it (and HTML) to ``out_dir``.

    ``env`` adds to the kernel's environment. Never raises for a failing cell: the
    result says which error stopped the lesson.
    """
    path = Path(path)
    profile = profile or profiles.current_name()
    nb = inject_parameters(nbformat.read(path, as_version=4), params or {})
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        report_file = Path(tmp) / "headlines.jsonl"
        kernel_env = engine.kernel_env({
            "COURSE_PROFILE": profile, report.ENV_VAR: str(report_file),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline", **(env or {})})
        log = Path(out_dir) / f"{path.stem}.kernel.log" if out_dir is not None else None
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.unlink(missing_ok=True)
        runs = engine.execute(nb, path.parent, kernel_env, timeout, stop_on_error=True, kernel_log=log)
        headlines = report.read_headlines(report_file)
    stop = engine.first_stop(runs)
    error = "" if stop is None else f"cell {stop[0] + 1}: {stop[1].detail or stop[1].status.value}"[:400]
    result = LessonResult(
        lesson=path.stem,
        status="FAILED" if error else "ok",
        minutes=(time.perf_counter() - start) / 60,
        headline="; ".join(f"{h['label']}: {h['value']}" for h in headlines) or "-",
        error=error,
        headlines=headlines,
    )
    if out_dir is not None:
        out_dir = Path(out_dir)
        result.notebook = out_dir / path.name
        nbformat.write(nb, result.notebook)
        if html:
            from nbconvert import HTMLExporter

            body, _ = HTMLExporter().from_notebook_node(nb)
            result.html = out_dir / f"{path.stem}.html"
            result.html.write_text(body, encoding="utf-8")
    return result


def summary_table(results: list[LessonResult]) -> str:
    """Return the run summary: lesson, status, minutes, headline number."""
    rows = [{"lesson": r.lesson, "status": r.status, "minutes": f"{r.minutes:.1f}",
             "headline": r.headline if r.status == "ok" else r.error} for r in results]
    return format_table(rows, ["lesson", "status", "minutes", "headline"])


def parse_params(items: list[str]) -> dict:
    """Parse ``NAME=VALUE`` overrides (VALUE as a Python literal, else a string).

    NAME may be ``SIZES.knob``: one of the lesson's per-profile sizes (``profiles.lesson_sizes``).
    """
    params = {}
    for item in items:
        name, _, value = item.partition("=")
        if not all(part.isidentifier() for part in name.split(".")) or name.count(".") > 1 or not _:
            raise SystemExit(f"-p expects NAME=VALUE, got {item!r}")
        try:
            params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[name] = value
    return params


def run(selectors: list[str] | None = None, profile: str | None = None, out_dir: Path | None = None,
        params: dict | None = None, timeout: int = 1800) -> list[LessonResult]:
    """Execute lessons one after another, printing progress and the summary table."""
    lessons = find_lessons(selectors)
    out_dir = Path(out_dir or ROOT / "build")
    profile = profile or profiles.current_name()
    results = []
    print(f"Running {len(lessons)} lesson(s) in the {profile!r} profile; output in {out_dir}/")
    for i, path in enumerate(lessons, 1):
        print(f"[{i}/{len(lessons)}] {path.stem} ...", flush=True)
        result = execute_notebook(path, out_dir, profile, params, timeout)
        print(f"      {result.status} in {result.minutes:.1f} min"
              + (f" -- {result.error}" if result.error else ""), flush=True)
        results.append(result)
        report.write_summary(out_dir, {result.lesson: report.summary_entry(
            profile, result.status, result.minutes, result.headlines, result.error, params)})
    print()
    print(summary_table(results))
    print(f"\n(also in {out_dir / report.SUMMARY_NAME}; `make site` builds the website from it)")
    return results
