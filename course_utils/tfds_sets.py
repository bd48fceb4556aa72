"""TensorFlow Datasets sets, loaded with ``tfds.load`` from the course mirror or cache when offline.

``tfds.load(name, data_dir=...)`` reads a set that TFDS has prepared (``<data_dir>/<name>/<version>/``:
``dataset_info.json`` and TFRecord shards) and, on a connected machine, downloads and prepares it
first. The course keeps this thin layer only to choose ``data_dir``: a workshop's mirror
(``$COURSE_MIRROR/tensorflow_datasets``), then the learner's cache (``~/.keras/tensorflow_datasets``),
then TFDS' own default (``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``); and to fail offline with a
message that says what to do instead of a download error. ``python -m course_utils fetch`` prepares
the sets a lesson reads (``--tfds``: all of :data:`course_utils.catalog.TFDS_SETS`) and copies them
into a mirror (``--to``), through :mod:`course_utils.fetching`.

Preparing needs TFDS' original download files, no network when they are on disk already: Debian's
``dataset-fashion-mnist`` installs Fashion-MNIST's four ``.gz`` files, which its build stripped of
the name and time in each gzip header (strip-nondeterminism); :func:`prepare` puts those back, which
makes them byte for byte the files TFDS registered checksums for, and hands them to TFDS as its
``manual_dir``: TFDS' own download manager verifies them and its builder writes the prepared set.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_utils import assets, catalog, files


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


def get(name: str) -> catalog.TfdsSet | None:
    """Return the catalogue's entry for the TFDS set ``name`` (None for a set it does not list)."""
    return next((s for s in catalog.TFDS_SETS if s.name == name), None)


def source_dir(name: str) -> Path | None:
    """Return the folder where ``name``'s original download files may be (its env var, or default)."""
    entry = get(name)
    if entry is None or not (entry.source_env or entry.source_dir):
        return None
    value = os.environ.get(entry.source_env or "", "").strip() or entry.source_dir
    return Path(value).expanduser() if value else None


def local_source(name: str) -> Path | None:
    """Return :func:`source_dir` when it holds every original file ``name`` needs, else None."""
    entry, folder = get(name), source_dir(name)
    if entry is None or folder is None or not entry.gzip_times:
        return None
    ok = all((folder / f).is_file() and (folder / f).stat().st_size > 0 for f, _ in entry.gzip_times)
    return folder if ok else None


def missing_message(name: str) -> str:
    """Say where a TFDS set was looked for and how to get it."""
    looked = "\n".join(f"  - {source}: {path / name}" for source, path in data_dirs())
    entry, folder = get(name), source_dir(name)
    lines = [f"TensorFlow Datasets set {name!r} is not prepared, and nothing here can prepare it "
             f"offline. Looked for a prepared copy in:\n{looked}"]
    if folder is not None:
        lines.append(f"  - TFDS' original files: {folder} (not there or incomplete)")
    fetch = "python -m course_utils fetch" + ("" if entry is not None and entry.lessons else " --tfds")
    lines.append(f"Fix: on a machine with internet run `{fetch}` (TFDS downloads "
                 f"and prepares it into {cache_data_dir()}), and `python -m course_utils fetch --to DIR` "
                 f"to copy it into a mirror; or copy a prepared `{catalog.TFDS_DIRNAME}/{name}/` folder "
                 f"into $COURSE_MIRROR/{catalog.TFDS_DIRNAME}/.")
    if entry is not None and entry.source_package:
        lines.append(f"Or, with no internet: `apt-get install {entry.source_package}` (TFDS' original "
                     f"files, in {entry.source_dir}; ${entry.source_env} names another folder), then "
                     "run it again: the set is prepared from them.")
    return "\n".join(lines)


