"""Grade collected student notebooks against the solution notebooks, each in a sandbox.

For each submission the grader builds the notebook to execute from the student's
cells, with every check cell replaced by a grader-generated capture cell (the
solution's check call decides which artifacts are captured, whatever the student
did to the cell) and hidden checks inserted at their solution positions. The notebook
runs in a fresh kernel inside a bubblewrap sandbox (see ``sandbox.py`` and
docs/grading.md). Right after each capture cell, its artifacts are copied out of the one
folder the kernel can write and validated (:class:`ArtifactCollector`), so nothing the
kernel does later changes what is graded; once every process of the sandbox is dead, a
fresh isolated Python process, with a private copy of this package, runs the registered
check functions on those copies.

:func:`grade_submission` is a short pipeline of named steps, each a function with its
own tests (the way nbgrader composes preprocessors)::

    read_submission -> load_solution -> plan_execution -> prepare_box -> execute_plan
      (-> ArtifactCollector after each cell) -> classify_stops -> run_checks -> score_checks

The steps after planning share one :class:`Grading` record: what each found, for the next.

:func:`grade_submissions` runs it for a folder, rewrites the CSV after every submission
(every submission has a row from the start) and writes one feedback file each.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode

from course_utils import assets, engine, files, trees
from course_utils.checks.registry import get_check, is_module_path, load_checks_module
from course_utils.engine import CellRun, CellStatus, ExecutionStats
from course_utils.grading import executor, sandbox
from course_utils.grading.artifacts import (
    UnsafeFile,
    capture_source,
    read_bounded,
)
from course_utils.grading.assets_view import AssetsView, held_out_for
from course_utils.grading.notebook import (
    find_solution,
    lesson_of,
    parse_notebook,
    read_notebook,
    reduce_notebook,
)
from course_utils.grading.plan import GradedCheck, Step, StepKind, plan_execution, solution_checks
from course_utils.grading.reports import (
    CheckScore,
    SubmissionResult,
    feedback_names,
    for_terminal,
    safe_name,
    safe_text,
    write_csv,
    write_feedback,
)
from course_utils.grading.worker import BOOTSTRAP

DEFAULT_CELL_TIMEOUT = 300.0
DEFAULT_MEMORY_LIMIT_MB = 4096.0
DEFAULT_SUBMISSION_TIMEOUT = 1800.0
DEFAULT_CHECK_TIMEOUT = 300.0
# RLIMIT_AS = memory limit + this: TensorFlow reserves virtual memory it never touches (thread
# stacks, malloc arenas: MALLOC_ARENAS caps those); measured peaks are in docs/grading.md. The
# resident limit is the watchdog's, over every process of the sandbox.
ADDRESS_SPACE_HEADROOM_MB = 2048.0
MALLOC_ARENAS = 4  # glibc reserves 64 MB of address space per arena, up to 8 per core by default
MAX_SUBMISSION_BYTES = 64 * 2**20
MAX_ARTIFACT_BYTES = 512 * 2**20  # one artifact file
MAX_EXCHANGE_BYTES = 2 * 2**30  # everything the kernel may write into the exchange folder
MAX_EXCHANGE_ENTRIES = 20_000
MAX_PROCESSES = 256
MAX_RESULTS_BYTES = 2**20
EXECUTOR_GRACE = 60.0  # seconds past the submission's own time limit before its executor is killed
RO, RW = sandbox.MountKind.RO, sandbox.MountKind.RW
PACKAGE_IN_SANDBOX = "/course/pkg"
WORK_IN_SANDBOX = f"{sandbox.SANDBOX_HOME}/work"
CACHE_IN_SANDBOX = f"{sandbox.SANDBOX_HOME}/.cache/course"
GRADER_IN_SANDBOX = "/grader"
# Environment variables a kernel inherits from the grader; everything else is set here.
PASSED_ENV = ("COURSE_PROFILE", "TF_CPP_MIN_LOG_LEVEL", "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
              "TF_NUM_INTEROP_THREADS", "TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND", "CUDA_VISIBLE_DEVICES",
              "PYTHONHASHSEED")



class SubmissionRefused(Exception):
    """The submission cannot be graded at all; the message says why (for the CSV and feedback)."""


@dataclass(frozen=True)
class GradingConfig:
    """Everything that is the same for every submission of a grading run."""

    solutions_dir: Path
    sandbox: sandbox.SandboxStatus
    checks_modules: tuple[tuple[str, bytes | None], ...] = ()  # (name or file name, source)
    cell_timeout: float = DEFAULT_CELL_TIMEOUT
    memory_limit_mb: float = DEFAULT_MEMORY_LIMIT_MB
    submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT
    check_timeout: float = DEFAULT_CHECK_TIMEOUT
    hidden_paths: tuple[Path, ...] = ()  # what no sandbox may see (solutions, submissions, outputs)
    view: AssetsView | None = None  # hides what hidden checks score on from kernels (None: nothing hidden)

    @property
    def limits(self) -> sandbox.Limits:
        """The kernel-enforced per-process limits of kernels and check workers."""
        return sandbox.Limits(address_space_mb=self.memory_limit_mb + ADDRESS_SPACE_HEADROOM_MB,
                              processes=MAX_PROCESSES)


@dataclass(frozen=True)
class Outcome:
    """What the check worker reported for one check."""

    points: float
    message: str


@dataclass
class Grading:
    """One submission's grading as it goes: the plan and what each step found, for the next."""

    checks: list[GradedCheck]  # every check of the lesson, in the solution's order, with its points
    steps: list[Step]  # the cells executed
    runs: list[CellRun] = field(default_factory=list)  # how each of those cells went
    stop: str | None = None  # why execution stopped early, for the student
    collected: dict[str, Path] = field(default_factory=dict)  # check key -> its artifacts' copies
    problems: dict[str, str] = field(default_factory=dict)  # check key -> why they were refused
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # check key -> the worker's result
    worker_error: str | None = None  # why the check worker gave no result (timeout, crash)


