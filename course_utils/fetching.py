"""Whether each asset of :mod:`course_utils.catalog` is here, and getting the ones that are not.

:func:`status` is the one judgement of an asset (available, missing, changed: an enum, and where it
was found); :func:`tfds_status` is the same for a TensorFlow Datasets set. ``doctor`` prints them,
``fetch`` acts on them and decides its exit code by them, and the test suite skips exactly the
lessons whose assets they call missing.
"""

from __future__ import annotations

import enum
import shutil
from dataclasses import dataclass
from pathlib import Path

from course_utils import assets, catalog, files, tfds_sets


class State(enum.Enum):
    """An asset's state, as ``doctor`` prints it."""

    AVAILABLE = "available"
    MISSING = "MISSING"
    OPTIONAL_MISSING = "missing (optional)"  # the lessons fall back to something embedded
    CHANGED = "CHANGED"  # found, but a file with a known checksum differs: counts as missing

    @property
    def blocks(self) -> bool:
        """Whether the lessons that need the asset cannot run."""
        return self in (State.MISSING, State.CHANGED)


@dataclass(frozen=True)
class Status:
    """An asset's state, where it was found and, when it is not usable, why."""

    need: catalog.Need
    state: State
    found: assets.Located | None = None
    detail: str = ""  # for CHANGED: which files differ and how to get the originals back


def status(need: catalog.Need) -> Status:
    """Where ``need``'s asset is and whether it can be used; nothing is downloaded.

    Files with a known checksum are verified: a changed one is ``CHANGED``.
    """
    found = assets.locate(need.asset)
    if found is None:
        return Status(need, State.OPTIONAL_MISSING if need.optional else State.MISSING)
    try:
        assets.verify(need.asset, found)
    except assets.AssetChangedError as error:
        return Status(need, State.CHANGED, found, str(error))
    return Status(need, State.AVAILABLE, found)


class TfdsState(enum.Enum):
    """A TensorFlow Datasets set's state."""

    PREPARED = "prepared"
    NOT_PREPARED = "not prepared"  # it can be prepared here (its files are on disk, or online)
    OPTIONAL = "not prepared (optional)"  # no lesson reads it and it cannot be prepared offline
    MISSING = "MISSING"  # a lesson reads it and it cannot be prepared here


@dataclass(frozen=True)
class TfdsStatus:
    """A TFDS set's state, where it is (or how to get it)."""

    tfds_set: catalog.TfdsSet
    state: TfdsState
    where: str


def tfds_status(tfds_set: catalog.TfdsSet) -> TfdsStatus:
    """Whether a TFDS set is prepared, can be prepared here, or is missing; nothing is prepared.

    Not prepared is fine where it can be prepared (its original files are on disk, or downloads
    are allowed): the first ``tfds_load`` or ``fetch`` does it.
    """
    found = tfds_sets.locate(tfds_set.name)
    fetch = "`python -m course_utils fetch" + ("`" if tfds_set.lessons else " --tfds`")
    if found:
        return TfdsStatus(tfds_set, TfdsState.PREPARED, f"{found.source} ({found.path})")
    source = tfds_sets.local_source(tfds_set.name)
    if source is not None:
        return TfdsStatus(tfds_set, TfdsState.NOT_PREPARED, f"run {fetch} (from {source}, no network)")
    if not assets.offline():
        state = TfdsState.NOT_PREPARED if tfds_set.lessons else TfdsState.OPTIONAL
        return TfdsStatus(tfds_set, state, f"run {fetch} (downloads it)")
    if tfds_set.lessons:
        return TfdsStatus(tfds_set, TfdsState.MISSING,
                          (f"`apt-get install {tfds_set.source_package}`, or " if tfds_set.source_package
                           else "") + "run `python -m course_utils fetch` online")
    return TfdsStatus(tfds_set, TfdsState.OPTIONAL, f"run {fetch} online")


