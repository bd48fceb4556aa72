"""Folder trees someone else writes (a sandboxed kernel): measured, opened and removed by descriptor.

A process that can write into a folder can also rename what is in it, swap a sub-folder for a
symbolic link, nest folders deeper than ``PATH_MAX``, or take away its own permissions. Code
that walks such a tree by path name (``os.walk``, ``shutil.rmtree``, ``open(folder / name)``)
can then be led through a link onto the host, skip what it cannot name, or recurse until
``RecursionError``. Everything here therefore works by directory descriptor: each step opens
the next component relative to the previous one with ``O_NOFOLLOW`` (a link is never
followed), walks are iterative with a bounded depth and a bounded number of open descriptors,
and a sub-tree that is too deep or cannot be read is *reported*, never silently skipped.
``remove_tree`` never raises: it removes what it can and says whether anything was left.

The standard library has the pieces (``os.scandir`` on a descriptor, ``dir_fd``,
``follow_symlinks=False``) but no walker with these guarantees: ``shutil.rmtree`` is recursive
before Python 3.13 and ``os.fwalk`` neither bounds depth nor reports what it skipped.
"""

from __future__ import annotations

import errno
import itertools
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
MAX_DEPTH = 32  # folders below a tree's root before it counts as too deep
LIST_BATCH = 4096  # names read from one folder at a time while removing


class NotADirectory(OSError):
    """A path component that should be a folder is a link, a file or something else."""


def open_dir(name: str | Path, dir_fd: int | None = None) -> int:
    """Open folder ``name`` (relative to ``dir_fd`` when given) without following a link.

    A link, a file or a FIFO in its place raises :class:`NotADirectory` (``ELOOP``/``ENOTDIR``
    from ``O_NOFOLLOW | O_DIRECTORY``); nothing can block.
    """
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise NotADirectory(error.errno, f"{os.fsdecode(name)} is not a folder (a link or a file)"
                                ) from None
        raise


