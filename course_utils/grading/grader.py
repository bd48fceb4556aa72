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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course_utils import assets, engine, files
from course_utils.checks.registry import get_check, is_module_path, load_checks_module
from course_utils.engine import CellRun, CellStatus, ExecutionStats
from course_utils.grading import sandbox
from course_utils.grading.artifacts import (
    UnsafeFile,
    capture_source,
    collect_capture,
    read_bounded,
)
from course_utils.grading.notebook import (
    find_solution,
    lesson_of,
    parse_notebook,
    read_notebook,
)
from course_utils.grading.plan import GradedCheck, Step, StepKind, plan_execution, solution_checks
from course_utils.grading.reports import (
    CheckScore,
    SubmissionResult,
    feedback_names,
    safe_name,
    write_csv,
    write_feedback,
)
from course_utils.grading.worker import BOOTSTRAP

DEFAULT_CELL_TIMEOUT = 300.0
DEFAULT_MEMORY_LIMIT_MB = 4096.0
DEFAULT_SUBMISSION_TIMEOUT = 1800.0
DEFAULT_CHECK_TIMEOUT = 300.0
# RLIMIT_AS = memory limit + this: TensorFlow reserves virtual memory it never touches
# (measured peaks are in docs/grading.md); the resident limit is the watchdog's.
ADDRESS_SPACE_HEADROOM_MB = 8192.0
MAX_SUBMISSION_BYTES = 64 * 2**20
MAX_OUTPUT_BYTES = 2**20  # outputs kept per submission (only errors are read)
MAX_MESSAGE_BYTES = 16 * 2**20  # one kernel message
MAX_ARTIFACT_BYTES = 512 * 2**20  # one artifact file
MAX_EXCHANGE_BYTES = 2 * 2**30  # everything the kernel may write into the exchange folder
MAX_EXCHANGE_ENTRIES = 20_000
MAX_PROCESSES = 256
MAX_RESULTS_BYTES = 2**20
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

    ``exchange`` is the only host folder the kernel can write (its capture folders and
    ZeroMQ sockets); ``kernel`` holds what it reads (package copy, notebook copy); the
    check worker's folders are created later, after the kernel is dead.
    """

    root: Path
    sandboxed: bool

    @property
    def exchange(self) -> Path:
        return self.root / "exchange"

    @property
    def ipc(self) -> Path:
        return self.exchange / "ipc"

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
    """Short unique labels: paths relative to the submissions' common folder."""
    if not paths:
        return []
    if len(paths) == 1:
        return [paths[0].name]
    common = Path(os.path.commonpath([str(p.parent) for p in paths]))
    return [str(p.relative_to(common)) for p in paths]


# --------------------------------------------------------------------------- 1. read


def read_submission(path: Path, max_bytes: int = MAX_SUBMISSION_BYTES) -> tuple[bytes, NotebookNode]:
    """Read a submission: a regular file (not a link, FIFO or device), within ``max_bytes``."""
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
        return data, parse_notebook(data.decode("utf-8"), path.stem)
    except Exception as error:
        raise SubmissionRefused(f"could not read the notebook: {type(error).__name__}: "
                                f"{str(error)[:300]}") from None


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
    for folder in (box.kernel / "home" / "work", box.ipc, box.exchange / "out"):
        folder.mkdir(parents=True)
    _write_package(box.kernel / "pkg")
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
            assets.OFFLINE_ENV: "1",
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
        sandbox.Mount("ro", PACKAGE_IN_SANDBOX, str(box.kernel / "pkg")),
        *(sandbox.Mount("ro", str(path), str(path)) for path in _asset_paths()),
        sandbox.Mount("dir", WORK_IN_SANDBOX),
        sandbox.Mount("ro", f"{WORK_IN_SANDBOX}/{safe_name(name)}",
                      str(box.kernel / "home" / "work" / safe_name(name))),
        sandbox.Mount("rw", str(box.exchange), str(box.exchange)),
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
        if mount.kind not in ("ro", "rw") or mount.source is None:
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


def execute_plan(steps: list[Step], box: Box, name: str, config: GradingConfig,
                 after_cell: Callable[[int, CellRun], None] | None = None,
                 ) -> tuple[list[CellRun], ExecutionStats]:
    """Run the plan's cells in a fresh kernel (sandboxed when available); every process dies."""
    sources = []
    for index, step in enumerate(steps):
        if step.kind is StepKind.CAPTURE:
            assert step.check is not None
            sources.append(capture_source(step.check.key, step.check.artifacts, box.capture_dir(index)))
        else:
            sources.append(step.source)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    if box.sandboxed:
        spec = kernel_sandbox(box, name, config)

        def wrap(command: list[str]) -> list[str]:
            return sandbox.limited_command(config.limits, sandbox.bwrap_command(spec, command))

        launch = engine.KernelLaunch(wrap=wrap, ipc_dir=box.ipc, max_message_bytes=MAX_MESSAGE_BYTES)
        cwd = box.root
    else:
        launch = engine.KernelLaunch(wrap=lambda command: sandbox.limited_command(config.limits, command),
                                     max_message_bytes=MAX_MESSAGE_BYTES)
        cwd = box.kernel / "home" / "work"
    limits = engine.WatchLimits(max_processes=MAX_PROCESSES, folder=box.exchange,
                                folder_bytes=MAX_EXCHANGE_BYTES, folder_entries=MAX_EXCHANGE_ENTRIES)
    stats = ExecutionStats()
    runs = engine.execute(nb, cwd, kernel_environment(box), config.cell_timeout,
                          memory_limit_mb=config.memory_limit_mb,
                          wall_timeout=config.submission_timeout, launch=launch, limits=limits,
                          max_output_bytes=MAX_OUTPUT_BYTES, stats=stats, after_cell=after_cell)
    return runs, stats


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


