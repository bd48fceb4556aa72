"""``python -m course_utils grade``: grade a folder of submissions, print and save the scores."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import TYPE_CHECKING

from course_utils.cli.table import format_table

if TYPE_CHECKING:
    from course_utils.grading.reports import SubmissionResult

# The grader (and its snapshot of the package's sources) is imported only when grading runs;
# its defaults fill the arguments left unset then (a test keeps these choices the grader's).
SANDBOX_CHOICES = ("auto", "require", "off")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``grade`` subcommand's arguments (defaults: ``course_utils.grading.grader``'s)."""
    parser.add_argument("submissions", nargs="+", help="notebooks or folders of notebooks")
    parser.add_argument("--solutions", default="solutions", help="solution notebooks folder")
    parser.add_argument("--csv", help="write one row per submission to this CSV file")
    parser.add_argument("--feedback", help="write one Markdown feedback file per submission here")
    parser.add_argument("--cell-timeout", type=float, help="seconds per cell")
    parser.add_argument("--memory-limit-mb", type=float, help="resident memory of a submission's kernel")
    parser.add_argument("--submission-timeout", type=float, help="seconds per submission")
    parser.add_argument("--check-timeout", type=float, help="seconds for a submission's checks")
    parser.add_argument("--checks-module", action="append", default=[],
                        help="extra module (dotted name or .py path) registering checks; repeatable")
    parser.add_argument("--sandbox", choices=SANDBOX_CHOICES, default="auto",
                        help="run each submission in a bubblewrap sandbox: auto (when available, "
                             "with a loud warning otherwise), require (fail without one), off")


LIMITS = ("cell_timeout", "memory_limit_mb", "submission_timeout", "check_timeout")


def results_table(results: list[SubmissionResult]) -> str:
    """A table: submission, score, max, points per check, and the error if grading failed."""
    from course_utils.grading import reports

    columns = reports.check_columns(results)
    rows = []
    for result in results:
        row = {"submission": result.submission, "score": f"{result.score:g}",
               "max": f"{result.max_score:g}", "error": result.error or "",
               "sandbox": reports.sandbox_label(result)}
        row.update({check.key: f"{check.points:g}" for check in result.checks})
        rows.append(row)
    shown = ["submission", "score", "max", *columns]
    if any(result.sandbox is None or not result.sandbox.available for result in results):
        shown.append("sandbox")
    if any(result.error for result in results):
        shown.append("error")
    return format_table(rows, shown)


def run(args: argparse.Namespace) -> int:
    """Grade, print the table; exit 1 when a submission could not be graded at all (2: no sandbox)."""
    # A SIGTERM (kill, Ctrl-C's cousin from a scheduler) unwinds normally: the running
    # submission's sandbox is killed and its temporary folder removed; the CSV is complete.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from course_utils.grading import grader

    limits = {name: getattr(args, name) for name in LIMITS if getattr(args, name) is not None}
    try:
        results = grader.grade_submissions(
            args.submissions, solutions_dir=args.solutions, csv=args.csv, feedback_dir=args.feedback,
            checks_modules=args.checks_module, verbose=True, sandbox_mode=args.sandbox, **limits)
    except RuntimeError as error:
        print(f"error: {error}")
        return 2
    print(results_table(results))
    from course_utils.grading import reports

    if results and reports.unsandboxed(results[0]):
        print(f"\nWARNING: graded WITHOUT a sandbox: {reports.sandbox_label(results[0])}. "
              "See docs/grading.md.")
    return 1 if any(result.error for result in results) else 0
