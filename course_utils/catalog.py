"""What the course needs: every weight file and dataset, which lessons use it, and fetching it all."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from course_utils import assets, backbones, datasets, profiles


@dataclass(frozen=True)
class Need:
    """One asset the course uses, the lessons that use it, and whether a fallback exists."""

    asset: assets.Asset
    lessons: tuple[str, ...]
    optional: bool = False  # True where the lessons fall back to something embedded


def _w(name: str, top: bool = False) -> assets.Asset:
    return backbones.get(name).weights_asset(224, include_top=top)


NEEDS: list[Need] = [
    Need(_w("mobilenet_v2"), ("01", "02", "03", "04", "05", "06", "07")),
    Need(_w("mobilenet_v2", top=True), ("02",)),
    Need(_w("mobilenet_v2_035"), ("02",)),
    Need(_w("mobilenet_025"), ("02",)),
    Need(backbones.CLASS_INDEX, ("02",)),
    Need(datasets.DATASETS["cats_and_dogs"], ("01", "03", "04", "05")),
    Need(datasets.DATASETS["photos"], ("02",), optional=True),
    Need(datasets.DATASETS["pacs"], ("05", "07")),
    Need(datasets.DATASETS["hymenoptera"], ("06",)),
    Need(datasets.DATASETS["flowers"], ("06",)),
    Need(datasets.DATASETS["mnist"], ("07",)),
    Need(datasets.DATASETS["usps"], ("07",)),
    Need(datasets.DATASETS["mnist_m"], ("07",)),
    Need(datasets.DATASETS["pneumonia"], ("08",), optional=True),
]


def needs_for(profile: str | None = None) -> list[Need]:
    """Return what a profile needs. Profiles change sizes, never assets, so all share one list."""
    profiles.get_profile(profile)  # validates the name
    return list(NEEDS)


def fetch(profile: str | None = None, to: Path | None = None, progress: bool = True
          ) -> list[tuple[str, str]]:
    """Put every asset a profile needs into the cache, or into a mirror-layout folder ``to``.

    With ``to`` (a workshop USB stick, say), assets already present locally are
    copied from the mirror or cache; the rest are downloaded from their official
    locations. Returns ``(asset name, what happened)`` pairs and raises nothing:
    failures are reported so one missing asset does not stop the rest.
    """
    results = []
    for need in needs_for(profile):
        asset = need.asset
        try:
            if to is None:
                found = assets.locate(asset)
                if found:
                    results.append((asset.name, f"already in the {found.source}"))
                else:
                    assets.fetch_asset(asset, assets.keras_home(), progress=progress)
                    results.append((asset.name, "downloaded into the cache"))
                continue
            dest = Path(to) / asset.mirror_relpath
            if assets.is_complete(asset, dest):
                results.append((asset.name, "already there"))
                continue
            found = assets.locate(asset)
            if found:
                _copy(found.path, dest)
                results.append((asset.name, f"copied from the {found.source}"))
            else:
                staged = assets.fetch_asset(asset, Path(to) / ".staging", progress=progress)
                _copy(staged, dest)
                shutil.rmtree(Path(to) / ".staging", ignore_errors=True)
                results.append((asset.name, "downloaded"))
        except (assets.DownloadError, assets.UnsafeArchiveError, OSError) as exc:
            status = "MISSING" + (" (optional)" if need.optional else "")
            results.append((asset.name, f"{status}: {exc}"))
    return results


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
    if src.is_dir():
        shutil.copytree(src, tmp)
    else:
        shutil.copy2(src, tmp)
    if dest.exists():
        shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
    tmp.rename(dest)
