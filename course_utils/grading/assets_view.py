"""The assets as a student's kernel sees them: without the data its lesson's hidden checks score on.

The kernel's sandbox binds the asset mirror and caches read-only; a hidden check that
scores a model on photos the kernel can read can be beaten by a model that memorised them.
So for each lesson the grader collects what its checks modules hold out (``HELD_OUT_DATA``, see
``course_utils/checks/held_out.py``) and lays, over the kernel's view only, an empty file on
each held-out photo and a copy with the held-out rows zeroed on each array file. Names,
folder listings and array shapes stay as they are, so the exercise's own splits (which are
computed from the listings) are exactly the ones it gets outside the grader. The check
worker binds the assets without any of this and sees everything.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from course_utils.checks.held_out import HeldOut, HeldOutImages, HeldOutRows
from course_utils.checks.registry import get_check
from course_utils.grading import sandbox


def held_out_for(check_names: Iterable[str]) -> tuple[HeldOut, ...]:
    """What the modules that registered these checks hold out (their ``HELD_OUT_DATA``), in order."""
    modules = dict.fromkeys(get_check(name).function.__module__ for name in check_names)
    found: list[HeldOut] = []
    for module in modules:
        found.extend(getattr(sys.modules.get(module), "HELD_OUT_DATA", ()))
    return tuple(dict.fromkeys(found))


class AssetsView:
    """One grading run's overlays: a private folder with an empty file and the zeroed array copies.

    ``mounts(held_out)`` gives the read-only binds that hide ``held_out`` in a kernel's
    sandbox (computed once per set of held-out data per run). Data that is not on this
    machine is skipped: there is nothing to hide, and the check that needs it says so.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700, exist_ok=True)
        self.empty = folder / "empty"
        self.empty.touch(mode=0o444)
        self._mounts: dict[tuple[HeldOut, ...], list[sandbox.Mount]] = {}
        self._copies = 0

    def mounts(self, held_out: tuple[HeldOut, ...]) -> list[sandbox.Mount]:
        """Read-only binds laying the empty file and the zeroed copies over the held-out data."""
        if held_out not in self._mounts:
            self._mounts[held_out] = self._build(held_out)
        return self._mounts[held_out]

    def _build(self, held_out: tuple[HeldOut, ...]) -> list[sandbox.Mount]:
        mounts: dict[str, sandbox.Mount] = {}
        rows: dict[str, dict[str, list[np.ndarray]]] = {}  # file -> array -> rows
        for spec in held_out:
            try:
                if isinstance(spec, HeldOutImages):
                    for path in spec.files():
                        target = os.path.realpath(path)
                        mounts[target] = sandbox.Mount(sandbox.MountKind.RO, target, str(self.empty))
                elif isinstance(spec, HeldOutRows):
                    path, hidden = spec.file_rows()
                    for key, index in hidden.items():
                        rows.setdefault(os.path.realpath(path), {}).setdefault(key, []).append(index)
            except (OSError, RuntimeError, LookupError, ValueError):  # not on this machine
                continue
        for path, hidden in rows.items():
            index = {key: np.concatenate(parts) for key, parts in hidden.items()}
            copy = self._zeroed_copy(Path(path), index)
            mounts[path] = sandbox.Mount(sandbox.MountKind.RO, path, str(copy))
        return list(mounts.values())

    def _zeroed_copy(self, path: Path, hidden: dict[str, np.ndarray]) -> Path:
        """A copy of the ``.npz`` file ``path``, ``hidden`` rows set to zero (same keys, shapes, types)."""
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: np.array(data[key]) for key in data.files}
        for key, index in hidden.items():
            arrays[key][index] = 0
        self._copies += 1
        copy = self.folder / f"{self._copies}-{path.name}"
        with open(copy, "xb") as handle:
            np.savez(handle, **arrays)
        copy.chmod(0o444)
        return copy
