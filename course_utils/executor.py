"""Execute a notebook cell by cell in a fresh kernel with timeouts and a memory watchdog."""

from __future__ import annotations

import logging
import math
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

POLL_SECONDS = 0.1


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


def _alive(process: psutil.Process) -> bool:
    """Whether a psutil process is still running (and is not a zombie)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class MemoryWatchdog:
    """Poll the RSS of a process tree and kill the tree when it exceeds a limit."""

    def __init__(self, pid: int, limit_mb: float) -> None:
        """Watch process ``pid`` and its descendants against ``limit_mb`` megabytes."""
        self.root = psutil.Process(pid)
        self.limit_bytes = limit_mb * 1024 * 1024
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


def _error_of(cell: nbformat.NotebookNode) -> str | None:
    """Return ``Name: value`` of the first error output of an executed cell, if any."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
            return text.strip().rstrip(":")
    return None


def execute_cells(
    sources: list[str],
    workdir: str | Path,
    env: dict[str, str],
    cell_timeout: float,
    memory_limit_mb: float,
    wall_timeout: float,
    after_cell: Callable[[int, CellRun], None] | None = None,
    startup_timeout: float = 60,
) -> list[CellRun]:
    """Run code cells in order in a fresh python3 kernel; record how each cell went.

    An exception in a cell is recorded and execution continues. A timeout, a dead
    kernel, the memory limit or the wall-clock cap stop execution; the remaining cells
    stay ``not run``. ``after_cell(index, run)`` is called after every executed cell.
    """
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in sources])
    runs = [CellRun() for _ in sources]
    client = NotebookClient(
        nb,
        timeout=max(1, int(cell_timeout)),
        kernel_name="python3",
        allow_errors=True,
        record_timing=False,
        shutdown_kernel="immediate",
        startup_timeout=int(startup_timeout),
        resources={"metadata": {"path": str(workdir)}},
    )
    start = time.monotonic()
    watchdog: MemoryWatchdog | None = None
    try:
        # The kernel's own stdout/stderr (TensorFlow logs, student noise) are not needed:
        # everything the grader uses comes through the kernel protocol or artifacts.
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        with client.setup_kernel(env=env, cwd=str(workdir), **quiet):
            watchdog = MemoryWatchdog(client.km.provisioner.pid, memory_limit_mb)
            watchdog.start()
            for index, cell in enumerate(nb.cells):
                remaining = wall_timeout - (time.monotonic() - start)
                if remaining <= 0:
                    runs[index] = CellRun("wall", f"submission time limit {wall_timeout:g} s")
                    break
                limited_by_wall = remaining < cell_timeout
                client.timeout = max(1, math.ceil(min(cell_timeout, remaining)))
                run = _execute_one(client, cell, index, watchdog, memory_limit_mb)
                if run.status == "timeout" and limited_by_wall:
                    run = CellRun("wall", f"submission time limit {wall_timeout:g} s exceeded")
                elif run.status == "timeout":
                    run.detail = f"cell timed out after {cell_timeout:g} s"
                runs[index] = run
                if after_cell is not None:
                    after_cell(index, run)
                if run.status not in ("ok", "error"):
                    break
    except Exception as error:  # kernel failed to start or to shut down
        first = next((i for i, run in enumerate(runs) if run.status == "not run"), None)
        if first is not None:
            runs[first] = CellRun("died", f"kernel failure: {type(error).__name__}: {error}")
    finally:
        if watchdog is not None:
            watchdog.stop()
            watchdog.kill_all()
    return runs


def _execute_one(
    client: NotebookClient,
    cell: nbformat.NotebookNode,
    index: int,
    watchdog: MemoryWatchdog,
    memory_limit_mb: float,
) -> CellRun:
    """Execute one cell and classify the outcome."""
    try:
        client.execute_cell(cell, index)
    except CellTimeoutError:
        if watchdog.fired:
            return CellRun("memory", f"memory limit {memory_limit_mb:g} MB exceeded")
        return CellRun("timeout")
    except DeadKernelError:
        if watchdog.fired:
            return CellRun("memory", f"memory limit {memory_limit_mb:g} MB exceeded")
        return CellRun("died", "kernel died (sys.exit / os._exit / crash?)")
    except Exception as error:
        if watchdog.fired:
            return CellRun("memory", f"memory limit {memory_limit_mb:g} MB exceeded")
        return CellRun("died", f"kernel stopped responding: {type(error).__name__}: {error}")
    if watchdog.fired:
        return CellRun("memory", f"memory limit {memory_limit_mb:g} MB exceeded")
    error = _error_of(cell)
    return CellRun("error", error) if error else CellRun("ok")
