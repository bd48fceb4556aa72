"""How a downloaded archive becomes an asset's folder: the installers :mod:`course_utils.catalog` names.

An installer is called as ``install(archive, staging)`` by :func:`course_utils.assets.fetch_asset`
and fills ``staging`` (an empty folder that then replaces the asset's folder in one rename).
"""

from __future__ import annotations

import bz2
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from course_utils import assets

Installer = Callable[[Path, Path], None]
USPS_URL = "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/"


def extract(inner: str, keep: dict[str, str], files: bool = False) -> Installer:
    """An installer that unpacks an archive and moves ``inner/<src>`` to ``<dst>`` for each of ``keep``.

    The kept entries are folders, or with ``files`` regular files; a missing one fails the install.
    """
    what = "file" if files else "folder"

    def install(archive: Path, staging: Path) -> None:
        unpacked = staging.parent / "unpacked"
        assets.safe_extract(archive, unpacked)
        for src_name, dst_name in keep.items():
            src = unpacked / inner / src_name
            if not (src.is_file() if files else src.is_dir()):
                raise assets.DownloadError(f"{archive.name} has no {what} {inner}/{src_name}")
            shutil.move(str(src), str(staging / dst_name))
        shutil.rmtree(unpacked, ignore_errors=True)

    return install


def usps(archive: Path, staging: Path) -> None:
    """Convert LIBSVM's USPS files (values in [-1, 1], labels 1-10) to ``usps.npz``."""
    arrays = {}
    for split, name in (("train", "usps.bz2"), ("test", "usps.t.bz2")):
        src = archive if archive.name == name else assets.download(USPS_URL + name, archive.parent / name)
        xs, ys = [], []
        for line in bz2.open(src, "rt"):
            parts = line.split()
            if not parts:
                continue
            ys.append(int(float(parts[0])) - 1)
            row = np.full(256, -1.0)
            for item in parts[1:]:
                idx, val = item.split(":")
                row[int(idx) - 1] = float(val)
            xs.append(np.round((row + 1) / 2 * 255).reshape(16, 16))
        arrays[f"x_{split}"] = np.asarray(xs, dtype=np.uint8)
        arrays[f"y_{split}"] = np.asarray(ys, dtype=np.uint8)
    np.savez_compressed(staging / "usps.npz", **arrays)