def open_path(root: str | Path, parts: Sequence[str]) -> int:
    """Open folder ``root/parts[0]/parts[1]/...`` one component at a time, never following a link.

    ``root`` is a folder the caller trusts (it created it); each of ``parts`` is opened
    relative to the previous one, so swapping any of them for a link cannot redirect the walk.
    """
    fd = open_dir(root)
    try:
        for part in parts:
            if not part or "/" in part or part in (".", ".."):
                raise ValueError(f"not a single path component: {part!r}")
            child = open_dir(part, fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def opened(root: str | Path, parts: Sequence[str] = ()) -> Iterator[int]:
    """:func:`open_path` as a context manager that closes the descriptor."""
    fd = open_path(root, parts)
    try:
        yield fd
    finally:
        os.close(fd)


@dataclass
class TreeUsage:
    """What a tree holds: bytes and entries counted, and whether part of it could not be counted."""

    bytes: int = 0
    entries: int = 0
    too_deep: bool = False  # a folder nested deeper than the depth limit
    unreadable: bool = False  # a folder that could not be opened or listed

    @property
    def complete(self) -> bool:
        """Every entry was counted (nothing too deep or unreadable)."""
        return not (self.too_deep or self.unreadable)


def usage(root: str | Path, stop_after_entries: int | None = None, stop_after_bytes: int | None = None,
          max_depth: int = MAX_DEPTH) -> TreeUsage:
    """Bytes and entries under ``root``, walked by descriptor (links counted, never followed).

    Iterative and depth-first with at most ``max_depth`` descriptors open. A folder deeper
    than ``max_depth`` sets ``too_deep``; one that cannot be opened or listed sets
    ``unreadable`` (both are a limit breach for the caller: what is not counted is not
    bounded). Counting stops early once a ``stop_after`` bound is passed.
    """
    found = TreeUsage()
    try:
        top = open_dir(root)
    except OSError:
        found.unreadable = True
        return found
    stack: list[tuple[int, Iterator[os.DirEntry]]] = []

    def push(fd: int) -> None:
        try:
            stack.append((fd, iter(os.scandir(fd))))
        except OSError:
            os.close(fd)
            found.unreadable = True

    push(top)
    try:
        while stack:
            fd, entries = stack[-1]
            try:
                entry = next(entries, None)
            except OSError:
                entry, found.unreadable = None, True
            if entry is None:
                stack.pop()
                os.close(fd)
                continue
            found.entries += 1
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # removed since it was listed
            found.bytes += info.st_size
            if (stop_after_entries is not None and found.entries > stop_after_entries) or (
                    stop_after_bytes is not None and found.bytes > stop_after_bytes):
                break
            if stat.S_ISDIR(info.st_mode):
                if len(stack) >= max_depth:
                    found.too_deep = True
                    break
                try:
                    push(open_dir(entry.name, fd))
                except OSError:
                    found.unreadable = True
    finally:
        for fd, _ in stack:
            os.close(fd)
    return found


def _writable(fd: int) -> None:
    """Give the folder open as ``fd`` owner rwx (through /proc: an ``O_PATH``-safe chmod)."""
    try:
        os.chmod(f"/proc/self/fd/{fd}", 0o700)
    except OSError:
        pass


def _open_for_removal(name: str, dir_fd: int) -> int:
    """Open sub-folder ``name`` to empty it; make it readable first if its owner took that away."""
    try:
        return open_dir(name, dir_fd)
    except PermissionError:
        path_fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            if not stat.S_ISDIR(os.fstat(path_fd).st_mode):
                raise NotADirectory(errno.ENOTDIR, f"{name} is not a folder") from None
            _writable(path_fd)
        finally:
            os.close(path_fd)
        return open_dir(name, dir_fd)


def _names(fd: int, limit: int = LIST_BATCH) -> list[str]:
    """Up to ``limit`` names in the folder open as ``fd`` (``scandir`` reads them lazily)."""
    with os.scandir(fd) as entries:
        return [entry.name for entry in itertools.islice(entries, limit)]


def _unlink(name: str, fd: int) -> None:
    try:
        os.unlink(name, dir_fd=fd)
    except PermissionError:
        _writable(fd)
        os.unlink(name, dir_fd=fd)


def _clear(top: int, max_open: int) -> bool:
    """Empty the folder open as ``top``; True when everything in it was removed.

    Depth-first with at most ``max_open`` descriptors: a folder found deeper than that is
    renamed to the top level and emptied from there, so any depth is removed without
    recursion and without running out of descriptors.
    """
    stack: list[tuple[int, str | None]] = [(top, None)]  # (fd, name in the folder above)
    stuck: set[tuple[int, int]] = set()  # (device, inode) of entries that could not be removed
    moved = itertools.count()
    complete = True
    prefix = f".removing-{secrets.token_hex(4)}"
    while stack:
        fd, here = stack[-1]
        try:
            names = _names(fd)
        except OSError:
            names = []
            complete = False
        descended = False
        removed_any = False
        for name in names:
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError:
                complete = False
                continue
            if (info.st_dev, info.st_ino) in stuck:
                continue
            try:
                if not stat.S_ISDIR(info.st_mode):
                    _unlink(name, fd)
                    removed_any = True
                    continue
                try:
                    os.rmdir(name, dir_fd=fd)  # already empty
                    removed_any = True
                    continue
                except OSError as error:
                    if error.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EACCES, errno.EPERM):
                        raise
                if len(stack) >= max_open:
                    os.rename(name, f"{prefix}-{next(moved)}", src_dir_fd=fd, dst_dir_fd=top)
                    removed_any = True
                    continue
                stack.append((_open_for_removal(name, fd), name))
                descended = True
                break
            except OSError:
                stuck.add((info.st_dev, info.st_ino))
                complete = False
        if descended or (removed_any and names):
            continue
        # Nothing left in this folder that can be removed: close it and remove it from its parent.
        stack.pop()
        if stack:
            os.close(fd)
            parent = stack[-1][0]
            try:
                os.rmdir(here, dir_fd=parent)
            except OSError:
                try:
                    info = os.stat(here, dir_fd=parent, follow_symlinks=False)
                    stuck.add((info.st_dev, info.st_ino))
                except OSError:
                    pass
                complete = False
    return complete


def remove_tree(path: str | Path, max_open: int = MAX_DEPTH) -> bool:
    """Remove ``path`` and everything under it, by descriptor; never raises.

    Links are removed, never followed; folders whose owner removed its own permissions are
    made writable first (through ``/proc/self/fd``, so never through a link); any depth is
    handled. Returns True when nothing is left, False when something could not be removed
    (the caller reports it; grading goes on).
    """
    path = Path(os.path.abspath(path))
    try:
        parent = open_dir(path.parent)
    except OSError:
        return not os.path.lexists(path)
    try:
        try:
            info = os.stat(path.name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return True
        if not stat.S_ISDIR(info.st_mode):
            os.unlink(path.name, dir_fd=parent)
            return True
        top = _open_for_removal(path.name, parent)
        try:
            complete = _clear(top, max_open)
        finally:
            os.close(top)
        os.rmdir(path.name, dir_fd=parent)
        return complete
    except OSError:
        return False
    finally:
        os.close(parent)
