"""The grader's process that talks to a student's kernel, with a memory limit of its own.

ZeroMQ delivers a message of many frames whole: it holds every frame in the reading
process before any code can look at the first, and it bounds the size of one frame
(``MAXMSGSIZE``), never the number of frames. So whatever reads a hostile kernel's sockets
can be made to hold any amount of memory. The grader therefore never reads a kernel
itself: for each submission it starts this module in a fresh process (``python -I``, a
private copy of the package, a job file), which runs the notebook (``engine.execute`` with
:class:`course_utils.messages.MessageBounds`), copies each capture's artifacts out right
after its cell (:class:`ArtifactCollector`) and writes one line of progress per cell. Its
address space is limited to what it uses at start plus :data:`MEMORY_MB`; a flood that
would need more kills it, and with it the sandbox (``--die-with-parent``). The grader
reports that cell as stopped, keeps what earlier cells produced, and goes on.

Parent side: :func:`run`. Child side: :func:`main` (``python -I -c BOOTSTRAP ...``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MEMORY_MB = 200  # the executor's address space may grow by this much over what it uses at start
WATCH_SECONDS = 0.1
MAX_PROGRESS_BYTES = 16 * 2**20

# Run as ``python -I -c BOOTSTRAP PACKAGE_PARENT JOB PROGRESS``: the package copy is the only
# non-standard entry on sys.path. rfc3987_syntax (imported by jsonschema, imported by nbformat)
# builds a grammar for seconds at import; the executor validates no URI, so it is skipped.
BOOTSTRAP = (
    "import sys\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "sys.modules['rfc3987_syntax'] = None\n"
    "from course_utils.grading.executor import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


@dataclass(frozen=True)
class Capture:
    """A capture cell's artifacts to copy out right after it ran."""

    index: int  # the cell
    key: str  # the check
    artifacts: list[str]
    parts: list[str]  # the capture folder, relative to the exchange
    target: str  # a new folder no sandbox sees


@dataclass
class Job:
    """Everything the executor needs, as JSON: the cells, the kernel's launch, limits, captures."""

    sources: list[str]
    cwd: str
    env: dict[str, str]
    wrap: list[str]  # the kernel command is appended to this (rlimit launcher, bubblewrap)
    cell_timeout: float
    memory_limit_mb: float
    wall_timeout: float
    ipc_dir: str | None
    connection_dir: str | None
    socket_dir: str | None
    folders: list[str]  # what the kernel may write, watched
    folder_bytes: int
    folder_entries: int
    max_processes: int
    exchange: str
    captures: list[Capture] = field(default_factory=list)
    max_artifact_bytes: int = 512 * 2**20
    max_exchange_bytes: int = 2 * 2**30
    memory_mb: float = MEMORY_MB  # what the executor's address space may grow by


@dataclass
class Execution:
    """What the executor reported: how each cell went, what was collected, the peaks measured."""

    runs: dict[int, tuple[str, str]] = field(default_factory=dict)  # cell -> (status, detail)
    collected: dict[str, str] = field(default_factory=dict)  # check key -> artifacts folder
    problems: dict[str, str] = field(default_factory=dict)
    stats: dict[str, Any] | None = None  # engine.ExecutionStats, when the executor finished
    exit_code: int | None = None
    peak_rss_mb: float = 0.0  # the executor's own resident memory, measured by the grader
    failure: str | None = None  # why the executor stopped early, for the student
    timed_out: bool = False  # ... because it ran past its time

    def cell_runs(self, count: int):
        """How each of ``count`` cells went; the first not reported is where an early stop happened."""
        from course_utils.engine import CellRun, CellStatus

        runs = [CellRun(CellStatus(self.runs[i][0]), self.runs[i][1]) if i in self.runs else CellRun()
                for i in range(count)]
        if self.failure is not None and not any(run.status.stopped for run in runs):
            first = next((i for i, run in enumerate(runs) if run.status is CellStatus.NOT_RUN), None)
            if first is not None:
                runs[first] = (CellRun(CellStatus.WALL, self.failure) if self.timed_out
                               else CellRun(CellStatus.LIMIT, f"limit exceeded: {self.failure}"))
        return runs


# --------------------------------------------------------------------------- child


class ArtifactCollector:
    """Snapshot each capture right after its cell: validated copies, out of the kernel's reach.

    Called by the engine after every cell. For a capture cell that ran, the expected files
    of its folder in the exchange are copied (by descriptor, regular files only, size-limited;
    see ``artifacts.collect_capture``) into a folder no sandbox can see. Nothing the kernel
    does afterwards (a later cell, a thread, a hook) changes what is graded.
    """

    def __init__(self, job: Job, progress) -> None:
        self.job = job
        self.progress = progress
        self.captures = {capture.index: capture for capture in job.captures}
        self.bytes_left = job.max_exchange_bytes

    def __call__(self, index: int, run) -> None:
        from course_utils.grading.artifacts import collect_capture

        record: dict[str, Any] = {"cell": index, "status": run.status.value, "detail": run.detail[:2000]}
        capture = self.captures.get(index)
        if capture is not None and run.status.ran:
            target = Path(capture.target)
            issues = collect_capture(Path(self.job.exchange), capture.parts, capture.artifacts, target,
                                     self.job.max_artifact_bytes, self.bytes_left)
            self.bytes_left -= sum(path.stat().st_size for path in target.iterdir())
            record["collected"] = [capture.key, str(target)]
            if issues:
                record["problem"] = "; ".join(issues)[:2000]
        self.progress.write(json.dumps(record) + "\n")
        self.progress.flush()


