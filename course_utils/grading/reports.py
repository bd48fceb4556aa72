"""What grading produces: per-submission results, the CSV and the students' feedback files.

Every string a submission can influence (its file name, error messages, check messages,
notes) passes through one function per sink before it is written: :func:`safe_text` (it
encodes: lone surrogates and undecodable file-name bytes become U+FFFD), then
:func:`for_csv` (control characters replaced; a cell a spreadsheet would read as a formula quoted),
:func:`for_terminal` (control and format characters, ANSI escapes included, are replaced)
or :func:`for_markdown` (HTML-escaped, Markdown punctuation escaped, one line).
"""

from __future__ import annotations

import csv as csv_module
import hashlib
import html
import io
import os
import re
import sys
import unicodedata
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
    grader_rss_mb: float = 0.0  # the grader's process that read the kernel (grading/executor.py)

    @property
    def score(self) -> float:
        """Total points earned."""
        return sum(check.points for check in self.checks)

    @property
    def max_score(self) -> float:
        """Total points available."""
        return sum(check.max_points for check in self.checks)


SURROGATES = re.compile("[\ud800-\udfff]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|")
# What Markdown (CommonMark and GitHub's) reads as syntax: emphasis, code, links and autolinks
# (``www.x`` and ``https://``), headings, lists, tables, HTML (``<`` ``>`` ``&`` are escaped as HTML).
MARKDOWN_PUNCTUATION = re.compile(r"([!#()*+\-.:\[\\\]_`{|}~])")
UNPRINTABLE = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def safe_text(value: object, limit: int | None = None) -> str:
    """``value`` as text that always encodes to UTF-8 (at most ``limit`` characters).

    Bytes and paths are decoded as the file system does (``os.fsdecode``); lone surrogates
    (from a kernel's message, or a file name's undecodable bytes) become U+FFFD.
    """
    try:
        if isinstance(value, (bytes, os.PathLike)):
            text = os.fsdecode(value)
        else:
            text = value if isinstance(value, str) else str(value)
    except Exception:  # a str() that raises: say what it was
        text = f"<{type(value).__name__}>"
    text = SURROGATES.sub("\ufffd", text)
    return text if limit is None else text[:limit]


def for_terminal(value: object, limit: int | None = None) -> str:
    """Text safe to print: control and format characters (ANSI escapes, bidi overrides) become '?'."""
    text = "".join("?" if unicodedata.category(char) in UNPRINTABLE else char
                   for char in safe_text(value, limit))
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        return text.encode(encoding, "replace").decode(encoding)
    except LookupError:
        return text


def for_csv(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: control characters become '?' (the file may be printed
    to a terminal too), and one starting like a formula gets a leading quote."""
    text = safe_text(value)
    text = "".join("?" if unicodedata.category(char) in UNPRINTABLE else char for char in text)
    return "'" + text if text.startswith(FORMULA_START) else text


def for_markdown(value: object, limit: int | None = None) -> str:
    """One line of plain text in Markdown: no HTML, no link, no emphasis, no heading, no table break."""
    text = "".join(" " if unicodedata.category(char) in UNPRINTABLE else char
                   for char in safe_text(value, limit))
    return html.escape(MARKDOWN_PUNCTUATION.sub(r"\\\1", text), quote=True)


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
    writer.writerow([for_csv(c) for c in ["submission", "lesson", "sandbox", "score", "max_score", *columns,
                                            "error"]])
    for result in results:
        points = {check.key: f"{check.points:g}" for check in result.checks}
        writer.writerow([for_csv(result.submission), for_csv(result.lesson or ""),
                         for_csv(sandbox_label(result)),
                         f"{result.score:g}", f"{result.max_score:g}",
                         *(points.get(column, "") for column in columns), for_csv(result.error or "")])
    return files.write_text(path, buffer.getvalue(), mode=0o600)


def feedback_markdown(result: SubmissionResult) -> str:
    """Feedback for one student: score, each check with points and message, and notes."""
    lines = [f"# Feedback: {for_markdown(result.submission, 300)}", ""]
    if unsandboxed(result):
        lines += [f"**Graded without a sandbox:** {for_markdown(sandbox_label(result))}.", ""]
    if result.error:
        lines += [f"**Could not grade this notebook:** {for_markdown(result.error, 2000)}", ""]
    lines += [f"**Score: {result.score:g} / {result.max_score:g}**", ""]
    if result.checks:
        lines += ["| check | points | message |", "|---|---|---|"]
        for check in result.checks:
            message = for_markdown(check.message, 2000) or "passed"
            lines.append(f"| {for_markdown(check.key)} | {check.points:g}/{check.max_points:g} | {message} |")
        lines.append("")
    if result.notes:
        lines += ["## Notes", ""] + [f"- {for_markdown(note, 2000)}" for note in result.notes] + [""]
    return "\n".join(lines)


def safe_name(label: str) -> str:
    """A file name from a label: folders joined by ``__``, anything unusual replaced by ``_``."""
    name = safe_text(label).replace("/", "__").replace("\\", "__")
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
            name = f"{stem}-{hashlib.sha1(safe_text(label).encode()).hexdigest()[:8]}.md"
        names.append(name)
    return names


def write_feedback(result: SubmissionResult, feedback_dir: str | Path, name: str | None = None) -> Path:
    """Write ``<feedback_dir>/<name>`` (default: from the submission label; slashes become ``__``)."""
    name = name or feedback_names([result.submission])[0]
    return files.write_text(Path(feedback_dir) / name, feedback_markdown(result), mode=0o600)
