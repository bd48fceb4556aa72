"""TensorFlow Datasets sets, loaded with ``tfds.load`` from the course mirror or cache when offline.

``tfds.load(name, data_dir=...)`` reads a set that TFDS has prepared (``<data_dir>/<name>/<version>/``:
``dataset_info.json`` and TFRecord shards) and, on a connected machine, downloads and prepares it
first. The course keeps this thin layer only to choose ``data_dir``: a workshop's mirror
(``$COURSE_MIRROR/tensorflow_datasets``), then the learner's cache (``~/.keras/tensorflow_datasets``),
then TFDS' own default (``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``); and to fail offline with a
message that says what to do instead of a download error. ``python -m course_utils fetch --tfds``
prepares the catalogue's sets (:data:`course_utils.catalog.TFDS_SETS`) and copies them into a mirror.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_utils import assets, catalog


@dataclass(frozen=True)
class Prepared:
    """A prepared copy of a TFDS set: the ``data_dir`` holding it, its version folder, the source."""

    data_dir: Path
    path: Path
    source: str  # "mirror", "cache" or "tfds"


def cache_data_dir() -> Path:
    """Return the course's TFDS ``data_dir``, where ``fetch`` prepares sets: Keras' cache folder."""
    return assets.keras_home() / catalog.TFDS_DIRNAME


def data_dirs() -> list[tuple[str, Path]]:
    """Return the ``data_dir`` folders searched for prepared sets, in order, with a word for each."""
    places = []
    mirror = assets.mirror_dir()
    if mirror is not None:
        places.append(("mirror", mirror / catalog.TFDS_DIRNAME))
    places.append(("cache", cache_data_dir()))
    default = Path(os.environ.get("TFDS_DATA_DIR", "").strip() or Path.home() / "tensorflow_datasets")
    if default.expanduser() not in {p for _, p in places}:
        places.append(("tfds", default.expanduser()))
    return places


def _version_dirs(data_dir: Path, name: str) -> list[Path]:
    """Prepared version folders of ``name`` (``<name>[/<config>]/<version>/dataset_info.json``)."""
    root = data_dir / name
    if not root.is_dir():
        return []
    found = sorted({info.parent for pattern in ("*/dataset_info.json", "*/*/dataset_info.json")
                    for info in root.glob(pattern)})
    return [path for path in found if any(path.glob("*.tfrecord*")) or any(path.glob("*.array_record*"))]


def locate(name: str) -> Prepared | None:
    """Return the first prepared copy of the TFDS set ``name`` in :func:`data_dirs`, or None."""
    for source, data_dir in data_dirs():
        versions = _version_dirs(data_dir, name)
        if versions:
            return Prepared(data_dir, versions[-1], source)
    return None


def missing_message(name: str) -> str:
    """Say where a TFDS set was looked for and how to get it."""
    looked = "\n".join(f"  - {source}: {path / name}" for source, path in data_dirs())
    return (f"TensorFlow Datasets set {name!r} is not prepared in any of:\n{looked}\n"
            "Fix: on a machine with internet run `python -m course_utils fetch --tfds` (TFDS downloads and "
            f"prepares it into {cache_data_dir()}), and `python -m course_utils fetch --to DIR` to "
            f"copy it into a mirror; or copy a prepared `{catalog.TFDS_DIRNAME}/{name}/` folder "
            "into $COURSE_MIRROR/" + catalog.TFDS_DIRNAME + "/.")


def prepare(name: str) -> Prepared:
    """Download and prepare ``name`` into the course cache with TFDS' own builder (needs internet)."""
    if assets.offline():
        raise assets.AssetMissingError(missing_message(name) + f"\n({assets.OFFLINE_ENV} forbids downloads.)")
    import tensorflow_datasets as tfds

    print(f"preparing TFDS set {name!r} into {cache_data_dir()} (downloads it once) ...", flush=True)
    try:
        tfds.builder(name, data_dir=str(cache_data_dir())).download_and_prepare()
    except Exception as exc:  # noqa: BLE001 - TFDS raises many kinds; all mean "could not get it"
        raise assets.DownloadError(f"TFDS could not prepare {name!r}: {exc}") from exc
    found = locate(name)
    if found is None:
        raise assets.DownloadError(f"TFDS reported {name!r} prepared, but no copy is in {cache_data_dir()}")
    return found


def load(name: str, split: str, **kwargs: Any) -> Any:
    """``tfds.load(name, split=split, data_dir=<the prepared copy>, download=False, **kwargs)``.

    Prepares the set first when no copy is found and downloads are allowed; raises
    :class:`course_utils.assets.AssetMissingError` with the places tried and the fix otherwise.
    """
    import tensorflow_datasets as tfds

    found = locate(name) or prepare(name)
    return tfds.load(name, split=split, data_dir=str(found.data_dir), download=False, **kwargs)


def copy_to(name: str, mirror: Path) -> str:
    """Copy a prepared ``name`` into the mirror-layout folder ``mirror``; return what happened."""
    found = locate(name)
    if found is None:
        raise assets.AssetMissingError(missing_message(name))
    dest = Path(mirror) / catalog.TFDS_DIRNAME / found.path.relative_to(found.data_dir)
    if _version_dirs(Path(mirror) / catalog.TFDS_DIRNAME, name) and dest.is_dir():
        return "already there"
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(found.path, tmp)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return f"copied from the {found.source}"
