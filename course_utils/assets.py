"""Offline-first assets: look in the mirror, then the user's cache, then download.

Resolution order for every weight file, model folder and dataset the course uses:

1. a mirror directory named by ``COURSE_MIRROR`` (a workshop USB stick, or the
   course's CI mirror), laid out as ``keras_home/models/<file or folder>`` and
   ``datasets/<name>/...``; it is only ever read, never written;
2. the user's cache: Keras' own folder (``KERAS_HOME``, default ``~/.keras``),
   as ``models/<file or folder>`` (where Keras itself looks) and ``datasets/<name>/...``;
3. for a model folder that a Python package ships (``Asset.package_dir``), that
   package's folder: installed with ``pip``, it needs no website at all;
4. a download from the official location, verified against a checksum where
   one is known, written atomically and extracted safely.

Files with a known checksum (``Asset.file_sha256``) are verified wherever they
were found, before anything loads them: a changed file is refused with
:class:`AssetChangedError`, never used.

When all three fail, :class:`AssetMissingError` names the asset, every place
that was tried and the command that fixes it.

Why our own resolver: ``keras.utils.get_file`` downloads into one cache and
knows no read-only mirror, and tensorflow-datasets' ``data_dir`` covers only its
own catalogue (not the Keras weight files, PACS or MNIST-M). A workshop needs one
lookup order for all of them, a ``fetch`` that builds a USB mirror, and a
``doctor`` that reports every asset: a small module does that. Downloads still
come from the official locations, and weights land where Keras looks.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from course_utils import files

MIRROR_ENV = "COURSE_MIRROR"
OFFLINE_ENV = "COURSE_OFFLINE"
FIX_HINT = (
    "Fix: on a machine with internet run `python -m course_utils fetch` (it fills your "
    "Keras cache), or point COURSE_MIRROR at a course mirror folder "
    "(e.g. `export COURSE_MIRROR=/media/usb/course-mirror`), then `python -m course_utils doctor`."
)


class AssetMissingError(RuntimeError):
    """An asset is in none of the places the course looks, and could not be downloaded."""


class DownloadError(RuntimeError):
    """A download failed, was truncated, or did not match its checksum."""


class AssetChangedError(RuntimeError):
    """A located asset's file does not match its known checksum: it was changed or is corrupt."""


class UnsafeArchiveError(RuntimeError):
    """An archive member would land outside the folder it is extracted into."""


@dataclass(frozen=True)
class Asset:
    """One weight file, model folder or dataset folder the course needs, and where it comes from.

    ``relpath`` is relative to the *cache* root (``KERAS_HOME``); the mirror holds
    weight files and model folders under ``keras_home/`` and datasets at the same
    relative path.
    """

    name: str
    kind: str  # "weights" (one file), "model" (a folder of files) or "dataset" (a folder)
    relpath: str
    description: str
    url: str | None = None
    sha256: str | None = None
    md5: str | None = None
    # For datasets: sub-paths that must exist (non-empty folders or files) for it to count.
    required: tuple[str, ...] = ()
    # Turns a downloaded file into the final layout at ``dest`` (default: copy the file).
    install: Callable[[Path, Path], None] | None = field(default=None, compare=False)
    # Where no automatic download exists: what a user should do instead.
    manual: str | None = None
    # (sub-path, sha256) of files inside a folder asset, verified before use wherever found.
    file_sha256: tuple[tuple[str, str], ...] = ()
    # A folder an installed Python package ships this asset in (None when it is not installed).
    package_dir: Callable[[], Path | None] | None = field(default=None, compare=False)
    # What to tell a user whose package copy is missing or changed (e.g. the pip command).
    package_hint: str | None = None

    @property
    def mirror_relpath(self) -> str:
        """Path of this asset inside a mirror folder."""
        return f"keras_home/{self.relpath}" if self.kind in ("weights", "model") else self.relpath


@dataclass(frozen=True)
class Located:
    """Where an asset was found: its path and a word for the source."""

    path: Path
    source: str  # "mirror", "cache", "package" or "download"