@dataclass
class Box:
    """The folders of one submission's grading, under a fresh private temporary folder.

    The kernel writes into two host folders, each its own bind (a mount point in the
    sandbox, which it cannot rename): ``exchange`` (its capture folders) and ``ipc`` (the
    ZeroMQ sockets it binds). It reads ``kernel`` (package and notebook copies) and
    ``connection`` (its connection file), read-only. The grader connects through hard links
    in ``sockets`` and runs the kernel from ``executor``; neither is visible to any sandbox.
    The check worker's folders are created later, after the kernel is dead.
    """

    root: Path
    sandboxed: bool
    overlays: tuple[sandbox.Mount, ...] = ()  # what hides the held-out data from the kernel

    @property
    def exchange(self) -> Path:
        return self.root / "exchange"

    @property
    def ipc(self) -> Path:
        return self.root / "ipc"

    @property
    def connection(self) -> Path:
        return self.root / "connection"

    @property
    def sockets(self) -> Path:
        return self.root / "sockets"

    @property
    def executor(self) -> Path:
        return self.root / "executor"

    @property
    def kernel(self) -> Path:
        return self.root / "kernel"

    def capture_dir(self, index: int) -> Path:
        """Where the capture cell of plan step ``index`` writes (as the kernel sees it)."""
        return self.exchange / "out" / f"step{index}"


# --------------------------------------------------------------------------- package copy


def _snapshot_package() -> dict[str, bytes]:
    """Read this package's source files into memory (relative path -> bytes)."""
    root = Path(__file__).resolve().parents[1]
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


# Taken when the grader is imported, before any submission runs, so a submission that
# deletes the package directory cannot break the grading of the next ones.
PACKAGE_SNAPSHOT = _snapshot_package()


def _write_package(parent: Path) -> Path:
    """Write a private copy of the package under ``parent``; return ``parent``."""
    for relative, data in PACKAGE_SNAPSHOT.items():
        target = parent / "course_utils" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return parent


# --------------------------------------------------------------------------- collecting


