"""The one notebook engine: execute cells in a fresh kernel, for ``run``, the tests and the grader.

Each cell runs with a timeout; the whole run can have a wall-clock cap and a memory
watchdog over the kernel's process tree. The kernel gets its environment as an
argument (``os.environ`` of the caller is never touched) and starts quiet: TensorFlow's
C++ start-up lines (oneDNN, CUDA drivers, ``cuInit``) are written to the kernel's own
stderr, which goes to a log file instead of the notebook's outputs or the console.

Why our own loop over nbclient rather than ``NotebookClient.execute()``: the grader
needs to act between cells (move a check's artifacts out, stop at a memory limit) and
to classify every way a cell can end; ``run`` needs the same kernel set-up. One loop
serves both.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

POLL_SECONDS = 0.1

QUIET_ENV = {
    # TensorFlow's C++ logging, once absl is initialised: errors only (INFO/WARNING hidden).
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
# C-level writes (the lines TensorFlow prints before absl's logging is initialised, which
# no log level can hide) then reach the kernel's stderr, not the notebook.
QUIET_KERNEL_ARGS = ["--IPKernelApp.capture_fd_output=False"]
# Start-up noise no executed lesson may show (a test checks the outputs for these).
NOISE_MARKERS = ("absl::InitializeLog", "cuInit", "cudart_stub", "oneDNN custom operations",
                 "use_unbounded_threadpool", "TF-TRT", "running over TCP", "computation placer")


@dataclass
class CellRun:
    """How one cell went: status is ok, error, timeout, died, memory, wall or not run."""

    status: str = "not run"
    detail: str = ""


class _QuietDeadKernelPoll(logging.Filter):
    """Hide nbclient's harmless "Task exception was never retrieved" after a kernel dies."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop only the asyncio report about nbclient's kernel-alive polling task."""
        return "_async_poll_kernel_alive" not in record.getMessage()


logging.getLogger("asyncio").addFilter(_QuietDeadKernelPoll())


def kernel_env(extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
               ) -> dict[str, str]:
    """The environment for a kernel: ``base`` (default ``os.environ``), quiet settings, ``extra``."""
    env = dict(os.environ if base is None else base)
    for key, value in QUIET_ENV.items():
        env.setdefault(key, value)
    env.update(extra or {})
    return env


def _alive(process: psutil.Process) -> bool:
    """Whether a psutil process is still running (and is not a zombie)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class MemoryWatchdog:
    """Poll the RSS of a process tree and kill the tree when it exceeds a limit."""

    def __init__(self, pid: int, limit_mb: float | None) -> None:
        """Watch process ``pid`` and its descendants against ``limit_mb`` megabytes (None: no limit)."""
        self.root = psutil.Process(pid)
        self.limit_bytes = math.inf if limit_mb is None else limit_mb * 1024 * 1024
        self.fired = False
        self.seen: dict[int, psutil.Process] = {pid: self.root}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-watchdog", daemon=True)

    def start(self) -> None:
        """Start polling in a daemon thread."""
        self._thread.start()

    def _tree(self) -> list[psutil.Process]:
        """The root and all current descendants, remembered for the final kill."""
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            processes = [self.root]
        for process in processes:
            self.seen.setdefault(process.pid, process)
        return processes

    def _run(self) -> None:
        """Poll until stopped; kill everything on the first reading over the limit."""
        while not self._stop.wait(POLL_SECONDS):
            total = 0
            for process in self._tree():
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue
            if total > self.limit_bytes:
                self.fired = True
                self.kill_all()
                return

    def kill_all(self) -> None:
        """SIGKILL every process of the tree seen so far (children first)."""
        self._tree()
        for process in reversed(list(self.seen.values())):
            if _alive(process):
                try:
                    process.kill()
                except psutil.Error:
                    pass

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)