def missing_for_lessons() -> dict[str, list[str]]:
    """Lesson slug -> the names of the assets and TFDS sets it needs that are missing here."""
    missing: dict[str, list[str]] = {}
    for need in catalog.NEEDS:
        if status(need).state.blocks:
            for slug in need.lessons:
                missing.setdefault(slug, []).append(need.asset.name)
    for tfds_set in catalog.TFDS_SETS:
        if tfds_status(tfds_set).state is TfdsState.MISSING:
            for slug in tfds_set.lessons:
                missing.setdefault(slug, []).append(f"tfds:{tfds_set.name}")
    return missing


@dataclass(frozen=True)
class Fetched:
    """What ``fetch`` did for one asset or TFDS set: its name, the state it left, what happened."""

    name: str
    state: State
    message: str


def fetch(to: Path | None = None, progress: bool = True, tfds: bool = False) -> list[Fetched]:
    """Put every asset the course needs into the cache, or into a mirror-layout folder ``to``.

    With ``to`` (a workshop USB stick, say), assets already present locally are
    copied from the mirror or cache; the rest are downloaded from their official
    locations. Raises nothing: failures are reported so one missing asset does not stop the rest.
    """
    results = []
    for need in catalog.NEEDS:
        asset = need.asset
        missing = State.OPTIONAL_MISSING if need.optional else State.MISSING
        try:
            results.append(_fetch_one(need, to, progress))
        except assets.AssetChangedError as exc:
            results.append(Fetched(asset.name, State.CHANGED, str(exc)))
        except (assets.DownloadError, assets.UnsafeArchiveError, OSError) as exc:
            results.append(Fetched(asset.name, missing, str(exc)))
    return results + fetch_tfds(to, download=tfds)


def _fetch_one(need: catalog.Need, to: Path | None, progress: bool) -> Fetched:
    asset = need.asset
    available = State.AVAILABLE
    if to is None:
        found = assets.locate(asset)
        if found:
            assets.verify(asset, found)
            return Fetched(asset.name, available, f"already in the {found.source}")
        assets.fetch_asset(asset, assets.keras_home(), progress=progress)
        return Fetched(asset.name, available, "downloaded into the cache")
    dest = Path(to) / asset.mirror_relpath
    if assets.is_complete(asset, dest):
        return Fetched(asset.name, available, "already there")
    found = assets.locate(asset)
    if found:
        files.copy(assets.verify(asset, found), dest)
        return Fetched(asset.name, available, f"copied from the {found.source}")
    staged = assets.fetch_asset(asset, Path(to) / ".staging", progress=progress)
    files.copy(staged, dest)
    shutil.rmtree(Path(to) / ".staging", ignore_errors=True)
    return Fetched(asset.name, available, "downloaded")


def fetch_tfds(to: Path | None = None, download: bool = False) -> list[Fetched]:
    """Report each of :data:`catalog.TFDS_SETS`, copy prepared ones into ``to``; prepare missing ones.

    A set a lesson reads, or one whose original files are on disk (:func:`tfds_sets.local_source`),
    is always prepared; the optional others only with ``download`` (tf_flowers is 218 MB).
    """
    results = []
    for tfds_set in catalog.TFDS_SETS:
        label = f"tfds:{tfds_set.name}"
        missing = State.MISSING if tfds_set.lessons else State.OPTIONAL_MISSING
        try:
            found = tfds_sets.locate(tfds_set.name)
            if found is None and (download or tfds_set.lessons or tfds_sets.local_source(tfds_set.name)):
                found = tfds_sets.prepare(tfds_set.name)
            if found is None:
                results.append(Fetched(label, State.OPTIONAL_MISSING,
                                       "not prepared (optional): `fetch --tfds` prepares it online"))
            elif to is not None:
                results.append(Fetched(label, State.AVAILABLE, tfds_sets.copy_to(tfds_set.name, Path(to))))
            else:
                results.append(Fetched(label, State.AVAILABLE, f"in the {found.source}"))
        except (assets.AssetMissingError, assets.DownloadError, OSError) as exc:
            results.append(Fetched(label, missing, str(exc).splitlines()[0]))
    return results