def collect_submissions(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders into a de-duplicated list of ``.ipynb`` paths, in the order given.

    A folder's notebooks are listed in sorted order.

    Links are listed, not followed (``read_submission`` refuses them, so they show up
    in the results); folders are walked without following linked folders.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and not path.is_symlink():
            inside = []
            for root, dirs, files in os.walk(path, followlinks=False):
                dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints")
                linked = [d for d in dirs if (Path(root) / d).is_symlink()]
                inside.extend(Path(root) / d for d in linked)
                inside.extend(Path(root) / name for name in files if name.endswith(".ipynb"))
            found.extend(sorted(inside))
        elif path.suffix == ".ipynb" or path.is_symlink():
            found.append(path)
        else:
            raise FileNotFoundError(f"not a notebook or folder: {path}")
    return list(dict.fromkeys(Path(os.path.abspath(p)) for p in found))


def submission_labels(paths: list[Path]) -> list[str]:
    """Short unique labels: paths relative to the submissions' common folder, as text that encodes.

    A file name that is not UTF-8 keeps its place, its undecodable bytes shown as U+FFFD.
    """
    if not paths:
        return []
    if len(paths) == 1:
        return [safe_text(paths[0].name)]
    common = Path(os.path.commonpath([str(p.parent) for p in paths]))
    return [safe_text(p.relative_to(common)) for p in paths]


# --------------------------------------------------------------------------- 1. read


def read_submission(path: Path, max_bytes: int = MAX_SUBMISSION_BYTES) -> tuple[bytes, NotebookNode]:
    """Read a submission: a regular file (not a link, FIFO or device), within ``max_bytes``.

    Its JSON is parsed in a child process with a memory limit (``notebook.reduce_notebook``), which
    keeps only what grading reads: however the file is built, the grader's memory does not grow.
    """
    if path.is_symlink():
        raise SubmissionRefused("refused: the submission is a symbolic link (hand in the notebook "
                                "file itself)")
    try:
        data = read_bounded(path, max_bytes)
    except UnsafeFile as error:
        raise SubmissionRefused(f"refused: {error}") from None
    except OSError as error:
        raise SubmissionRefused(f"could not read the notebook: {error.strerror or error}") from None
    try:
        return data, parse_notebook(reduce_notebook(data), path.stem)
    except Exception as error:
        raise SubmissionRefused(f"could not read the notebook: {type(error).__name__}: "
                                f"{safe_text(error, 300)}") from None


# --------------------------------------------------------------------------- 2. solution


def load_solution(lesson: str, solutions_dir: Path) -> tuple[NotebookNode, list[GradedCheck]]:
    """The lesson's solution notebook and its checks, with their points."""
    solution = read_notebook(find_solution(lesson, solutions_dir))
    checks = [dataclasses.replace(check, max_points=get_check(check.name).points)
              for check in solution_checks(solution)]
    return solution, checks


# --------------------------------------------------------------------------- 3. plan


def prepare_box(notebook: bytes, name: str, config: GradingConfig) -> Box:
    """Create the submission's private folders: a package copy, the notebook copy, the exchange."""
    root = Path(tempfile.mkdtemp(prefix="course-grade-"))
    if len(str(root)) > 80:  # unix socket paths (exchange/ipc/k-N) must stay under 108 bytes
        os.rmdir(root)
        root = Path(tempfile.mkdtemp(prefix="course-grade-", dir="/tmp"))
    box = Box(root, sandboxed=config.sandbox.available)
    for folder in (box.kernel / "home" / "work", box.ipc, box.exchange / "out", box.connection, box.sockets,
                   box.executor):
        folder.mkdir(parents=True, mode=0o700)
    _write_package(box.kernel / "pkg")
    _write_package(box.executor / "pkg")
    (box.kernel / "home" / "work" / safe_name(name)).write_bytes(notebook)
    return box


def _asset_paths() -> list[Path]:
    """Host folders with assets a kernel or check may read: mirror, Keras cache, course cache."""
    paths = []
    mirror = assets.mirror_dir()
    if mirror is not None and mirror.is_dir():
        paths.append(mirror.resolve())
    home = assets.keras_home()
    if home.is_dir():
        paths.append(home.resolve())
    cache = assets.course_cache_dir(create=False)
    if cache.is_dir():
        paths.append(cache.resolve())
    return list(dict.fromkeys(paths))


def _passed_env() -> dict[str, str]:
    return {key: os.environ[key] for key in PASSED_ENV if key in os.environ}


def _cache_env(cache_dir: str) -> dict[str, str]:
    """COURSE_CACHE private, the instructor's cache read-only, the Keras cache where it is."""
    home = assets.keras_home()
    host_cache = assets.course_cache_dir(create=False)
    env = {"COURSE_CACHE": cache_dir, "KERAS_HOME": str(home.resolve()) if home.is_dir()
           else f"{sandbox.SANDBOX_HOME}/.keras"}
    if host_cache.is_dir():
        env["COURSE_CACHE_READONLY"] = str(host_cache.resolve())
    mirror = assets.mirror_dir()
    if mirror is not None:
        env[assets.MIRROR_ENV] = str(mirror.resolve()) if mirror.is_dir() else str(mirror)
    return env


def _base_env() -> dict[str, str]:
    """What every kernel and check worker gets: ``PASSED_ENV``, quiet TensorFlow, offline, Agg."""
    return {**_passed_env(), **engine.QUIET_ENV, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
            assets.OFFLINE_ENV: "1", "MALLOC_ARENA_MAX": str(MALLOC_ARENAS),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{sandbox.SANDBOX_PATH}"}


def kernel_environment(box: Box) -> dict[str, str]:
    """The kernel's whole environment: nothing of the grader's but ``PASSED_ENV``."""
    if box.sandboxed:
        return {**_base_env(), "PYTHONPATH": PACKAGE_IN_SANDBOX, **_cache_env(CACHE_IN_SANDBOX)}
    home = box.kernel / "home"
    return {**_base_env(), "HOME": str(home), "PYTHONPATH": str(box.kernel / "pkg"),
            "TMPDIR": tempfile.gettempdir(), **_cache_env(str(home / ".cache" / "course"))}


def kernel_sandbox(box: Box, name: str, config: GradingConfig) -> sandbox.SandboxSpec:
    """The kernel's sandbox: read-only system, Python, package copy and assets; writable exchange."""
    mounts = [
        sandbox.Mount(RO, PACKAGE_IN_SANDBOX, str(box.kernel / "pkg")),
        *(sandbox.Mount(RO, str(path), str(path)) for path in _asset_paths()),
        sandbox.Mount(sandbox.MountKind.DIR, WORK_IN_SANDBOX),
        sandbox.Mount(RO, f"{WORK_IN_SANDBOX}/{safe_name(name)}",
                      str(box.kernel / "home" / "work" / safe_name(name))),
        sandbox.Mount(RW, str(box.exchange), str(box.exchange)),
        sandbox.Mount(RW, str(box.ipc), str(box.ipc)),
        sandbox.Mount(RO, str(box.connection), str(box.connection)),
        *box.overlays,
    ]
    spec = sandbox.basic_spec(box.root / "etc", mounts, kernel_environment(box))
    spec = dataclasses.replace(spec, cwd=WORK_IN_SANDBOX)
    _refuse_exposure(spec, box, config)
    return spec


def _refuse_exposure(spec: sandbox.SandboxSpec, box: Box, config: GradingConfig) -> None:
    """Fail (a grader set-up error) when a bound folder would show a hidden path.

    Hidden: the solutions, the folders of the submissions, the CSV and feedback. The
    grader's own fresh folders (under ``box.root``) are exempt: they hold copies only.
    """
    root = Path(os.path.realpath(box.root))
    for mount in spec.mounts:
        if not mount.is_bind or mount.source is None:
            continue
        source = Path(os.path.realpath(mount.source))
        if source == root or root in source.parents:
            continue
        for hidden in config.hidden_paths:
            if hidden == source or source in hidden.parents or hidden in source.parents:
                raise RuntimeError(f"the sandbox would show {hidden} (bound: {source}); keep the "
                                   "solutions, submissions and grade files out of the folders a "
                                   "sandbox reads (Python environment, asset mirror, caches)")


# --------------------------------------------------------------------------- 5. execute


def execute_plan(grading: Grading, box: Box, name: str, config: GradingConfig) -> ExecutionStats:
    """Run the plan's cells in a fresh kernel (sandboxed when available), from the executor process.

    Sets ``grading.runs`` and, for each capture cell that ran, ``grading.collected`` (and
    ``problems``): the executor copies its artifacts out right after the cell. Every
    process of the submission is dead on return (or listed in the stats' ``survivors``).
    """
    steps = grading.steps
    sources, captures = [], []
    for index, step in enumerate(steps):
        if step.kind is StepKind.CAPTURE:
            assert step.check is not None
            sources.append(capture_source(step.check.key, step.check.artifacts, box.capture_dir(index)))
            captures.append(executor.Capture(
                index, step.check.key, list(step.check.artifacts), ["out", f"step{index}"],
                str(box.root / "artifacts" / f"step{index}")))
        else:
            sources.append(step.source)
    (box.root / "artifacts").mkdir(mode=0o700)
    if box.sandboxed:  # unix sockets in the box; the kernel's command inside bubblewrap
        spec = kernel_sandbox(box, name, config)
        wrap = sandbox.limited_command(config.limits, sandbox.bwrap_command(spec, []))
        cwd, sockets = box.root, {"ipc_dir": str(box.ipc), "connection_dir": str(box.connection),
                                  "socket_dir": str(box.sockets)}
    else:  # TCP on the loopback, as jupyter does by default
        wrap = sandbox.limited_command(config.limits, [])
        cwd, sockets = box.kernel / "home" / "work", {"ipc_dir": None, "connection_dir": None,
                                                      "socket_dir": None}
    job = executor.Job(
        sources=sources, cwd=str(cwd), env=kernel_environment(box), wrap=wrap,
        cell_timeout=config.cell_timeout,
        memory_limit_mb=config.memory_limit_mb, wall_timeout=config.submission_timeout,
        **sockets, folders=[str(box.exchange), str(box.ipc)],
        folder_bytes=MAX_EXCHANGE_BYTES, folder_entries=MAX_EXCHANGE_ENTRIES, max_processes=MAX_PROCESSES,
        exchange=str(box.exchange), captures=captures, max_artifact_bytes=MAX_ARTIFACT_BYTES,
        max_exchange_bytes=MAX_EXCHANGE_BYTES)
    timeout = config.submission_timeout + engine.STARTUP_TIMEOUT + EXECUTOR_GRACE
    outcome = executor.run(job, box.executor, box.executor / "pkg", timeout)
    grading.runs = outcome.cell_runs(len(steps))
    grading.collected = {key: Path(folder) for key, folder in outcome.collected.items()}
    grading.problems = dict(outcome.problems)
    known = {f.name for f in dataclasses.fields(ExecutionStats)}
    stats = ExecutionStats(**{k: v for k, v in (outcome.stats or {}).items() if k in known})
    stats.grader_rss_mb = outcome.peak_rss_mb
    return stats


# --------------------------------------------------------------------------- 6. classify


def _stop_message(run: CellRun, step: Step) -> str:
    """Describe why execution stopped, naming the submission cell when known."""
    where = f"cell {step.cell_number}" if step.cell_number else "a grader cell"
    return run.detail if run.status is CellStatus.WALL else f"{where}: {run.detail}"


def classify_stops(grading: Grading) -> list[str]:
    """Notes for the student (why execution stopped, which cells raised); sets ``grading.stop``."""
    steps, runs = grading.steps, grading.runs
    grading.stop = next((_stop_message(run, steps[i]) for i, run in enumerate(runs) if run.status.stopped),
                        None)
    notes = [f"execution stopped: {grading.stop}"] if grading.stop else []
    for step, run in zip(steps, runs, strict=True):
        if step.kind is StepKind.STUDENT and run.status is CellStatus.ERROR:
            notes.append(f"cell {step.cell_number} raised {run.detail[:300]}")
    return notes


# --------------------------------------------------------------------------- 8. checks


def run_checks(grading: Grading, box: Box, config: GradingConfig) -> None:
    """Run the collected checks in an isolated (sandboxed) process: sets ``grading.outcomes`` by check
    key, and ``grading.worker_error`` when the worker failed."""
    items = [(step.check, grading.collected[step.check.key]) for step in grading.steps
             if step.check is not None and step.check.key in grading.collected
             and step.check.key not in grading.problems]
    if not items:
        return
    work = Path(tempfile.mkdtemp(prefix="checks-", dir=box.root))  # created after the kernel died
    inside = GRADER_IN_SANDBOX if box.sandboxed else str(work)
    _write_package(work / "pkg")
    (work / "checks").mkdir()
    (work / "out").mkdir()
    modules = []
    for number, (module, source) in enumerate(config.checks_modules):
        if source is None:
            modules.append(module)
        else:
            (work / "checks" / str(number)).mkdir()
            files.write_new(work / "checks" / str(number) / module, source)
            modules.append(f"{inside}/checks/{number}/{module}")
    artifacts = box.root / "artifacts"
    artifacts_inside = f"{GRADER_IN_SANDBOX}/artifacts" if box.sandboxed else str(artifacts)
    job = {"checks_modules": modules, "items": [
        {"key": check.key, "check": check.name, "artifacts": list(check.artifacts),
         "dir": f"{artifacts_inside}/{folder.name}"} for check, folder in items]}
    files.write_new(work / "job.json", json.dumps(job).encode())
    command = [sys.executable, "-I", "-c", BOOTSTRAP, f"{inside}/pkg", f"{inside}/job.json",
               f"{inside}/out/results.jsonl"]
    env = _base_env()
    if box.sandboxed:
        mounts = [sandbox.Mount(RO, f"{inside}/pkg", str(work / "pkg")),
                  sandbox.Mount(RO, f"{inside}/checks", str(work / "checks")),
                  sandbox.Mount(RO, f"{inside}/job.json", str(work / "job.json")),
                  sandbox.Mount(RO, artifacts_inside, str(artifacts)),
                  sandbox.Mount(RW, f"{inside}/out", str(work / "out")),
                  *(sandbox.Mount(RO, str(path), str(path)) for path in _asset_paths())]
        spec = sandbox.basic_spec(work / "etc", mounts, {**env, **_cache_env(CACHE_IN_SANDBOX)})
        spec = dataclasses.replace(spec, cwd=f"{inside}/out")
        _refuse_exposure(spec, box, config)
        command = sandbox.bwrap_command(spec, command)
        popen_env = {"PATH": sandbox.SANDBOX_PATH}
    else:
        popen_env = {**env, "HOME": str(work), **_cache_env(str(work / "cache"))}
    grading.worker_error = _run_bounded(sandbox.limited_command(config.limits, command), work, popen_env,
                                        config)
    grading.outcomes = _read_results(work / "out" / "results.jsonl", {c.key for c, _ in items})


def _run_bounded(command: list[str], work: Path, env: dict[str, str], config: GradingConfig
                 ) -> str | None:
    """Run the check worker with a timeout and the memory watchdog; its output goes to a file."""
    log_path = work / "worker.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=log, start_new_session=True)
        watchdog = engine.MemoryWatchdog(process.pid, config.memory_limit_mb,
                                         engine.WatchLimits(max_processes=MAX_PROCESSES))
        watchdog.start()
        try:
            code = process.wait(timeout=config.check_timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            watchdog.stop()
            watchdog.kill_all()
            watchdog.wait_dead()
            process.wait()
    if code is None:
        return f"the check process timed out after {config.check_timeout:g} s"
    if watchdog.fired:
        return f"the check process went over the memory limit ({config.memory_limit_mb:g} MB)"
    if code != 0:
        tail = _tail(log_path).strip().splitlines()[-1:] or ["no error output"]
        return f"the check process failed: {tail[0][:300]}"
    return None


def _tail(path: Path, size: int = 4096) -> str:
    """The last ``size`` bytes of a file, as text."""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - size))
        return handle.read().decode("utf-8", "replace")


def _read_results(path: Path, keys: set[str]) -> dict[str, Outcome]:
    """The worker's results: one JSON object per line, only for expected keys, bounded."""
    try:
        data = read_bounded(path, MAX_RESULTS_BYTES)
    except (OSError, UnsafeFile):
        return {}
    results: dict[str, Outcome] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            record = json.loads(line)
            key, points, message = record["key"], float(record["points"]), str(record["message"])
        except (ValueError, KeyError, TypeError):
            continue
        if key in keys and key not in results:
            results[key] = Outcome(points, message[:2000])
    return results


# --------------------------------------------------------------------------- 9. score


def score_checks(grading: Grading) -> list[CheckScore]:
    """Points and message for every check of the lesson, in the solution's order."""
    scores = {c.key: CheckScore(c.key, c.name, 0.0, c.max_points) for c in grading.checks}
    for step, run in zip(grading.steps, grading.runs, strict=True):
        if step.check is None:
            continue
        score = scores[step.check.key]
        if step.check.key in grading.problems:
            score.message = f"not graded: {grading.problems[step.check.key]}"
        elif step.check.key in grading.collected:
            outcome = grading.outcomes.get(step.check.key)
            if outcome is None:
                score.message = grading.worker_error or "the check did not report a result"
            else:
                score.points = min(max(outcome.points, 0.0), score.max_points)
                score.message = outcome.message
        elif run.status.stopped:
            score.message = f"not graded: {_stop_message(run, step)}"
        else:
            score.message = f"not graded: the notebook stopped earlier ({grading.stop})"
    return list(scores.values())


# --------------------------------------------------------------------------- pipeline


def grade_submission(path: Path, label: str, config: GradingConfig) -> SubmissionResult:
    """Grade one submission notebook; never raises for problems caused by the submission."""
    started = time.monotonic()
    result = SubmissionResult(submission=label, path=path, lesson=None, sandbox=config.sandbox)
    try:
        data, submission = read_submission(path)
        try:
            result.lesson = lesson_of(path, submission)
        except ValueError as error:
            raise SubmissionRefused(f"refused: {error}") from None
        if result.lesson is None:
            raise SubmissionRefused("cannot tell the lesson (no course.lesson metadata, no NN_ prefix)")
        solution, checks = load_solution(result.lesson, config.solutions_dir)
        result.checks = [CheckScore(c.key, c.name, 0.0, c.max_points) for c in checks]
        steps, result.notes = plan_execution(solution, submission, checks)
        grading = Grading(checks, steps)
        box = prepare_box(data, path.name, config)
        if config.view is not None and box.sandboxed:
            box.overlays = tuple(config.view.mounts(held_out_for(check.name for check in checks)))
        notes: list[str] = []
        try:
            stats = execute_plan(grading, box, path.name, config)
            result.peak_rss_mb, result.peak_vms_mb = stats.peak_rss_mb, stats.peak_vms_mb
            result.grader_rss_mb = stats.grader_rss_mb
            notes = classify_stops(grading)
            if stats.survivors:  # cannot happen in a sandbox; checks must not run beside them
                raise SubmissionRefused(f"processes of the submission survived the kernel "
                                        f"({len(stats.survivors)}); not graded")
            run_checks(grading, box, config)
        finally:
            if not trees.remove_tree(box.root):
                notes.append(f"the grader could not remove all of its folder {box.root}")
        result.notes += notes
        result.checks = score_checks(grading)
    except SubmissionRefused as refused:
        result.error = str(refused)
    finally:
        result.seconds = time.monotonic() - started
    if not config.sandbox.available:
        result.notes.append(f"graded WITHOUT a sandbox ({config.sandbox.description})")
    return result


def resolve_sandbox(mode: sandbox.Mode | str) -> sandbox.SandboxStatus:
    """The sandbox to use for ``mode`` (auto, require, off).

    ``auto`` grades without a sandbox only where no sandbox tool exists (loudly); a
    bubblewrap that is installed but cannot start stops the run before the first
    submission, with what to fix. ``require`` stops whenever no sandbox works.
    """
    mode = sandbox.Mode(mode)  # a ValueError names a mode that does not exist
    if mode is sandbox.Mode.OFF:
        return sandbox.SandboxStatus(sandbox.SandboxState.OFF, "switched off with --sandbox off")
    status = sandbox.probe()
    if status.state is sandbox.SandboxState.BROKEN:
        raise RuntimeError(f"{status.description}. Nothing was graded. Fix it, or grade without a sandbox "
                           "with --sandbox off (a student's code could then reach your files: see "
                           "docs/grading.md)")
    if mode is sandbox.Mode.REQUIRE and not status.available:
        raise RuntimeError(f"no sandbox available: {status.description}")
    return status


def preflight(config: GradingConfig) -> None:
    """Start the kernel's sandbox once, with every mount a submission gets, before grading anything.

    Raises ``RuntimeError`` with what to fix when it cannot start (a mount bubblewrap
    refuses, a folder that would show the solutions): then no submission is graded at all,
    rather than each one failing, or running unprotected.
    """
    if not config.sandbox.available:
        return
    box = prepare_box(b"{}", "99_preflight.ipynb", config)
    try:
        spec = kernel_sandbox(box, "99_preflight.ipynb", config)
        reason, _ = sandbox.try_sandbox(spec)
    finally:
        trees.remove_tree(box.root)
    if reason is not None:
        raise RuntimeError(f"the grading sandbox cannot start with the folders it needs ({reason}); to fix: "
                           f"{sandbox.fix_for(reason)}. Nothing was graded.")


def _report(result: SubmissionResult, index: int, names: list[str], results: list[SubmissionResult],
            csv: str | Path | None, feedback_dir: str | Path | None, verbose: bool) -> None:
    """Print, write the feedback file and rewrite the CSV for one graded submission.

    Each step on its own: one that fails is reported (in the submission's row, or on the
    terminal) and the others, and the run, go on.
    """
    if verbose:
        try:
            print(f"graded {for_terminal(result.submission, 200)}: {result.score:g}/{result.max_score:g} "
                  f"({result.seconds:.0f} s, peak {result.peak_rss_mb:.0f} MB resident / "
                  f"{result.peak_vms_mb:.0f} MB virtual, grader {result.grader_rss_mb:.0f} MB, sandbox: "
                  f"{for_terminal(result.sandbox.label if result.sandbox else '')})", flush=True)
        except Exception as error:  # a terminal that cannot print: the files still get written
            print(f"(could not print the result: {type(error).__name__})", file=sys.stderr, flush=True)
    if feedback_dir is not None:
        try:
            write_feedback(result, feedback_dir, names[index])
        except Exception as error:
            problem = (f"the feedback file could not be written: {type(error).__name__}: "
                       f"{safe_text(error, 300)}")
            result.error = f"{result.error}; {problem}" if result.error else problem
    if csv is not None:
        try:
            write_csv(results, csv)
        except Exception as error:
            print(f"WARNING: the CSV could not be written ({type(error).__name__}: "
                  f"{for_terminal(error, 300)}); it is rewritten after the next submission",
                  file=sys.stderr, flush=True)


def _checks_modules(modules: list[str | Path]) -> tuple[tuple[str, bytes | None], ...]:
    """Load extra checks modules here and snapshot the sources of those given as files."""
    snapshot = []
    for module in modules:
        text = str(module)
        if is_module_path(text):
            path = Path(text).resolve()
            snapshot.append((path.name, path.read_bytes()))
            load_checks_module(path)
        else:
            load_checks_module(text)
            snapshot.append((text, None))
    return tuple(snapshot)


def grade_submissions(
    paths: list[str | Path],
    solutions_dir: str | Path = "solutions",
    csv: str | Path | None = None,
    feedback_dir: str | Path | None = None,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    memory_limit_mb: float = DEFAULT_MEMORY_LIMIT_MB,
    submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT,
    check_timeout: float = DEFAULT_CHECK_TIMEOUT,
    checks_modules: list[str | Path] | None = None,
    verbose: bool = False,
    sandbox_mode: sandbox.Mode | str = sandbox.Mode.AUTO,
) -> list[SubmissionResult]:
    """Grade notebooks (files or folders); keep a CSV and feedback files up to date as it goes."""
    status = resolve_sandbox(sandbox_mode)
    if not status.available:
        print(sandbox.no_sandbox_warning(status), file=sys.stderr, flush=True)
    submissions = collect_submissions(paths)
    outputs = [Path(p).resolve() for p in (csv, feedback_dir) if p is not None]
    run_folder = Path(tempfile.mkdtemp(prefix="course-grade-run-"))
    try:
        config = GradingConfig(
            solutions_dir=Path(solutions_dir), sandbox=status,
            checks_modules=_checks_modules(list(checks_modules or [])), cell_timeout=cell_timeout,
            memory_limit_mb=memory_limit_mb, submission_timeout=submission_timeout,
            check_timeout=check_timeout,
            hidden_paths=tuple(dict.fromkeys([Path(solutions_dir).resolve(), *outputs,
                                              *(Path(p).resolve().parent for p in submissions)])),
            view=AssetsView(run_folder / "view") if status.available else None)
        return _grade_all(submissions, config, csv, feedback_dir, verbose)
    finally:
        trees.remove_tree(run_folder)


def _grade_all(submissions: list[Path], config: GradingConfig, csv: str | Path | None,
               feedback_dir: str | Path | None, verbose: bool) -> list[SubmissionResult]:
    """Grade each submission in turn, each in its own failure boundary, reporting as it goes."""
    status = config.sandbox
    # Import everything grading needs before any student code runs.
    import course_utils.grading.worker  # noqa: F401

    preflight(config)
    labels = submission_labels(submissions)
    results = [SubmissionResult(label, path, None, error="not graded: the grading run stopped first",
                                sandbox=status) for path, label in zip(submissions, labels,
                                                                             strict=True)]
    names = feedback_names(labels)
    if csv is not None:
        write_csv(results, csv)
    for index, (path, label) in enumerate(zip(submissions, labels, strict=True)):
        try:
            result = grade_submission(path, label, config)
        except Exception as error:  # a broken solution or grader bug: report, go on
            result = SubmissionResult(label, path, None, sandbox=status,
                                      error=f"{type(error).__name__}: {safe_text(error, 2000)}")
        results[index] = result
        _report(result, index, names, results, csv, feedback_dir, verbose)
    return results


__all__ = [
    "CheckScore", "GradedCheck", "Grading", "GradingConfig", "Outcome", "Step", "StepKind",
    "SubmissionRefused", "SubmissionResult", "classify_stops", "collect_submissions", "execute_plan",
    "grade_submission", "grade_submissions", "load_solution", "plan_execution", "prepare_box",
    "read_submission", "run_checks", "score_checks", "solution_checks", "write_csv", "write_feedback",
]
