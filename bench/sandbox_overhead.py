"""Benchmark: what grading costs per submission, and what the bubblewrap sandbox adds.

Runs the same submissions three ways, the order rotating each round, in one process: the
notebook executed plainly (``engine.execute``, no grader: what the student's own run
costs), graded without the sandbox (``--sandbox off``) and graded with it (``--sandbox
require``). Per submission it reports the median wall seconds of each, the grading overhead
(sandboxed grading minus the plain run: kernel start in a sandbox, the executor process,
captures, the check worker in its own sandbox) and the sandbox's share (with minus
without), and the CPU seconds (user + sys of every descendant process, sampled every 0.1 s
while it lives: sandboxed processes are re-parented, so ``RUSAGE_CHILDREN`` misses them).
Two submissions of the NumPy-only fixture lesson 99: ``perfect`` as is (kernel start-up
dominates) and the same with a TensorFlow/Keras cell (import, build, predict), since
TensorFlow is what real lessons start. The load average is printed with the table.

Usage (from the repository root)::

    python bench/sandbox_overhead.py               # 3 rounds
    python bench/sandbox_overhead.py --rounds 5 --out overhead.md
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils import engine  # noqa: E402
from course_utils.grading import grader, sandbox  # noqa: E402

FIXTURES = ROOT / "tests" / "grading_fixtures"
MODES = ("plain", "off", "require")
TF_CELL = ("import keras\n"
           "probe = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])\n"
           "print(probe.predict(np.zeros((2, 4)), verbose=0).shape)")


def submissions(folder: Path) -> dict[str, Path]:
    """The two benchmark submissions, written into ``folder``."""
    perfect = FIXTURES / "submissions" / "99_fixture-perfect.ipynb"
    with_tf = nbformat.read(perfect, as_version=4)
    with_tf = copy.deepcopy(with_tf)
    index = next(i for i, cell in enumerate(with_tf.cells) if cell.get("id") == "setup")
    with_tf.cells.insert(index + 1, nbformat.v4.new_code_cell(TF_CELL, id="tf"))
    paths = {"numpy": folder / "99_numpy.ipynb", "tensorflow": folder / "99_tensorflow.ipynb"}
    paths["numpy"].write_bytes(perfect.read_bytes())
    nbformat.write(with_tf, paths["tensorflow"])
    return paths


class DescendantCPU:
    """Sum of user + sys seconds of every descendant process seen, sampled while they live."""

    def __init__(self) -> None:
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.1):
            try:
                children = me.children(recursive=True)
            except psutil.Error:
                continue
            for child in children:
                try:
                    times = child.cpu_times()
                    self.last[child.pid] = times.user + times.system
                except psutil.Error:
                    continue

    def __enter__(self) -> DescendantCPU:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.last.values())


def grade_once(path: Path, mode: str) -> tuple[float, float, float]:
    """Grade one submission (or, ``plain``, only run it); return (wall s, CPU s of descendants, score)."""
    started = time.monotonic()
    with DescendantCPU() as cpu:
        if mode == "plain":
            nb = nbformat.read(path, as_version=4)
            runs = engine.execute(nb, path.parent, engine.kernel_env(), 300)
            code = [run for run, cell in zip(runs, nb.cells, strict=True) if cell.cell_type == "code"]
            score = 6.0 if all(run.status is engine.CellStatus.OK for run in code) else 0.0
        else:
            (result,) = grader.grade_submissions([path], solutions_dir=FIXTURES / "solutions",
                                                 checks_modules=[FIXTURES / "fixture_checks.py"],
                                                 cell_timeout=300, sandbox_mode=mode)
            score = result.score
    return time.monotonic() - started, cpu.seconds, score


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = parser.parse_args()
    status = sandbox.probe()
    if not status.available:
        print(f"no sandbox here: {status.description}")
        return 1
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = submissions(Path(tmp))
        for round_number in range(args.rounds):
            modes = MODES[round_number % 3:] + MODES[:round_number % 3]
            for name, path in paths.items():
                for mode in modes:
                    wall, cpu, score = grade_once(path, mode)
                    assert score == 6, (name, mode, score)
                    times.setdefault((name, mode), []).append((wall, cpu))
                    print(f"round {round_number + 1}: {name:10s} {mode:7s} {wall:5.1f} s wall, "
                          f"{cpu:5.1f} s CPU", flush=True)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    lines = [f"Grading cost per submission ({status.description}; probe: a sandboxed `python -c pass` in "
             f"{status.seconds:.2f} s), median of {args.rounds} rounds, load average {load} at the end:", "",
             "| submission | plain run (wall / CPU s) | graded, no sandbox | graded, sandbox | "
             "grading overhead (wall s) | of which the sandbox |", "|---|---|---|---|---|---|"]
    for name in ("numpy", "tensorflow"):
        plain, off, on = ([statistics.median(x) for x in zip(*times[(name, mode)], strict=True)]
                          for mode in MODES)
        lines.append(f"| {name} | {plain[0]:.1f} / {plain[1]:.1f} | {off[0]:.1f} / {off[1]:.1f} | "
                     f"{on[0]:.1f} / {on[1]:.1f} | {on[0] - plain[0]:+.1f} | {on[0] - off[0]:+.1f} |")
    table = "\n".join(lines)
    print("\n" + table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
