"""The one notebook engine: execute cells in a fresh kernel, for ``run``, the tests and the grader.

Each cell runs with a timeout; the whole run can have a wall-clock cap and a watchdog
over the kernel's process tree (resident memory, number of processes, size of a folder
the kernel may write). The kernel gets its environment as an argument (``os.environ`` of
the caller is never touched) and starts quiet: TensorFlow's C++ start-up lines (oneDNN,
CUDA drivers, ``cuInit``) are written to the kernel's own stderr, which goes to a log
file instead of the notebook's outputs or the console.

The grader passes a :class:`KernelLaunch`: the kernel command is then built here (never
read from an installed ``kernel.json``), wrapped (in a sandbox), and talks ZeroMQ over
unix sockets in a given folder (a sandbox without a network reaches no TCP port of the
host); kernel messages and kept outputs are size-capped, so a flood of output costs the
caller bounded memory.

Why our own loop over nbclient rather than ``NotebookClient.execute()``: the grader
needs to act between cells (move a check's artifacts out, stop at a memory limit) and
to classify every way a cell can end; ``run`` needs the same kernel set-up. One loop
serves both.
"""

from __future__ import annotations

import enum
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import psutil
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
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


class CellStatus(enum.Enum):
    """How a cell ended."""

    OK = "ok"
    ERROR = "error"  # it raised; the kernel lives on
    TIMEOUT = "timeout"  # over the cell time limit
    DIED = "died"  # the kernel died or stopped responding (sys.exit, os._exit, a crash)
    MEMORY = "memory"  # the watchdog killed the kernel over the memory limit
    LIMIT = "limit"  # ... over another limit (processes, files written)
    WALL = "wall"  # the whole run's time limit
    NOT_RUN = "not run"

    @property
    def ran(self) -> bool:
        """The cell ran to its end (with or without an exception) and the kernel lives."""
        return self in (CellStatus.OK, CellStatus.ERROR)

    @property
    def stopped(self) -> bool:
        """The run stopped at this cell: nothing after it ran."""
        return not self.ran and self is not CellStatus.NOT_RUN


@dataclass
class CellRun:
    """How one cell went, and a detail (the error, which limit)."""

    status: CellStatus = CellStatus.NOT_RUN
    detail: str = ""


@dataclass(frozen=True)
class KernelLaunch:
    """How to start a kernel other than the installed ``python3`` kernelspec over TCP.

    ``wrap`` turns the plain kernel command (``python -m ipykernel_launcher -f FILE``) into
    the command launched (e.g. the rlimit launcher + bubblewrap). With ``ipc_dir`` the
    connection file and ZeroMQ's unix sockets live in that folder. ``max_message_bytes``
    caps one kernel message (a larger one drops the connection: the kernel counts as dead).
    """

    wrap: Callable[[list[str]], list[str]] = list
    ipc_dir: Path | None = None
    max_message_bytes: int | None = None
    python: str = sys.executable


@dataclass(frozen=True)
class WatchLimits:
    """What the watchdog enforces besides memory: process count, size of a writable folder."""

    max_processes: int | None = None
    folder: Path | None = None
    folder_bytes: int | None = None
    folder_entries: int | None = None


@dataclass
class ExecutionStats:
    """Measured during a run: peak resident memory of the tree, peak virtual size of one process."""

    peak_rss_mb: float = 0.0
    peak_vms_mb: float = 0.0
    peak_processes: int = 0
    survivors: list[int] = field(default_factory=list)  # pids still alive after the final kill


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


def folder_usage(folder: Path, stop_after: int | None = None) -> tuple[int, int]:
    """Bytes and entries under ``folder``, counted without following links (``lstat``)."""
    total = entries = 0
    pending = [str(folder)]
    while pending:
        try:
            with os.scandir(pending.pop()) as scan:
                for entry in scan:
                    entries += 1
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += info.st_size
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    if stop_after is not None and entries > stop_after:
                        return total, entries
        except OSError:
            continue
    return total, entries


