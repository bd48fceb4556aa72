"""Run untrusted code (a student's kernel, the check worker) in a bubblewrap sandbox.

Why bubblewrap: it is the small, audited tool Flatpak uses to build exactly this kind of
sandbox out of Linux namespaces, it needs no daemon and no root, and Debian ships it
(``apt-get install bubblewrap``). We only assemble its command line here; we do not
write our own namespace code.

What a sandbox built by :func:`bwrap_command` gets:

* its own user, PID, network, IPC, UTS and cgroup namespaces (``--unshare-all``): it
  sees only its own processes, has only a loopback network of its own, and every
  process in it is killed when its first process dies (``--die-with-parent`` also
  kills it when the grader dies); no capabilities, no nested user namespaces, a new
  terminal session (no keystroke injection into the grader's terminal);
* a read-only root built from the paths the caller lists (the system's ``/usr``, the
  Python installation, the course package copy, the asset mirror), nothing else of
  the host's file system, and size-limited private ``tmpfs`` folders (``/tmp``,
  ``HOME``, ``/dev/shm``); ``/proc`` of its own PID namespace;
* the writable host folders the caller lists (for the grader: one exchange folder);
* only the environment variables the caller sets (``--clearenv``).

Limits the Linux kernel enforces (:class:`Limits`) are applied by a tiny launcher
(:data:`RLIMIT_PROGRAM`, run with ``python -I -S``) that sets them and then execs
bubblewrap, so every process in the sandbox inherits them.

:func:`probe` tells whether a working bubblewrap is available here (and why not).
"""

from __future__ import annotations

import enum
import functools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SANDBOX_UID = 1000
SANDBOX_HOME = "/home/student"
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
MB = 1024 * 1024

