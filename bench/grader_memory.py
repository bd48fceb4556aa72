"""Benchmark: the grader's memory while a submission floods it with one kind of kernel message.

Builds one submission per kind of message from the hostile fixture ``flood_messages`` (its
set-up cell and one flood cell each: display updates, comms with buffers, errors, tiny
outputs with 2 MB headers, unknown types), plus ``flood_multipart`` (one message of 200
frames of 4 MB) and ``flood_output`` (240 MB printed), grades each in the sandbox, and
reports per kind: the peak resident memory of the executor (the grader's process that
reads the kernel), the growth of the grader's main process over its baseline, and their
sum, which docs/grading.md bounds by 300 MB.

Usage (from the repository root)::

    python bench/grader_memory.py --out memory.md
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils.grading import grader, sandbox  # noqa: E402

FIXTURES = ROOT / "tests" / "grading_fixtures"
FLOOD_CELLS = {"displays": "flood_displays", "comms": "flood_comms", "errors": "flood_errors",
               "tiny outputs and 2 MB headers": "flood_entries", "unknown types": "flood_unknown"}


def submissions(folder: Path) -> dict[str, Path]:
    """One submission per kind of flood, written into ``folder``."""
    flood = nbformat.read(FIXTURES / "submissions" / "99_fixture-flood_messages.ipynb", as_version=4)
    ids = set(FLOOD_CELLS.values())
    paths = {}
    for number, (kind, cell_id) in enumerate(FLOOD_CELLS.items()):
        nb = copy.deepcopy(flood)
        nb.cells = [cell for cell in nb.cells if cell.get("id") not in ids - {cell_id}]
        paths[kind] = folder / f"99_{number}_{cell_id}.ipynb"
        nbformat.write(nb, paths[kind])
    for case, kind in (("flood_multipart", "one message of 200 x 4 MB frames"),
                       ("flood_output", "240 MB printed")):
        paths[kind] = folder / f"99_{case}.ipynb"
        paths[kind].write_bytes((FIXTURES / "submissions" / f"99_fixture-{case}.ipynb").read_bytes())
    return paths


def grade(path: Path) -> tuple[float, float, float]:
    """Grade one submission; (executor peak MB, main process growth MB, seconds)."""
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    try:
        (result,) = grader.grade_submissions([path], solutions_dir=FIXTURES / "solutions",
                                             checks_modules=[FIXTURES / "fixture_checks.py"],
                                             cell_timeout=120, memory_limit_mb=3000, sandbox_mode="require")
    finally:
        done.set()
        sampler.join()
    return result.grader_rss_mb, (peak[0] - baseline) / 2**20, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = parser.parse_args()
    if not sandbox.probe().available:
        print(f"no sandbox here: {sandbox.probe().description}")
        return 1
    lines = ["| flood | executor peak (MB) | main process growth (MB) | sum (MB) | seconds |",
             "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for kind, path in submissions(Path(tmp)).items():
            executor_mb, growth_mb, seconds = grade(path)
            lines.append(f"| {kind} | {executor_mb:.0f} | {growth_mb:.0f} | {executor_mb + growth_mb:.0f} | "
                         f"{seconds:.0f} |")
            print(lines[-1], flush=True)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    table = "\n".join([f"Grader memory per kind of flood (load average {load} at the end):", "", *lines])
    print("\n" + table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
