"""Capture check artifacts in the student's kernel, collect them safely, load them back.

The capture program is ``capture.py`` beside this file: its text is sent as a cell,
followed by a call naming the artifacts to store (see that file for why it is written
the way it is). The kernel writes into a folder it controls, so everything there is
untrusted: right after the capture cell, :func:`collect_capture` opens the capture folder
one component at a time by descriptor (a folder swapped for a link is refused, never
followed) and copies out only the expected names, only regular files (never following
links, never opening FIFOs or devices), each within a size limit. ``load_artifacts`` reads
them back without unpickling anything.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from course_utils import trees

MANIFEST = "manifest.json"
KINDS = ("npy", "json", "keras")
CHUNK = 1 << 20


class UnsafeFile(Exception):
    """A file the grader refuses to read: a link, a FIFO, a device, a folder, or too large."""


def open_regular(path: str | Path, max_bytes: int, dir_fd: int | None = None) -> int:
    """Open ``path`` (relative to ``dir_fd``) read-only as a regular file of at most ``max_bytes``.

    ``O_NOFOLLOW`` refuses a symlink, ``O_NONBLOCK`` keeps a FIFO from blocking the grader,
    and ``fstat`` on the opened descriptor (not the name) decides, so a file swapped after
    a check is never read. Returns the descriptor.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafeFile(f"{Path(path).name} is a symbolic link") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UnsafeFile(f"{Path(path).name} is not a regular file")
    if info.st_size > max_bytes:
        os.close(fd)
        raise UnsafeFile(f"{Path(path).name} is {info.st_size / 2**20:.1f} MB, over the "
                         f"{max_bytes / 2**20:g} MB limit")
    return fd


def read_bounded(path: str | Path, max_bytes: int, dir_fd: int | None = None) -> bytes:
    """The bytes of a regular file (see :func:`open_regular`), never more than ``max_bytes``."""
    fd = open_regular(path, max_bytes, dir_fd)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeFile(f"{Path(path).name} grew over the {max_bytes / 2**20:g} MB limit")
    return data


def copy_bounded(source: str | Path, target: str | Path, max_bytes: int, dir_fd: int | None = None) -> int:
    """Copy a regular file (see :func:`open_regular`) to a new file ``target``; return its size."""
    fd = open_regular(source, max_bytes, dir_fd)
    copied = 0
    out_flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(fd, "rb") as handle, os.fdopen(os.open(target, out_flags, 0o600), "wb") as out:
        while chunk := handle.read(CHUNK):
            copied += len(chunk)
            if copied > max_bytes:
                raise UnsafeFile(f"{Path(source).name} grew over the {max_bytes / 2**20:g} MB limit")
            out.write(chunk)
    return copied


def expected_files(names: list[str]) -> set[str]:
    """The only file names a capture of ``names`` may produce."""
    return {MANIFEST} | {f"{name}.{kind}" for name in names for kind in KINDS}


def collect_capture(root: Path, parts: Sequence[str], names: list[str], target: Path, max_file_bytes: int,
                    max_total_bytes: int) -> list[str]:
    """Copy one capture folder's expected files to the new folder ``target``; return problems.

    The capture folder is ``root/parts...``, opened component by component from ``root`` (a
    folder the grader created) without following links. Only ``manifest.json`` and
    ``<name>.npy|json|keras`` for the captured ``names`` are copied; a link, FIFO, device or
    folder under an expected name, or a file over the limits, is left behind and reported.
    Unexpected names are ignored.
    """
    target.mkdir(mode=0o700)
    problems: list[str] = []
    try:
        fd = trees.open_path(root, parts)
    except FileNotFoundError:
        return problems  # the capture cell wrote nothing: load_artifacts says so
    except (trees.NotADirectory, OSError) as error:
        return [f"the capture folder could not be opened ({error.strerror or error}): it was replaced "
                "by a link or a file"]
    try:
        wanted = expected_files(names)
        with os.scandir(fd) as entries:
            present = sorted(entry.name for entry in entries if entry.name in wanted)
        total = 0
        for name in present:
            try:
                budget = max(0, min(max_file_bytes, max_total_bytes - total))
                total += copy_bounded(name, target / name, budget, dir_fd=fd)
            except (UnsafeFile, OSError) as error:
                (target / name).unlink(missing_ok=True)
                problems.append(f"{name} was not collected: {error}")
    finally:
        os.close(fd)
    return problems


CAPTURE_PROGRAM = (Path(__file__).resolve().parent / "capture.py").read_text(encoding="utf-8")


def capture_source(key: str, artifacts: dict[str, str], outdir: str | Path) -> str:
    """Return the code of a capture cell storing ``artifacts`` (name -> expression)."""
    for name in artifacts:
        if not name.isidentifier():
            raise ValueError(f"artifact names must be identifiers, got {name!r}")
    getters = ", ".join(f"({name!r}, lambda: {expr})" for name, expr in artifacts.items())
    return (f"# Generated by the course grader: capture the artifacts of check {key!r}.\n"
            f"{CAPTURE_PROGRAM}\n"
            f"__course_grader_capture([{getters}], {str(outdir)!r}, {MANIFEST!r})\n"
            "del __course_grader_capture\n")


def _load_keras(path: Path) -> Any:
    """Load a ``.keras`` file in safe mode, falling back to an uncompiled model."""
    import keras

    with warnings.catch_warnings():  # optimizer state is irrelevant to checks
        warnings.simplefilter("ignore", UserWarning)
        try:
            return keras.saving.load_model(path, compile=True, safe_mode=True)
        except Exception:
            return keras.saving.load_model(path, compile=False, safe_mode=True)


def load_artifacts(
    directory: str | Path, names: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Load captured artifacts; return (values, problems) where problems explain failures."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.exists():
        reason = "the artifacts were not captured (the check cell did not finish)"
        return {}, {name: reason for name in names}
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as error:
        reason = f"the artifacts' manifest is not valid JSON ({error})"
        return {}, {name: reason for name in names}
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name in names:
        entry = manifest.get(name) if isinstance(manifest, dict) else None
        kind = entry.get("kind") if isinstance(entry, dict) else None
        if kind == "missing":
            problems[name] = f"'{name}' was not available: {entry.get('detail', '')}"
            continue
        if kind == "unserialisable":
            problems[name] = (
                f"'{name}' ({entry.get('type')}) could not be stored: {entry.get('detail', '')}"
            )
            continue
        path = directory / f"{name}.{kind}"
        if kind not in ("npy", "json", "keras") or not path.exists():
            problems[name] = f"'{name}' was not captured"
            continue
        try:
            if kind == "npy":
                import numpy as np

                values[name] = np.load(path, allow_pickle=False)
            elif kind == "json":
                values[name] = json.loads(path.read_text(encoding="utf-8"))
            else:
                values[name] = _load_keras(path)
        except Exception as error:
            problems[name] = f"'{name}' could not be loaded: {type(error).__name__}: {error}"
    return values, problems