# --------------------------------------------------------------------------- 7. collect


class ArtifactCollector:
    """Snapshot each capture right after its cell: validated copies, out of the kernel's reach.

    Called by the engine after every cell (``after_cell``). For a capture cell that ran,
    the expected files of its folder in the exchange are copied (regular files only, no
    links followed, no FIFO opened, size-limited; see ``artifacts.collect_capture``) into
    ``box.root/artifacts``, which no sandbox can see. Nothing the kernel does afterwards
    (a later cell, a thread, a hook) changes what is graded, and the exchange folder is
    never read again.
    """

    def __init__(self, grading: Grading, box: Box) -> None:
        self.grading = grading
        self.box = box
        self.bytes_left = MAX_EXCHANGE_BYTES
        (box.root / "artifacts").mkdir(mode=0o700, exist_ok=True)

    def __call__(self, index: int, run: CellRun) -> None:
        step = self.grading.steps[index]
        if step.kind is not StepKind.CAPTURE or step.check is None or not run.status.ran:
            return
        target = self.box.root / "artifacts" / f"step{index}"
        issues = collect_capture(self.box.capture_dir(index), list(step.check.artifacts), target,
                                 MAX_ARTIFACT_BYTES, self.bytes_left)
        self.bytes_left -= sum(p.stat().st_size for p in target.iterdir())
        self.grading.collected[step.check.key] = target
        if issues:
            self.grading.problems[step.check.key] = "; ".join(issues)


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
        mounts = [sandbox.Mount("ro", f"{inside}/pkg", str(work / "pkg")),
                  sandbox.Mount("ro", f"{inside}/checks", str(work / "checks")),
                  sandbox.Mount("ro", f"{inside}/job.json", str(work / "job.json")),
                  sandbox.Mount("ro", artifacts_inside, str(artifacts)),
                  sandbox.Mount("rw", f"{inside}/out", str(work / "out")),
                  *(sandbox.Mount("ro", str(path), str(path)) for path in _asset_paths())]
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
        try:
            grading.runs, stats = execute_plan(steps, box, path.name, config,
                                               after_cell=ArtifactCollector(grading, box))
            result.peak_rss_mb, result.peak_vms_mb = stats.peak_rss_mb, stats.peak_vms_mb
            notes = classify_stops(grading)
            if stats.survivors:  # cannot happen in a sandbox; checks must not run beside them
                raise SubmissionRefused(f"processes of the submission survived the kernel "
                                        f"({len(stats.survivors)}); not graded")
            run_checks(grading, box, config)
        finally:
            sandbox.remove_tree(box.root)
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
    """The sandbox to use for ``mode`` (auto, require, off); ``require`` fails when none works."""
    mode = sandbox.Mode(mode)  # a ValueError names a mode that does not exist
    if mode is sandbox.Mode.OFF:
        return sandbox.SandboxStatus(False, "switched off with --sandbox off")
    status = sandbox.probe()
    if mode is sandbox.Mode.REQUIRE and not status.available:
        raise RuntimeError(f"no sandbox available: {status.description}")
    return status


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
    config = GradingConfig(
        solutions_dir=Path(solutions_dir), sandbox=status,
        checks_modules=_checks_modules(list(checks_modules or [])), cell_timeout=cell_timeout,
        memory_limit_mb=memory_limit_mb, submission_timeout=submission_timeout,
        check_timeout=check_timeout,
        hidden_paths=tuple(dict.fromkeys([Path(solutions_dir).resolve(), *outputs,
                                          *(Path(p).resolve().parent for p in submissions)])))
    # Import everything grading needs before any student code runs.
    import course_utils.grading.worker  # noqa: F401

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
            result = SubmissionResult(label, path, None, error=f"{type(error).__name__}: {error}",
                                      sandbox=status)
        results[index] = result
        if verbose:
            print(f"graded {label}: {result.score:g}/{result.max_score:g} ({result.seconds:.0f} s, "
                  f"peak {result.peak_rss_mb:.0f} MB resident / {result.peak_vms_mb:.0f} MB virtual, "
                  f"sandbox: {status.label})", flush=True)
        if feedback_dir is not None:
            write_feedback(result, feedback_dir, names[index])
        if csv is not None:
            write_csv(results, csv)
    return results


__all__ = [
    "CheckScore", "GradedCheck", "Grading", "GradingConfig", "Outcome", "Step", "StepKind",
    "SubmissionRefused", "SubmissionResult", "classify_stops", "collect_submissions", "execute_plan",
    "grade_submission", "grade_submissions", "load_solution", "plan_execution", "prepare_box",
    "read_submission", "run_checks", "score_checks", "solution_checks", "write_csv", "write_feedback",
]
