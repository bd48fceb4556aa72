"""The bubblewrap sandbox itself: what a process inside can see, reach, write, and how it dies.

These are the measurements docs/grading.md quotes (network, PID namespace, limits).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from course_utils.grading import sandbox

ROOT = Path(__file__).resolve().parents[1]
# CI sets COURSE_REQUIRE_SANDBOX=1: there, a missing sandbox fails these tests instead of skipping.
REQUIRED = bool(os.environ.get("COURSE_REQUIRE_SANDBOX"))
pytestmark = pytest.mark.skipif(not sandbox.probe().available and not REQUIRED,
                                reason=f"no sandbox: {sandbox.probe().description}")


def run_inside(tmp_path: Path, code: str, extra: list[sandbox.Mount] | None = None,
               limits: sandbox.Limits | None = None, share_net: bool = False) -> str:
    """Run ``python -c code`` in a basic sandbox; return its stdout (stderr on failure)."""
    spec = sandbox.basic_spec(tmp_path / "etc", extra or [])
    command = sandbox.bwrap_command(spec, [sys.executable, "-c", code])
    if share_net:  # what keeping the network namespace would mean (for the measurement)
        command.insert(command.index("--unshare-all") + 1, "--share-net")
    if limits is not None:
        command = sandbox.limited_command(limits, command)
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def connect_code(address: object, family: str = "AF_INET") -> str:
    return (f"import socket\ns = socket.socket(socket.{family}, socket.SOCK_STREAM)\ns.settimeout(3)\n"
            f"print(s.connect_ex({address!r}))")


def test_the_sandbox_reaches_no_port_or_abstract_socket_of_the_host(tmp_path: Path) -> None:
    """A TCP listener on the host's 127.0.0.1 and an abstract unix socket are unreachable inside.

    Outside (and inside with the network namespace kept, ``--share-net``) both connect:
    that is why kernels talk to the grader over unix sockets in a bound folder instead.
    """
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    name = "\0course-test-" + secrets.token_hex(4)
    abstract.bind(name)
    abstract.listen()
    try:
        tcp_code = connect_code(("127.0.0.1", tcp.getsockname()[1]))
        unix_code = connect_code(name, "AF_UNIX")
        outside = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  timeout=60).stdout.strip() for code in (tcp_code, unix_code)]
        assert outside == ["0", "0"]
        assert run_inside(tmp_path, tcp_code, share_net=True) == "0"
        assert run_inside(tmp_path, tcp_code) != "0"
        assert run_inside(tmp_path, unix_code) != "0"
        assert "Errno 101" in run_inside(tmp_path, "import socket\ntry:\n socket.create_connection("
                                         "('192.0.2.1', 80), timeout=3)\nexcept OSError as e:\n print(e)")
    finally:
        tcp.close()
        abstract.close()


def test_the_sandbox_sees_only_what_it_is_given(tmp_path: Path) -> None:
    """Its own processes, no course checkout, read-only system and Python, private /tmp and HOME."""
    code = (
        "import json, os, sys\n"
        "def writes(path):\n"
        "    try:\n"
        "        open(path, 'w').close()\n"
        "        return True\n"
        "    except OSError:\n"
        "        return False\n"
        "print(json.dumps({'pids': [p for p in os.listdir('/proc') if p.isdigit()],\n"
        f"    'checkout': os.path.exists({str(ROOT / 'solutions')!r}),\n"
        "    'uid': os.getuid(), 'env': sorted(os.environ),\n"
        "    'writes': {p: writes(p) for p in ('/usr/x', sys.prefix + '/x', '/x', '/tmp/x',\n"
        "               os.environ['HOME'] + '/x', '/dev/x')},\n"
        "    'tmp': os.listdir('/tmp')}))"
    )
    seen = json.loads(run_inside(tmp_path, code))
    assert len(seen["pids"]) <= 3  # bwrap's init, python (and maybe a reaper)
    assert not seen["checkout"]
    assert seen["uid"] == sandbox.SANDBOX_UID
    assert set(seen["env"]) <= {"PATH", "HOME", "USER", "LANG", "TMPDIR", "LC_CTYPE", "PWD"}
    assert seen["writes"] == {"/usr/x": False, sys.prefix + "/x": False, "/x": False, "/tmp/x": True,
                              sandbox.SANDBOX_HOME + "/x": True, "/dev/x": False}
    assert seen["tmp"] == ["x"]


def test_kernel_enforced_limits(tmp_path: Path) -> None:
    """RLIMIT_AS turns a huge allocation into MemoryError; tmpfs sizes and RLIMIT_FSIZE cap files."""
    code = (
        "import errno\n"
        "try:\n"
        "    bytearray(3 * 2**30)\n"
        "    print('allocated')\n"
        "except MemoryError:\n"
        "    print('MemoryError')\n"
        "for path, size in (('/dev/shm/f', 100 * 2**20), ('/tmp/f', 90 * 2**20)):\n"
        "    try:\n"
        "        open(path, 'wb').write(b'x' * size)\n"
        "        print('wrote')\n"
        "    except OSError as error:\n"
        "        print(errno.errorcode[error.errno])\n"
    )
    limits = sandbox.Limits(address_space_mb=2048, file_size_mb=80)
    assert run_inside(tmp_path, code, limits=limits).split() == ["MemoryError", "ENOSPC", "EFBIG"]


def _marked(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        if marker in " ".join(process.info.get("cmdline") or []) and \
                process.info.get("status") != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def _wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


# Only the grandchild's command line may carry the marker (the bwrap and python command lines
# above it carry this code), so the code holds the marker reversed and the grandchild turns it round.
ESCAPE = (
    "import os, sys, time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        code = 'import time\\n# ' + 'KRAM'[::-1] + '\\ntime.sleep(300)'\n"
    "        os.execv(sys.executable, [sys.executable, '-c', code])\n"
    "    os._exit(0)\n"
    "time.sleep(300)\n"
)


def escape_code(marker: str) -> str:
    """ESCAPE with ``marker`` reversed in place, so that only the grandchild names it."""
    return ESCAPE.replace("KRAM", marker[::-1])


def test_every_process_dies_with_the_sandbox(tmp_path: Path) -> None:
    """Killing the sandbox's first process kills a double-forked, setsid grandchild too."""
    marker = "course-test-escape-" + secrets.token_hex(4)
    spec = sandbox.basic_spec(tmp_path / "etc")
    command = sandbox.bwrap_command(spec, [sys.executable, "-c", escape_code(marker)])
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: len(_marked(marker)) == 1), "the grandchild never started"
    finally:
        process.kill()
        process.wait()
    assert _wait_for(lambda: not _marked(marker)), "the grandchild outlived its sandbox"


