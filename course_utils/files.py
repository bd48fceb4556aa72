"""Writing files so that a reader never sees half of one: the course's one atomic-write helper.

Everything is first written under a fresh, unguessable name next to its destination (created
exclusively, never through a link), then renamed over it in one step: a crash leaves the old
file or nothing, never a torn one, and a link planted at the destination is replaced, not
followed. :func:`replace_with` is the one place that does it; the others are its common uses.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def replace_with(path: str | Path, write: Callable[[Path], None], directory: bool = False) -> Path:
    """Make ``path`` what ``write(temporary)`` writes, atomically; return ``path``.

    ``write`` receives a path in the same folder that does not exist yet (it creates a file
    there, or with ``directory`` a folder). An existing folder at ``path`` is removed just
    before the rename (a folder cannot be renamed over another); a file is replaced atomically.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The name ends as the destination's does: np.save and Keras' save_weights look at the extension.
    temporary = path.with_name(f".partial-{secrets.token_hex(6)}-{path.name}")
    try:
        write(temporary)
        if directory and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(temporary, path)
    finally:
        if temporary.exists() or temporary.is_symlink():
            _remove(temporary)
    return path


def write_new(path: str | Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file that must not exist yet, never through a link (``O_EXCL | O_NOFOLLOW``)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(path, flags, mode), "wb") as handle:
        handle.write(data)


def write_bytes(path: str | Path, data: bytes, mode: int = 0o644) -> Path:
    """Replace ``path`` with ``data`` atomically (``mode``, less the umask, for the new file)."""
    return replace_with(path, lambda temporary: write_new(temporary, data, mode))


def write_text(path: str | Path, text: str, mode: int = 0o644) -> Path:
    """Replace ``path`` with ``text`` (UTF-8) atomically."""
    return write_bytes(path, text.encode("utf-8"), mode)


def copy(src: str | Path, dest: str | Path) -> Path:
    """Copy a file or a folder tree to ``dest``, replacing whatever is there once the copy is whole."""
    src = Path(src)
    if src.is_dir():
        return replace_with(dest, lambda temporary: shutil.copytree(src, temporary), directory=True)
    return replace_with(dest, lambda temporary: shutil.copy2(src, temporary))


@contextlib.contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (through ``<path>.lock`` beside it) while the block runs.

    For read-modify-write of a file that several processes update (a run summary written by
    parallel test workers). Where the OS has no ``fcntl`` (Windows) the block runs unlocked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path.with_name(path.name + ".lock"), flags, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