def restore_original(src: Path, dest: Path, mtime: int) -> Path:
    """Write ``src`` to ``dest`` with the gzip header's file name and ``mtime`` put back.

    A file whose header still has its name (flag FNAME) is copied unchanged. Only the header's
    first 10 bytes and the name change; the compressed data is the packaged file's.
    """
    raw = Path(src).read_bytes()
    if raw[:3] != b"\x1f\x8b\x08":
        raise assets.DownloadError(f"{src} is not a gzip file")
    if raw[3] & 0x08:  # already has a file name: the original header
        shutil.copyfile(src, dest)
        return Path(dest)
    if raw[3] != 0:
        raise assets.DownloadError(f"{src}: unexpected gzip header flags {raw[3]:#x}")
    name = Path(src).name.removesuffix(".gz").encode() + b"\0"
    Path(dest).write_bytes(raw[:3] + b"\x08" + struct.pack("<I", mtime) + raw[8:10] + name + raw[10:])
    return Path(dest)


@contextlib.contextmanager
def _quiet_tfds():
    """Hide TFDS' progress bars and its own 'Downloading and preparing' lines (one line is printed)."""
    from tensorflow_datasets.core.utils import tqdm_utils

    was = getattr(tqdm_utils, "_active", True)
    tqdm_utils.display_progress_bar(False)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        tqdm_utils.display_progress_bar(was)


def _remove_scratch(folder: Path, tries: int = 20) -> None:
    """Remove ``folder``, waiting briefly while TFDS' worker threads still write into it."""
    for _ in range(tries):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.25)


def prepare(name: str) -> Prepared:
    """Prepare ``name`` into the course cache with TFDS' own builder: from its original files, or online.

    With the files on disk (:func:`local_source`) no network is used; otherwise TFDS downloads them,
    which ``COURSE_OFFLINE`` forbids (:class:`course_utils.assets.AssetMissingError`, with the fix).
    """
    source = local_source(name)
    if source is None and assets.offline():
        raise assets.AssetMissingError(missing_message(name) + f"\n({assets.OFFLINE_ENV} forbids downloads.)")
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

    target = cache_data_dir()
    target.mkdir(parents=True, exist_ok=True)
    how = f"from {source}, no network" if source else "downloads it once"
    print(f"preparing TFDS set {name!r} into {target} ({how}) ...", flush=True)
    # The scratch folder is removed after the error is classified, never inside the ``try``: when
    # TFDS refuses a file its worker threads may still be writing the others, and a failed cleanup
    # raised there would replace the checksum error the learner needs to see.
    tmp = Path(tempfile.mkdtemp(prefix=".prepare-", dir=target))
    try:
        with _quiet_tfds():
            builder = tfds.builder(name, data_dir=str(target))
            if source is None:
                builder.download_and_prepare(download_dir=str(tmp / "downloads"))
            else:
                manual = tmp / "manual"
                manual.mkdir()
                for file_name, mtime in get(name).gzip_times:
                    restore_original(source / file_name, manual / file_name, mtime)
                builder.download_and_prepare(
                    download_dir=str(tmp / "downloads"),
                    download_config=tfds.download.DownloadConfig(manual_dir=str(manual),
                                                                 try_download_gcs=False))
    except NonMatchingChecksumError as exc:
        files = f"the files in {source}" if source else "the downloaded files"
        raise assets.DownloadError(
            f"{files} are not TFDS' originals of {name!r} (a checksum differs), so TFDS refused "
            f"them: {str(exc).splitlines()[0]}") from exc
    except Exception as exc:  # noqa: BLE001 - TFDS raises many kinds; all mean "could not get it"
        raise assets.DownloadError(f"TFDS could not prepare {name!r}: {exc}") from exc
    finally:
        _remove_scratch(tmp)
    found = locate(name)
    if found is None:
        raise assets.DownloadError(f"TFDS reported {name!r} prepared, but no copy is in {target}")
    return found


def load(name: str, split: str, **kwargs: Any) -> Any:
    """``tfds.load(name, split=split, data_dir=<the prepared copy>, download=False, **kwargs)``.

    Prepares the set first when no copy is found, from its original files on disk or, where
    downloads are allowed, online; raises :class:`course_utils.assets.AssetMissingError` with the
    places tried and the fix otherwise.
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
    files.copy(found.path, dest)
    return f"copied from the {found.source}"