class MemoryWatchdog:
    """Poll a process tree; kill it over a resident-memory, process-count or folder limit.

    The tree is the root process and all its descendants (in a sandbox with its own PID
    namespace every process of the sandbox is one: orphans are re-parented to the
    sandbox's own init). ``reason`` says which limit fired: ``CellStatus.MEMORY`` or ``LIMIT``.
    """

    def __init__(self, pid: int, limit_mb: float | None, limits: WatchLimits | None = None,
                 stats: ExecutionStats | None = None) -> None:
        """Watch process ``pid`` and its descendants against ``limit_mb`` megabytes (None: no limit)."""
        self.root = psutil.Process(pid)
        self.limit_bytes = math.inf if limit_mb is None else limit_mb * 1024 * 1024
        self.limits = limits or WatchLimits()
        self.stats = stats if stats is not None else ExecutionStats()
        self.fired = False
        self.reason: CellStatus | None = None
        self.detail = ""
        self.seen: dict[int, psutil.Process] = {pid: self.root}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-watchdog", daemon=True)

    def start(self) -> None:
        """Take a first look at the tree, then poll in a daemon thread."""
        self._tree()
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

    def check_once(self) -> bool:
        """Measure the tree (and folder) once; kill everything and return True over a limit."""
        processes = self._tree()
        total = 0
        for process in processes:
            try:
                memory = process.memory_info()
            except psutil.Error:
                continue
            total += memory.rss
            self.stats.peak_vms_mb = max(self.stats.peak_vms_mb, memory.vms / 2**20)
        self.stats.peak_rss_mb = max(self.stats.peak_rss_mb, total / 2**20)
        self.stats.peak_processes = max(self.stats.peak_processes, len(processes))
        if total > self.limit_bytes:
            self._fire(CellStatus.MEMORY, "")
        elif self.limits.max_processes and len(processes) > self.limits.max_processes:
            self._fire(CellStatus.LIMIT, f"more than {self.limits.max_processes} processes")
        elif self.limits.folder is not None:
            used, entries = folder_usage(self.limits.folder, self.limits.folder_entries)
            if self.limits.folder_bytes and used > self.limits.folder_bytes:
                self._fire(CellStatus.LIMIT, f"wrote more than {self.limits.folder_bytes / 2**20:g} MB "
                           "into the grader's exchange folder")
            elif self.limits.folder_entries and entries > self.limits.folder_entries:
                self._fire(CellStatus.LIMIT, f"created more than {self.limits.folder_entries} files in the "
                           "grader's exchange folder")
        return self.fired

    def _fire(self, reason: CellStatus, detail: str) -> None:
        self.fired, self.reason, self.detail = True, reason, detail
        self.kill_all()

    def _run(self) -> None:
        """Poll until stopped or until a limit fired."""
        while not self._stop.wait(POLL_SECONDS):
            if self.check_once():
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

    def wait_dead(self, timeout: float = 10.0) -> list[int]:
        """Wait until every process seen is gone (or a zombie); return the pids still alive."""
        deadline = time.monotonic() + timeout
        while True:
            alive = [pid for pid, process in self.seen.items() if _alive(process)]
            if not alive or time.monotonic() > deadline:
                return alive
            self.kill_all()
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)