# Sets the rlimits named in argv[1] (JSON {"AS": bytes, ...}; never above the current hard
# limit; one the OS refuses is skipped) and execs argv[2:]. It imports only built-in
# modules, so ``python -I -S`` runs it in ~20 ms without reading site-packages.
RLIMIT_PROGRAM = (
    "import json, os, resource, sys\n"
    "for name, value in json.loads(sys.argv[1]).items():\n"
    "    which = getattr(resource, 'RLIMIT_' + name)\n"
    "    hard = resource.getrlimit(which)[1]\n"
    "    value = value if hard == resource.RLIM_INFINITY else min(value, hard)\n"
    "    try:\n"
    "        resource.setrlimit(which, (value, value))\n"
    "    except (ValueError, OSError):  # e.g. RLIMIT_AS on macOS: go on without that limit\n"
    "        pass\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)

# Host files a dynamically linked Python needs from /etc (the loader cache, time zone).
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf")


@dataclass(frozen=True)
class Limits:
    """Per-process limits enforced by the Linux kernel (``setrlimit``), inherited by children.

    ``address_space_mb`` (``RLIMIT_AS``) caps each process's virtual memory: an allocation
    past it fails (``MemoryError``) instead of growing. TensorFlow reserves far more virtual
    memory than it uses (measured: 4.3 GB virtual for 1.8 GB resident while fine-tuning
    MobileNetV2), so this cap sits above the resident-memory limit the watchdog enforces.
    ``processes`` (``RLIMIT_NPROC``) is not enforced by Linux for root; the engine's
    watchdog also counts processes.
    """

    address_space_mb: float | None = None
    file_size_mb: float | None = 1024
    processes: int | None = 512
    open_files: int | None = 4096

    def as_rlimits(self) -> dict[str, int]:
        """The limits as ``{"AS": bytes, ...}`` for :data:`RLIMIT_PROGRAM`."""
        limits = {"CORE": 0}
        if self.address_space_mb:
            limits["AS"] = int(self.address_space_mb * MB)
        if self.file_size_mb:
            limits["FSIZE"] = int(self.file_size_mb * MB)
        if self.processes:
            limits["NPROC"] = int(self.processes)
        if self.open_files:
            limits["NOFILE"] = int(self.open_files)
        return limits


@dataclass(frozen=True)
class Mount:
    """One entry of the sandbox's file system: ``ro``/``rw`` bind, ``tmpfs``, ``dir`` or ``symlink``."""

    kind: str
    target: str
    source: str | None = None  # host path for binds, link text for symlinks
    size_mb: float | None = None  # tmpfs size


@dataclass(frozen=True)
class SandboxSpec:
    """Everything a sandbox sees: mounts (in order), environment, working directory."""

    mounts: tuple[Mount, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str = SANDBOX_HOME


class Mode(enum.Enum):
    """How the grader uses the sandbox (``grade --sandbox``)."""

    AUTO = "auto"  # when available; a loud warning otherwise
    REQUIRE = "require"  # refuse to grade without one
    OFF = "off"  # never (the warning still says so)


@dataclass(frozen=True)
class SandboxStatus:
    """Whether submissions can be sandboxed here, with what, or why not."""

    available: bool
    description: str  # "bubblewrap 0.8.0" or the reason it is not available
    seconds: float = 0.0  # how long the probe's sandboxed ``python -c pass`` took

    @property
    def label(self) -> str:
        """Short text for tables and CSV files: ``bwrap`` or ``NONE (reason)``."""
        return "bwrap" if self.available else f"NONE ({self.description})"


def find_bwrap() -> str | None:
    """Path of the bubblewrap executable (``COURSE_BWRAP`` overrides the ``PATH`` lookup)."""
    override = os.environ.get("COURSE_BWRAP", "").strip()
    if override:
        return override if os.access(override, os.X_OK) else None
    return shutil.which("bwrap")


def limited_command(limits: Limits, command: Sequence[str]) -> list[str]:
    """``command`` run under ``limits``: the rlimit launcher, then ``command`` via exec.

    Where Python has no ``resource`` module (Windows) ``command`` runs as it is.
    """
    if sys.platform == "win32":
        return list(command)
    return [sys.executable, "-I", "-S", "-c", RLIMIT_PROGRAM, json.dumps(limits.as_rlimits()),
            *command]


def _is_under(path: Path, parents: Sequence[Path]) -> bool:
    return any(path == parent or parent in path.parents for parent in parents)


def system_mounts() -> list[Mount]:
    """Read-only ``/usr`` (and ``/bin``, ``/lib*``, ``/sbin`` as on the host) plus /etc's loader files."""
    mounts = [Mount("ro", "/usr", "/usr")]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            mounts.append(Mount("symlink", str(host), os.readlink(host)))
        elif host.is_dir():
            mounts.append(Mount("ro", str(host), str(host)))
    for name in ETC_FILES:
        host = Path("/etc") / name
        if host.exists():
            mounts.append(Mount("ro", str(host), str(host)))
    return mounts


def python_mounts() -> list[Mount]:
    """Read-only binds of the running Python: its installation and its environment (venv).

    Only ``sys.base_prefix``, ``sys.prefix``, the exec prefixes and the real interpreter's
    installation are bound, never other ``sys.path`` entries: those may be a course
    checkout, with its solutions. A prefix reached through a symlink is bound at both paths.
    """
    candidates = [sys.base_prefix, sys.prefix, sys.exec_prefix, sys.base_exec_prefix,
                  str(Path(os.path.realpath(sys.executable)).parent.parent)]
    targets: dict[str, str] = {}  # target -> host source
    for raw in candidates:
        for target in dict.fromkeys([os.path.realpath(raw), os.path.abspath(raw)]):
            if Path(target).is_dir():
                targets[target] = os.path.realpath(raw)
    kept = []
    for target in sorted(targets, key=len):
        covered = [Path("/usr"), *(Path(t) for t in kept)]
        if not _is_under(Path(target), covered):
            kept.append(target)
    return [Mount("ro", target, targets[target]) for target in kept]


def identity_files(folder: Path) -> list[Mount]:
    """Write a minimal ``/etc/passwd`` and ``/etc/group`` for the sandbox user into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "passwd").write_text(
        f"student:x:{SANDBOX_UID}:{SANDBOX_UID}:student:{SANDBOX_HOME}:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", encoding="utf-8")
    (folder / "group").write_text(f"student:x:{SANDBOX_UID}:\nnogroup:x:65534:\n", encoding="utf-8")
    (folder / "hosts").write_text("127.0.0.1 localhost\n::1 localhost\n", encoding="utf-8")
    return [Mount("ro", f"/etc/{name}", str(folder / name)) for name in ("passwd", "group", "hosts")]


def private_mounts(tmp_mb: float = 1024, home_mb: float = 1024, shm_mb: float = 64) -> list[Mount]:
    """``/proc``, ``/dev``, and the sized private tmpfs folders ``/tmp``, ``HOME``, ``/dev/shm``."""
    return [
        Mount("proc", "/proc"),
        Mount("dev", "/dev"),
        Mount("tmpfs", "/dev/shm", size_mb=shm_mb),
        Mount("tmpfs", "/tmp", size_mb=tmp_mb),
        Mount("tmpfs", SANDBOX_HOME, size_mb=home_mb),
    ]


def bwrap_command(spec: SandboxSpec, command: Sequence[str], bwrap: str | None = None) -> list[str]:
    """The bubblewrap command line that runs ``command`` inside ``spec``'s sandbox."""
    bwrap = bwrap or find_bwrap()
    if bwrap is None:
        raise RuntimeError("bubblewrap (bwrap) is not installed")
    args = [bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid",
            str(SANDBOX_UID), "--disable-userns", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--hostname", "sandbox", "--clearenv"]
    for mount in spec.mounts:
        if mount.kind == "ro":
            args += ["--ro-bind", str(mount.source), mount.target]
        elif mount.kind == "rw":
            args += ["--bind", str(mount.source), mount.target]
        elif mount.kind == "tmpfs":
            if mount.size_mb:
                args += ["--size", str(int(mount.size_mb * MB))]
            args += ["--perms", "0700", "--tmpfs", mount.target]
        elif mount.kind == "dir":
            args += ["--dir", mount.target]
        elif mount.kind == "symlink":
            args += ["--symlink", str(mount.source), mount.target]
        elif mount.kind == "proc":
            args += ["--proc", mount.target]
        elif mount.kind == "dev":
            args += ["--dev", mount.target]
        else:
            raise ValueError(f"unknown mount kind {mount.kind!r}")
    env = {"PATH": SANDBOX_PATH, "HOME": SANDBOX_HOME, "USER": "student", "LANG": "C.UTF-8",
           "TMPDIR": "/tmp", **spec.env}
    for key, value in env.items():
        args += ["--setenv", key, str(value)]
    # Nothing outside the writable mounts may change: the root and /dev become read-only last.
    args += ["--chdir", spec.cwd, "--remount-ro", "/dev", "--remount-ro", "/", "--", *command]
    return args


def basic_spec(folder: Path, extra: Sequence[Mount] = (), env: Mapping[str, str] | None = None
               ) -> SandboxSpec:
    """A sandbox with the system, this Python, private tmpfs folders and ``extra`` mounts.

    ``folder`` (host, private to the caller) receives the sandbox's ``/etc/passwd`` etc.
    """
    mounts = [*system_mounts(), *python_mounts(), *identity_files(folder), *private_mounts(),
              *extra]
    return SandboxSpec(tuple(mounts), dict(env or {}))


@functools.lru_cache(maxsize=1)
def probe() -> SandboxStatus:
    """Check once whether a bubblewrap sandbox works here: start ``python -c pass`` in one."""
    if not sys.platform.startswith("linux"):
        return SandboxStatus(False, f"no bubblewrap on {sys.platform}; sandboxing needs Linux")
    bwrap = find_bwrap()
    if bwrap is None:
        return SandboxStatus(False, "bubblewrap is not installed (apt-get install bubblewrap)")
    try:
        version = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10,
                                 stdin=subprocess.DEVNULL).stdout.strip() or "bubblewrap"
    except (OSError, subprocess.SubprocessError) as error:
        return SandboxStatus(False, f"bwrap does not run: {error}")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="course-sandbox-probe-") as tmp:
        command = bwrap_command(basic_spec(Path(tmp)), [sys.executable, "-I", "-c", "pass"], bwrap)
        started = time.monotonic()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as error:
            return SandboxStatus(False, f"{version} cannot start a sandbox: {error}")
        seconds = time.monotonic() - started
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1][:200]
        return SandboxStatus(False, f"{version} cannot start a sandbox here: {reason}")
    return SandboxStatus(True, version, seconds)


def no_sandbox_warning(status: SandboxStatus) -> str:
    """The loud message printed when submissions run without a sandbox."""
    return (f"WARNING: submissions will run WITHOUT a sandbox: {status.description}.\n"
            "  A student's code can then read and change everything your user can (other "
            "submissions, the solutions, the grader, your files).\n"
            "  Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) on Linux, or grade "
            "in a throw-away Linux VM or container.")


def remove_tree(path: Path) -> None:
    """Delete a folder the sandbox wrote into, without following links, making it writable first."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    for root, dirs, _files in os.walk(path, followlinks=False):
        for name in dirs:
            child = Path(root) / name
            if not child.is_symlink():
                try:
                    child.chmod(0o700)
                except OSError:
                    pass
    shutil.rmtree(path, ignore_errors=True)
