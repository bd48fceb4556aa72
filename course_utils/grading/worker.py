"""Fresh-process entry point that runs graded checks on captured artifacts.

The grader starts ``python -m course_utils.grading.worker JOB RESULTS`` with a fresh
copy of the package first on ``sys.path``, so nothing a student did in their kernel
(monkeypatching, deleting files) can influence the checks. Results are appended as
one JSON line per check, so a crash or timeout keeps the results already written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from course_utils.grading.artifacts import load_artifacts
from course_utils.grading.registry import load_checks_module, run_check


def run_job(job_path: str | Path, results_path: str | Path) -> None:
    """Run every check of a job file and append one JSON result line per check."""
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    for module in job.get("checks_modules", []):
        load_checks_module(module)
    with open(results_path, "a", encoding="utf-8") as results:
        for item in job["items"]:
            values, problems = load_artifacts(item["dir"], list(item["artifacts"]))
            if problems:
                points, message = 0.0, "; ".join(problems.values())
            else:
                outcome = run_check(item["check"], **values)
                points, message = outcome.points, outcome.message
            record = {"key": item["key"], "points": points, "message": message}
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