def error_of(cell: nbformat.NotebookNode) -> str | None:
    """Return ``Name: value`` of the first error output of an executed cell, if any."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
            return text.strip().rstrip(":")
    return None


def kernel_command(python: str = sys.executable) -> list[str]:
    """The plain ipykernel command, with the ``{connection_file}`` placeholder Jupyter fills in."""
    return [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def _launch_manager_class(launch: KernelLaunch) -> type[AsyncKernelManager]:
    """A kernel manager that builds its own command, wraps it, and bounds message sizes."""

    class LaunchKernelManager(AsyncKernelManager):
        """Starts ``launch.wrap(python -m ipykernel_launcher ...)``; never reads kernel.json."""

        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            self._spec = KernelSpec(argv=kernel_command(launch.python), display_name="Python 3",
                                    language="python", interrupt_mode="signal")
            self._contexts: list = []
            if launch.ipc_dir is not None:
                self.transport = "ipc"
                self.connection_file = str(Path(launch.ipc_dir) / "kernel.json")
                self.ip = str(Path(launch.ipc_dir) / "k")

        @property
        def kernel_spec(self) -> KernelSpec:
            return self._spec

        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            return launch.wrap(super().format_kernel_cmd(extra_arguments))

        def client(self, **kwargs):
            if launch.max_message_bytes:
                import zmq
                import zmq.asyncio

                context = zmq.asyncio.Context()
                context.setsockopt(zmq.MAXMSGSIZE, int(launch.max_message_bytes))
                self._contexts.append(context)
                kwargs.setdefault("context", context)
            return super().client(**kwargs)

        def destroy_contexts(self) -> None:
            """Close the bounded ZeroMQ contexts (after the client's channels stopped)."""
            for context in self._contexts:
                context.destroy(linger=0)
            self._contexts.clear()

    return LaunchKernelManager


class _BoundedClient(NotebookClient):
    """An nbclient that keeps at most ``max_output_bytes`` of outputs in the notebook.

    Past the budget, outputs are dropped (one note says so); errors are always kept, with
    their text shortened, because the caller reads them to report why a cell failed.
    """

    max_output_bytes: int | None = None
    _kept_bytes = 0
    _dropped = False

    def output(self, outs, msg, display_id, cell_index):  # noqa: D102 - nbclient's hook
        if self.max_output_bytes is None:
            return super().output(outs, msg, display_id, cell_index)
        content = msg.get("content", {})
        if msg.get("msg_type") == "error":
            content["evalue"] = str(content.get("evalue", ""))[:2000]
            content["traceback"] = [str(line)[:2000] for line in content.get("traceback", [])[-20:]]
            return super().output(outs, msg, display_id, cell_index)
        size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in
                                                       content.get("data", {}).values())
        if self._kept_bytes + size > self.max_output_bytes:
            if not self._dropped:
                self._dropped = True
                outs.append(nbformat.v4.new_output(
                    "stream", name="stderr",
                    text=f"[output beyond {self.max_output_bytes} bytes was dropped]\n"))
            return None
        self._kept_bytes += size
        return super().output(outs, msg, display_id, cell_index)


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
    launch: KernelLaunch | None = None,
    limits: WatchLimits | None = None,
    max_output_bytes: int | None = None,
    stats: ExecutionStats | None = None,
) -> list[CellRun]:
    """Run the code cells of ``nb`` in order in a fresh python3 kernel; outputs land in ``nb``.

    Returns one ``CellRun`` per cell of ``nb`` (markdown cells stay ``not run``). An
    exception in a cell is recorded and execution continues, unless ``stop_on_error``.
    A timeout, a dead kernel, the memory limit, a watchdog limit (``limits``) or the
    wall-clock cap stop execution. ``after_cell(index, run)`` is called after every
    executed cell. The kernel's own stderr (TensorFlow's C++ logs) goes to ``kernel_log``,
    or nowhere. ``launch`` changes how the kernel starts (see :class:`KernelLaunch`);
    ``max_output_bytes`` caps the outputs kept in ``nb``; ``stats`` receives the peak
    memory measured. When this returns, every process of the kernel's tree is dead (or
    listed in ``stats.survivors``).
    """
    runs = [CellRun() for _ in nb.cells]
    stats = stats if stats is not None else ExecutionStats()
    options = {}
    if launch is not None:
        options["kernel_manager_class"] = _launch_manager_class(launch)
    client = _BoundedClient(
        nb,
        timeout=max(1, int(cell_timeout)),
        kernel_name="python3",
        allow_errors=True,
        record_timing=False,
        shutdown_kernel="immediate",
        startup_timeout=int(startup_timeout),
        extra_arguments=list(QUIET_KERNEL_ARGS),
        resources={"metadata": {"path": str(cwd)}},
        **options,
    )
    client.max_output_bytes = max_output_bytes
    wall = math.inf if wall_timeout is None else wall_timeout
    start = time.monotonic()
    watchdog: MemoryWatchdog | None = None
    log = open(kernel_log, "ab") if kernel_log else open(os.devnull, "wb")  # noqa: SIM115
    stdin = open(os.devnull, "rb")  # noqa: SIM115 - the kernel never reads the caller's terminal
    try:
        with client.setup_kernel(env=dict(env), cwd=str(cwd), stdout=log, stderr=log, stdin=stdin):
            watchdog = MemoryWatchdog(client.km.provisioner.pid, memory_limit_mb, limits, stats)
            watchdog.start()
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                remaining = wall - (time.monotonic() - start)
                if remaining <= 0:
                    runs[index] = CellRun(CellStatus.WALL, f"time limit {wall_timeout:g} s")
                    break
                limited_by_wall = remaining < cell_timeout
                client.timeout = max(1, math.ceil(min(cell_timeout, remaining)))
                run = _execute_one(client, cell, index, watchdog, memory_limit_mb)
                if run.status is CellStatus.TIMEOUT and limited_by_wall:
                    run = CellRun(CellStatus.WALL, f"time limit {wall_timeout:g} s exceeded")
                elif run.status is CellStatus.TIMEOUT:
                    run.detail = f"cell timed out after {cell_timeout:g} s"
                runs[index] = run
                if after_cell is not None:
                    after_cell(index, run)
                if not run.status.ran or (stop_on_error and run.status is CellStatus.ERROR):
                    break
    except Exception as error:  # kernel failed to start or to shut down
        first = next((i for i, run in enumerate(runs)
                      if run.status is CellStatus.NOT_RUN and nb.cells[i].cell_type == "code"), None)
        if first is not None:
            runs[first] = CellRun(CellStatus.DIED, f"kernel failure: {type(error).__name__}: {error}")
    finally:
        if watchdog is not None:
            watchdog.stop()
            watchdog.kill_all()
            stats.survivors = watchdog.wait_dead()
        if hasattr(client.km, "destroy_contexts"):
            client.km.destroy_contexts()
        log.close()
        stdin.close()
    return runs


