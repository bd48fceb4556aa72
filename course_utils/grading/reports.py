"""What grading produces: per-submission results, the CSV and the students' feedback files."""

from __future__ import annotations

import csv as csv_module
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from course_utils import files
from course_utils.grading.sandbox import SandboxStatus


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
    sandbox: SandboxStatus | None = None  # what the submission ran in (None: it never ran)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0  # the kernel's process tree, resident (what --memory-limit-mb caps)
    peak_vms_mb: float = 0.0  # the largest virtual size of one of its processes (RLIMIT_AS caps it)

    @property
    def score(self) -> float:
        """Total points earned."""
        return sum(check.points for check in self.checks)

    @property
    def max_score(self) -> float:
        """Total points available."""
        return sum(check.max_points for check in self.checks)


def check_columns(results: list[SubmissionResult]) -> list[str]:
    """Check keys of all results, in order of first appearance."""
    return list(dict.fromkeys(check.key for result in results for check in result.checks))


def sandbox_label(result: SubmissionResult) -> str:
    """``bwrap``, ``NONE (why)``, or empty when the submission never ran."""
    return result.sandbox.label if result.sandbox is not None else ""


def unsandboxed(result: SubmissionResult) -> bool:
    """Whether the submission ran without a sandbox (the report says so, loudly)."""
    return result.sandbox is not None and not result.sandbox.available


def write_csv(results: list[SubmissionResult], path: str | Path) -> Path:
    """Write one row per submission: submission, lesson, sandbox, score, max_score, checks, error."""
    columns = check_columns(results)
    buffer = io.StringIO()
    writer = csv_module.writer(buffer)
    writer.writerow(["submission", "lesson", "sandbox", "score", "max_score", *columns, "error"])
    for result in results:
        points = {check.key: f"{check.points:g}" for check in result.checks}
        writer.writerow([result.submission, result.lesson or "", sandbox_label(result), f"{result.score:g}",
                         f"{result.max_score:g}", *(points.get(column, "") for column in columns),
                         result.error or ""])
    return files.write_text(path, buffer.getvalue(), mode=0o600)


def feedback_markdown(result: SubmissionResult) -> str:
    """Feedback for one student: score, each check with points and message, and notes."""
    lines = [f"# Feedback: {result.submission}", ""]
    if unsandboxed(result):
        lines += [f"**Graded without a sandbox:** {sandbox_label(result)}.", ""]
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


def safe_name(label: str) -> str:
    """A file name from a label: folders joined by ``__``, anything unusual replaced by ``_``."""
    name = label.replace("/", "__").replace("\\", "__")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "submission"
    return name[:200]


def feedback_names(labels: list[str]) -> list[str]:
    """One distinct ``.md`` file name per label (a short hash is added on a collision)."""
    names: list[str] = []
    for label in labels:
        stem = safe_name(label)
        stem = stem[: -len(".ipynb")] if stem.endswith(".ipynb") else stem
        name = f"{stem}.md"
        if name in names:
            name = f"{stem}-{hashlib.sha1(label.encode()).hexdigest()[:8]}.md"
        names.append(name)
    return names


def write_feedback(result: SubmissionResult, feedback_dir: str | Path, name: str | None = None) -> Path:
    """Write ``<feedback_dir>/<name>`` (default: from the submission label; slashes become ``__``)."""
    name = name or feedback_names([result.submission])[0]
    return files.write_text(Path(feedback_dir) / name, feedback_markdown(result), mode=0o600)