def test_every_process_dies_with_the_grader(tmp_path: Path) -> None:
    """SIGKILL of the process that started the sandbox (the grader) kills everything in it."""
    marker = "course-test-orphan-" + secrets.token_hex(4)
    spec = sandbox.basic_spec(tmp_path / "etc")
    command = sandbox.bwrap_command(spec, [sys.executable, "-c", escape_code(marker)])
    grader = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time\n"
                               f"subprocess.Popen({command!r}, stdin=subprocess.DEVNULL)\n"
                               "time.sleep(300)"])
    try:
        assert _wait_for(lambda: len(_marked(marker)) == 1), "the grandchild never started"
    finally:
        os.kill(grader.pid, signal.SIGKILL)
        grader.wait()
    assert _wait_for(lambda: not _marked(marker)), "the sandbox outlived the grader"


def test_probe_reports_a_missing_bubblewrap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without bwrap the probe says so and how to fix it (and grading falls back, loudly)."""
    sandbox.probe.cache_clear()
    monkeypatch.setenv("COURSE_BWRAP", "/nonexistent/bwrap")
    try:
        status = sandbox.probe()
        assert not status.available and "not installed" in status.description
        assert status.label.startswith("NONE (")
        assert "WITHOUT a sandbox" in sandbox.no_sandbox_warning(status)
    finally:
        sandbox.probe.cache_clear()


def test_the_sandbox_starts_wherever_the_python_environment_lives(tmp_path: Path) -> None:
    """A course (and its .venv) under /tmp: the sandbox's private /tmp is mounted before the binds
    under it, so the environment stays visible (it used to be hidden: execvp ... No such file)."""
    assert str(tmp_path).startswith(tempfile.gettempdir())
    venv = tmp_path / "course" / ".venv"
    venv.parent.mkdir()
    venv.symlink_to(Path(sys.prefix).resolve())
    code = (f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom course_utils.grading import sandbox\n"
            "status = sandbox.probe()\nprint(sys.prefix, status.state.name, status.description)")
    done = subprocess.run([str(venv / "bin" / "python"), "-I", "-c", code], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[:2] == [str(venv), "WORKS"], done.stdout


def test_mounts_are_made_parents_first_whatever_their_order() -> None:
    """Mount order depends on where targets are, never on how the caller listed them."""
    kinds = sandbox.MountKind
    mounts = [sandbox.Mount(kinds.RO, "/tmp/course/.venv", "/x"), sandbox.Mount(kinds.RO, "/usr", "/usr"),
              sandbox.Mount(kinds.TMPFS, "/home/student"), sandbox.Mount(kinds.RO, "/home/student/m", "/m"),
              sandbox.Mount(kinds.TMPFS, "/tmp"), sandbox.Mount(kinds.DEV, "/dev"),
              sandbox.Mount(kinds.TMPFS, "/dev/shm")]
    order = [mount.target for mount in sandbox.mount_order(mounts)]
    pairs = (("/tmp", "/tmp/course/.venv"), ("/home/student", "/home/student/m"), ("/dev", "/dev/shm"))
    for parent, child in pairs:
        assert order.index(parent) < order.index(child), order


def test_an_installed_bubblewrap_that_cannot_start_stops_grading_before_anything(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto`` grades unsandboxed only where no sandbox tool exists: a broken one stops the run, saying
    what to fix, before the first submission (no CSV, no feedback)."""
    from course_utils.grading import grader

    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then echo bubblewrap 0.8.0; exit 0; fi\n"
                    "echo 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("COURSE_BWRAP", str(fake))
    sandbox.probe.cache_clear()
    try:
        status = sandbox.probe()
        assert status.state is sandbox.SandboxState.BROKEN and "to fix" in status.description
        for mode in ("auto", "require"):
            with pytest.raises(RuntimeError, match="user namespaces"):
                grader.grade_submissions([ROOT / "tests" / "grading_fixtures" / "submissions"],
                                         csv=tmp_path / "g.csv", sandbox_mode=mode)
        assert not (tmp_path / "g.csv").exists()
        assert grader.resolve_sandbox("off").state is sandbox.SandboxState.OFF
    finally:
        sandbox.probe.cache_clear()