def mirror_dir() -> Path | None:
    """Return the mirror folder from ``COURSE_MIRROR``, or None when it is unset."""
    value = os.environ.get(MIRROR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def keras_home() -> Path:
    """Return Keras' cache folder (``KERAS_HOME`` or ``~/.keras``), as Keras itself does."""
    value = os.environ.get("KERAS_HOME", "").strip()
    return Path(value).expanduser() if value else Path.home() / ".keras"


def course_cache_dir(create: bool = True) -> Path:
    """Return the folder for computed caches (features): ``COURSE_CACHE`` or ``~/.keras/course_cache``.

    It is created unless ``create`` is false (the grader only looks whether it is there).
    """
    value = os.environ.get("COURSE_CACHE", "").strip()
    path = Path(value).expanduser() if value else keras_home() / "course_cache"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def readonly_cache_dirs() -> list[Path]:
    """Extra computed-cache folders that are read, never written (``COURSE_CACHE_READONLY``).

    ``os.pathsep``-separated. The grader gives each sandboxed kernel a private, empty
    ``COURSE_CACHE`` and the instructor's cache read-only here, so a submission reuses the
    instructor's cached features but cannot change them for the next student.
    """
    value = os.environ.get("COURSE_CACHE_READONLY", "").strip()
    return [Path(part).expanduser() for part in value.split(os.pathsep) if part.strip()]


def offline() -> bool:
    """Return True when ``COURSE_OFFLINE`` forbids network access."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes"}


def is_complete(asset: Asset, path: Path) -> bool:
    """Return True when ``path`` holds the asset: the file exists, or every required part does."""
    if not path.exists():
        return False
    if asset.kind == "weights" or path.is_file():
        return path.is_file() and path.stat().st_size > 0
    for part in asset.required:
        p = path / part
        if not p.exists():
            return False
        if p.is_dir() and not any(p.iterdir()):
            return False
        if p.is_file() and p.stat().st_size == 0:
            return False
    return True


def candidates(asset: Asset) -> list[tuple[str, Path]]:
    """Return the local places an asset may be, in the order they are tried."""
    places = []
    mirror = mirror_dir()
    if mirror is not None:
        places.append(("mirror", mirror / asset.mirror_relpath))
    places.append(("cache", keras_home() / asset.relpath))
    if asset.package_dir is not None:
        try:
            folder = asset.package_dir()
        except Exception:  # noqa: BLE001 - a broken package is simply not a place to look
            folder = None
        if folder is not None:
            places.append(("package", Path(folder)))
    return places


def locate(asset: Asset) -> Located | None:
    """Find an asset in the mirror or the cache without downloading; None if absent."""
    for source, path in candidates(asset):
        if is_complete(asset, path):
            return Located(path, source)
    return None


def changed_files(asset: Asset, path: Path) -> list[str]:
    """Return a line per file of ``path`` whose sha256 differs from the asset's known one."""
    problems = []
    for sub, expected in asset.file_sha256:
        target = Path(path) / sub
        if not target.is_file():
            problems.append(f"{target} is missing")
            continue
        got = file_hash(target)
        if got != expected.lower():
            problems.append(f"{target} has sha256 {got}, expected {expected}")
    return problems


def verify(asset: Asset, located: Located) -> Path:
    """Return the located path once every file with a known checksum matches; else refuse it.

    Raises :class:`AssetChangedError` naming each changed file, where it was found and
    how to get the original back.
    """
    problems = changed_files(asset, located.path)
    if not problems:
        return located.path
    if located.source == "package":
        fix = asset.package_hint or "reinstall the package that ships it"
    elif located.source == "mirror":
        fix = "the mirror is read-only: ask whoever made it to fetch the asset again"
    else:
        fix = f"delete {located.path} and run `python -m course_utils fetch`"
    raise AssetChangedError(
        f"Refusing {asset.description} ({asset.name}) from the {located.source}: "
        + "; ".join(problems)
        + f". The file was changed or is corrupt, so it is not the published model. Fix: {fix}."
    )


def describe_search(asset: Asset, download_error: str | None = None, fix: bool = True) -> str:
    """Return the multi-line explanation of where an asset was looked for."""
    lines = [f"Missing {asset.kind}: {asset.description} ({asset.name})."]
    mirror = mirror_dir()
    if mirror is None:
        lines.append(f"  - mirror: {MIRROR_ENV} is not set")
    else:
        where = mirror / asset.mirror_relpath
        state = "mirror folder does not exist" if not mirror.exists() else "not there"
        lines.append(f"  - mirror: {where} ({state})")
    lines.append(f"  - cache:  {keras_home() / asset.relpath} (not there)")
    if asset.package_dir is not None:
        lines.append(f"  - package: not installed or incomplete ({asset.package_hint or 'see the asset'})")
    if asset.url:
        reason = download_error or ("not tried: COURSE_OFFLINE is set" if offline() else "not tried")
        lines.append(f"  - download: {asset.url} ({reason})")
    else:
        lines.append("  - download: no automatic download for this asset")
    if asset.manual:
        lines.append(f"  {asset.manual}")
    if fix:
        lines.append(FIX_HINT)
    return "\n".join(lines)


def ensure(asset: Asset, download: bool = True, progress: bool = True) -> Path:
    """Return a local path for ``asset``: mirror, cache, package folder, then (optionally) download.

    Files with a known checksum are verified first (:class:`AssetChangedError` when one
    differs). Raises :class:`AssetMissingError` with every place tried when none works.
    """
    found = locate(asset)
    if found is not None:
        return verify(asset, found)
    error = None
    if download and asset.url and not offline():
        try:
            return fetch_asset(asset, keras_home(), progress=progress)
        except (DownloadError, UnsafeArchiveError, OSError) as exc:
            error = f"failed: {exc}"
    raise AssetMissingError(describe_search(asset, error))


def fetch_asset(asset: Asset, root: Path, progress: bool = True) -> Path:
    """Download ``asset`` into ``root`` (cache layout) and return its final path."""
    if not asset.url:
        raise DownloadError(f"{asset.name} has no automatic download. {asset.manual or ''}".strip())
    dest = root / asset.relpath
    if asset.kind == "weights" and asset.install is None:
        return download(asset.url, dest, sha256=asset.sha256, md5=asset.md5, progress=progress)
    with tempfile.TemporaryDirectory(dir=_mkdir(root)) as tmp:
        name = asset.url.split("?")[0].rstrip("/").split("/")[-1] or asset.name
        archive = download(asset.url, Path(tmp) / name, sha256=asset.sha256, md5=asset.md5,
                           progress=progress)
        staging = Path(tmp) / "staging"
        staging.mkdir()
        (asset.install or _copy_into)(archive, staging)
        if dest.exists():
            shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, dest)
    if not is_complete(asset, dest):
        raise DownloadError(f"{asset.name}: the download did not contain {asset.required}")
    problems = changed_files(asset, dest)
    if problems:
        shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
        raise DownloadError(f"{asset.name}: " + "; ".join(problems))
    return dest


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _copy_into(archive: Path, staging: Path) -> None:
    shutil.copy2(archive, staging / archive.name)