def error_of(cell: nbformat.NotebookNode) -> str | None:
    """Return ``Name: value`` of the first error output of an executed cell, if any."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
            return text.strip().rstrip(":")
    return None


def execute(
    nb: nbformat.NotebookNode,
    cwd: str | Path,
    env: Mapping[str, str],
    cell_timeout: float,
    *,
    stop_on_error: bool = False,
    memory_limit_mb: float | None = None,
    wall_timeout: float | None = None,
    after_cell: Callable[[int, CellRun], None] | None = None,
    kernel_log: str | Path | None = None,
    startup_timeout: float = 60,
) -> list[CellRun]:
    """Run the code cells of ``nb`` in order in a fresh python3 kernel; outputs land in ``nb``.

    Returns one ``CellRun`` per cell of ``nb`` (markdown cells stay ``not run``). An
    exception in a cell is recorded and execution continues, unless ``stop_on_error``.
    A timeout, a dead kernel, the memory limit or the wall-clock cap stop execution.
    ``after_cell(index, run)`` is called after every executed cell. The kernel's own
    stderr (TensorFlow's C++ logs) goes to ``kernel_log``, or nowhere.
    """
    runs = [CellRun() for _ in nb.cells]
    client = NotebookClient(
        nb,
        timeout=max(1, int(cell_timeout)),
        kernel_name="python3",
        allow_errors=True,
        record_timing=False,
        shutdown_kernel="immediate",
        startup_timeout=int(startup_timeout),
        extra_arguments=list(QUIET_KERNEL_ARGS),
        resources={"metadata": {"path": str(cwd)}},
    )
    wall = math.inf if wall_timeout is None else wall_timeout
    start = time.monotonic()
    watchdog: MemoryWatchdog | None = None
    log = open(kernel_log, "ab") if kernel_log else open(os.devnull, "wb")  # noqa: SIM115
    try:
        with client.setup_kernel(env=dict(env), cwd=str(cwd), stdout=log, stderr=log):
            watchdog = MemoryWatchdog(client.km.provisioner.pid, memory_limit_mb)
            watchdog.start()
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                remaining = wall - (time.monotonic() - start)
                if remaining <= 0:
                    runs[index] = CellRun("wall", f"time limit {wall_timeout:g} s")
                    break
                limited_by_wall = remaining < cell_timeout
                client.timeout = max(1, math.ceil(min(cell_timeout, remaining)))
                run = _execute_one(client, cell, index, watchdog, memory_limit_mb)
                if run.status == "timeout" and limited_by_wall:
                    run = CellRun("wall", f"time limit {wall_timeout:g} s exceeded")
                elif run.status == "timeout":
                    run.detail = f"cell timed out after {cell_timeout:g} s"
                runs[index] = run
                if after_cell is not None:
                    after_cell(index, run)
                if run.status not in ("ok", "error") or (stop_on_error and run.status == "error"):
                    break
    except Exception as error:  # kernel failed to start or to shut down
        first = next((i for i, run in enumerate(runs)
                      if run.status == "not run" and nb.cells[i].cell_type == "code"), None)
        if first is not None:
            runs[first] = CellRun("died", f"kernel failure: {type(error).__name__}: {error}")
    finally:
        if watchdog is not None:
            watchdog.stop()
            watchdog.kill_all()
        log.close()
    return runs


def _execute_one(
    client: NotebookClient,
    cell: nbformat.NotebookNode,
    index: int,
    watchdog: MemoryWatchdog,
    memory_limit_mb: float | None,
) -> CellRun:
    """Execute one cell and classify the outcome."""
    memory = CellRun("memory", f"memory limit {memory_limit_mb:g} MB exceeded") if memory_limit_mb else None
    try:
        client.execute_cell(cell, index)
    except CellTimeoutError:
        return memory if watchdog.fired else CellRun("timeout")
    except DeadKernelError:
        return memory if watchdog.fired else CellRun("died", "kernel died (sys.exit / os._exit / crash?)")
    except Exception as error:
        if watchdog.fired:
            return memory
        return CellRun("died", f"kernel stopped responding: {type(error).__name__}: {error}")
    if watchdog.fired:
        return memory
    error = error_of(cell)
    return CellRun("error", error) if error else CellRun("ok")


def first_stop(runs: list[CellRun]) -> tuple[int, CellRun] | None:
    """The first cell that did not end ``ok``, with its index, or None when all ran."""
    for index, run in enumerate(runs):
        if run.status not in ("ok", "not run"):
            return index, run
    return None
