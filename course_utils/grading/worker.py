"""Fresh-process entry point that runs graded checks on collected artifacts.

The grader starts it isolated: ``python -I`` (no ``PYTHONPATH``, no user site, no
current folder on ``sys.path``) with a fresh copy of the package put first on
``sys.path`` explicitly (:data:`BOOTSTRAP`), in a folder created after the student's
kernel was dead, and, where bubblewrap is available, in its own sandbox (no network,
read-only artifacts, only its results folder writable). Results go to a file that must
not exist yet (``x`` mode: nothing can be pre-filled), one JSON line per check, so a
crash or timeout keeps the results already written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MAX_MESSAGE_CHARS = 2000

# Run as ``python -I -c BOOTSTRAP PACKAGE_PARENT JOB RESULTS``: the package copy is the
# only non-standard entry on sys.path, whatever the environment says.
BOOTSTRAP = (
    "import sys\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "from course_utils.grading.worker import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def run_job(job_path: str | Path, results_path: str | Path) -> None:
    """Run every check of a job file and write one JSON result line per check."""
    from course_utils.checks.registry import load_checks_module, run_check
    from course_utils.grading.artifacts import load_artifacts

    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    for module in job.get("checks_modules", []):
        load_checks_module(module)
    with open(results_path, "x", encoding="utf-8") as results:
        for item in job["items"]:
            values, problems = load_artifacts(item["dir"], list(item["artifacts"]))
            if problems:
                points, message = 0.0, "; ".join(problems.values())
            else:
                outcome = run_check(item["check"], **values)
                points, message = outcome.points, outcome.message
            record = {"key": item["key"], "points": points, "message": message[:MAX_MESSAGE_CHARS]}
            results.write(json.dumps(record) + "\n")
            results.flush()


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m course_utils.grading.worker JOB RESULTS``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m course_utils.grading.worker JOB RESULTS", file=sys.stderr)
        return 2
    run_job(args[0], args[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