def _limit_memory(extra_mb: float) -> None:
    """Limit this process's address space (soft) to what it uses now plus ``extra_mb``.

    Only the soft limit: the kernel's rlimit launcher, started from here, sets its own.
    """
    import resource

    import psutil

    current = psutil.Process().memory_info().vms
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    soft = int(current + extra_mb * 2**20)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def execute(job: Job, progress) -> None:
    """Run the job's notebook in a fresh kernel; one progress line per cell, then the stats."""
    import nbformat

    from course_utils import engine
    from course_utils.messages import MessageBounds

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in job.sources])
    prefix = list(job.wrap)
    launch = engine.KernelLaunch(
        wrap=lambda command: [*prefix, *command],
        ipc_dir=Path(job.ipc_dir) if job.ipc_dir else None,
        connection_dir=Path(job.connection_dir) if job.connection_dir else None,
        socket_dir=Path(job.socket_dir) if job.socket_dir else None,
        bounds=MessageBounds())
    limits = engine.WatchLimits(max_processes=job.max_processes, folders=tuple(Path(f) for f in job.folders),
                                folder_bytes=job.folder_bytes, folder_entries=job.folder_entries)
    stats = engine.ExecutionStats()
    engine.execute(nb, job.cwd, job.env, job.cell_timeout, memory_limit_mb=job.memory_limit_mb,
                   wall_timeout=job.wall_timeout, launch=launch, limits=limits, stats=stats,
                   after_cell=ArtifactCollector(job, progress))
    progress.write(json.dumps({"stats": asdict(stats)}) + "\n")
    progress.flush()


def main(argv: list[str]) -> int:
    """``JOB PROGRESS``: run the job, writing progress to the new file ``PROGRESS``."""
    job_path, progress_path = argv
    raw = json.loads(Path(job_path).read_text(encoding="utf-8"))
    raw["captures"] = [Capture(**capture) for capture in raw.get("captures", [])]
    job = Job(**raw)
    import nbclient  # noqa: F401 - imported before the limit: what the executor uses at start

    import course_utils.engine  # noqa: F401
    import course_utils.grading.artifacts  # noqa: F401

    _limit_memory(job.memory_mb)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    with os.fdopen(os.open(progress_path, flags, 0o600), "w", encoding="utf-8") as progress:
        execute(job, progress)
    return 0


# --------------------------------------------------------------------------- parent


def _read_progress(path: Path, outcome: Execution) -> None:
    """Fill ``outcome`` from the progress file (bounded; a torn last line is ignored)."""
    from course_utils.grading.artifacts import UnsafeFile, read_bounded

    try:
        data = read_bounded(path, MAX_PROGRESS_BYTES)
    except (OSError, UnsafeFile):
        return
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if "stats" in record:
            outcome.stats = record["stats"]
            continue
        try:
            outcome.runs[int(record["cell"])] = (str(record["status"]), str(record["detail"]))
        except (KeyError, TypeError, ValueError):
            continue
        if "collected" in record:
            key, folder = record["collected"]
            outcome.collected[str(key)] = str(folder)
            if "problem" in record:
                outcome.problems[str(key)] = str(record["problem"])


def run(job: Job, folder: Path, package: Path, timeout: float) -> Execution:
    """Run ``job`` in a fresh executor process; every process it started is dead on return.

    ``folder`` (new, private to the grader) receives the job and progress files; ``package``
    is the parent of the package copy it imports. The executor's resident memory is measured
    (``peak_rss_mb``); past ``timeout`` seconds it is killed.
    """
    import psutil

    from course_utils import engine, files

    job_path, progress_path = folder / "job.json", folder / "progress.jsonl"
    files.write_new(job_path, json.dumps(asdict(job)).encode("utf-8"))
    command = [sys.executable, "-I", "-c", BOOTSTRAP, str(package), str(job_path), str(progress_path)]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "MALLOC_ARENA_MAX": "2"}
    outcome = Execution()
    with open(folder / "executor.log", "wb") as log:
        process = subprocess.Popen(command, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=log, start_new_session=True)
        watchdog = engine.MemoryWatchdog(process.pid, None)  # finds the sandbox's processes, for the end
        watchdog.start()
        done = threading.Event()

        def measure() -> None:
            executor = psutil.Process(process.pid)
            while not done.wait(WATCH_SECONDS):
                try:
                    outcome.peak_rss_mb = max(outcome.peak_rss_mb, executor.memory_info().rss / 2**20)
                except psutil.Error:
                    return

        sampler = threading.Thread(target=measure, name="executor-memory", daemon=True)
        sampler.start()
        try:
            outcome.exit_code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            outcome.failure, outcome.timed_out = f"time limit {timeout:g} s exceeded", True
        finally:
            done.set()
            sampler.join()
            watchdog.stop()
            process.kill()
            process.wait()
            watchdog.kill_all()
            survivors = watchdog.wait_dead()
    _read_progress(progress_path, outcome)
    if outcome.stats is None and outcome.failure is None:
        outcome.failure = (f"the kernel's messages needed more memory than the grader allows "
                           f"({job.memory_mb:g} MB) or the grader's reader stopped (exit code "
                           f"{outcome.exit_code})")
    if outcome.stats is not None:
        outcome.stats["survivors"] = sorted(set(outcome.stats.get("survivors", [])) | set(survivors))
    elif survivors:
        outcome.stats = {"survivors": survivors}
    return outcome