def file_hash(path: Path, algorithm: str = "sha256") -> str:
    """Return the hex digest of a file."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    url: str,
    dest: Path,
    sha256: str | None = None,
    md5: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` atomically, with a progress bar and checksum check.

    The bytes go to a temporary file next to ``dest`` (:func:`course_utils.files.replace_with`),
    which replaces ``dest`` only
    once the size matches ``Content-Length`` and the checksum (if given) matches:
    an interrupted or corrupted download never leaves a half file behind.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    hashes = {"sha256": hashlib.sha256(), "md5": hashlib.md5()}

    def write(tmp: Path) -> None:
        written = total = 0
        with open(tmp, "xb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - official URLs
            except Exception as exc:  # URLError, socket errors, ValueError for bad URLs
                raise DownloadError(f"could not download {url}: {exc}") from exc
            with response:
                total = int(response.headers.get("Content-Length") or 0)
                with tqdm(total=total or None, unit="B", unit_scale=True, desc=dest.name,
                          disable=not progress, leave=False) as bar:
                    while True:
                        try:
                            chunk = response.read(1 << 16)
                        except Exception as exc:
                            raise DownloadError(f"download of {url} broke off: {exc}") from exc
                        if not chunk:
                            break
                        out.write(chunk)
                        for h in hashes.values():
                            h.update(chunk)
                        written += len(chunk)
                        bar.update(len(chunk))
        if total and written != total:
            raise DownloadError(
                f"download of {url} is truncated: got {written} of {total} bytes; run it again"
            )
        for algorithm, expected in (("sha256", sha256), ("md5", md5)):
            if expected and hashes[algorithm].hexdigest() != expected.lower():
                raise DownloadError(
                    f"{dest.name} from {url} does not match its {algorithm} checksum "
                    f"(expected {expected}, got {hashes[algorithm].hexdigest()}); "
                    "the file is corrupt or was changed: delete it and download again"
                )

    return files.replace_with(dest, write)


def _check_member(target: Path, name: str, archive: Path) -> Path:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} has an absolute path; refused")
    dest = (target / name).resolve()
    if dest != target and target not in dest.parents:
        raise UnsafeArchiveError(
            f"{archive.name}: member {name!r} would be written outside {target}; refused"
        )
    return dest


def safe_extract(archive: Path, target: Path) -> Path:
    """Extract a zip or tar archive into ``target``, refusing any member that would escape it.

    Absolute paths, ``..`` components, and links pointing outside ``target`` are
    refused with :class:`UnsafeArchiveError` before anything is written.
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    target = target.resolve()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_member(target, info.filename, archive)
                is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
                if is_link:
                    raise UnsafeArchiveError(f"{archive.name}: member {info.filename!r} is a link")
            zf.extractall(target)
        return target
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for m in members:
                _check_member(target, m.name, archive)
                if m.issym() or m.islnk():
                    link_base = (target / m.name).parent if m.issym() else target
                    _check_member(target, os.path.relpath(link_base / m.linkname, target), archive)
                if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
                    raise UnsafeArchiveError(f"{archive.name}: member {m.name!r} is a device/fifo")
            if hasattr(tarfile, "data_filter"):
                tf.extractall(target, members=members, filter="data")
            else:  # pragma: no cover - Python without extraction filters
                tf.extractall(target, members=members)
        return target
    raise UnsafeArchiveError(f"{archive.name} is neither a zip nor a tar archive")