def _execute_one(
    client: NotebookClient,
    cell: nbformat.NotebookNode,
    index: int,
    watchdog: MemoryWatchdog,
    memory_limit_mb: float | None,
) -> CellRun:
    """Execute one cell and classify the outcome."""
    def fired() -> CellRun:
        if watchdog.reason is CellStatus.LIMIT:
            return CellRun(CellStatus.LIMIT, f"limit exceeded: {watchdog.detail}")
        return CellRun(CellStatus.MEMORY, f"memory limit {memory_limit_mb:g} MB exceeded")

    try:
        client.execute_cell(cell, index)
    except CellTimeoutError:
        return fired() if watchdog.fired else CellRun(CellStatus.TIMEOUT)
    except DeadKernelError:
        died = CellRun(CellStatus.DIED, "kernel died (sys.exit / os._exit / crash?)")
        return fired() if watchdog.fired else died
    except Exception as error:
        if watchdog.fired:
            return fired()
        return CellRun(CellStatus.DIED, f"kernel stopped responding: {type(error).__name__}: {error}")
    if watchdog.check_once():
        return fired()
    error = error_of(cell)
    return CellRun(CellStatus.ERROR, error) if error else CellRun(CellStatus.OK)


def first_stop(runs: list[CellRun]) -> tuple[int, CellRun] | None:
    """The first cell that did not end ``ok``, with its index, or None when all ran."""
    for index, run in enumerate(runs):
        if run.status not in (CellStatus.OK, CellStatus.NOT_RUN):
            return index, run
    return None
