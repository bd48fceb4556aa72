"""``python -m course_utils doctor``: versions, devices, profile, and every asset's status."""

from __future__ import annotations

import os
import platform
import sys

from course_utils import assets, catalog, profiles
from course_utils.cli.table import format_table


def environment_rows() -> list[tuple[str, str]]:
    """Return (item, value) rows: Python, TensorFlow, Keras, devices, profile, mirror, cache."""
    python = platform.python_version()
    if sys.version_info < (3, 11):
        python += "  (TOO OLD: the course needs Python >= 3.11; install 3.11+ and rerun `make setup`)"
    rows = [("Python", python)]
    try:
        import tensorflow as tf

        rows.append(("TensorFlow", tf.__version__))
        devices = [d.name.replace("/physical_device:", "") for d in tf.config.list_physical_devices()]
        rows.append(("devices", ", ".join(devices) or "none"))
    except Exception as exc:  # noqa: BLE001 - doctor reports, never crashes
        rows.append(("TensorFlow", f"NOT IMPORTABLE ({type(exc).__name__}: {exc}); run `make setup`"))
    try:
        import keras

        rows.append(("Keras", f"{keras.__version__} (backend {keras.backend.backend()})"))
    except Exception as exc:  # noqa: BLE001
        rows.append(("Keras", f"NOT IMPORTABLE ({exc})"))
    try:
        from importlib.metadata import version

        rows.append(("tensorflow-datasets", f"{version('tensorflow-datasets')} (lesson 11 reads "
                                            "<split>/<class>/<image> folders with it; tfds: rows below)"))
    except Exception:  # noqa: BLE001
        rows.append(("tensorflow-datasets", "NOT INSTALLED: pip install -r requirements.txt"))
    rows.append(("profile", f"{profiles.current_name()} ({profiles.ENV_VAR})"))
    mirror = assets.mirror_dir()
    if mirror is None:
        rows.append(("mirror", f"{assets.MIRROR_ENV} not set"))
    else:
        rows.append(("mirror", f"{mirror}" + ("" if mirror.is_dir() else "  (DOES NOT EXIST)")))
    rows.append(("cache", str(assets.keras_home())))
    if assets.offline():
        rows.append(("network", f"{assets.OFFLINE_ENV} set: no downloads"))
    rows.append(("grading sandbox", sandbox_row()))
    return rows


def sandbox_row() -> str:
    """Whether `grade` can sandbox submissions here (bubblewrap), loudly when it cannot."""
    from course_utils.grading import sandbox

    status = sandbox.probe()
    if status.available:
        return f"{status.description} works ({status.seconds:.1f} s to start a sandbox)"
    return (f"NONE: {status.description}. `grade` would run submissions unsandboxed (only an "
            "instructor grading needs this)")


def asset_rows(profile: str | None = None) -> list[dict]:
    """Return one row per asset: name, kind, lessons, status and where it was found.

    Files with a known checksum are verified: a changed one is ``CHANGED`` (and counts as missing).
    """
    rows = []
    for need in catalog.needs_for(profile):
        found = assets.locate(need.asset)
        status = "available" if found else ("missing (optional)" if need.optional else "MISSING")
        changed = None
        if found is not None and need.asset.file_sha256:
            try:
                assets.verify(need.asset, found)
            except assets.AssetChangedError as exc:
                status, changed = "CHANGED", str(exc)
        rows.append({
            "asset": need.asset.name,
            "kind": need.asset.kind,
            "lessons": " ".join(need.lessons),
            "status": status,
            "from": found.source if found else "-",
            "need": need,
            "changed": changed,
        })
    return rows


def tfds_rows() -> list[dict]:
    """Return one row per TensorFlow Datasets set of the catalogue: prepared where, or how to get it."""
    from course_utils import tfds_sets

    rows = []
    for tfds_set in catalog.TFDS_SETS:
        found = tfds_sets.locate(tfds_set.name)
        rows.append({
            "asset": f"tfds:{tfds_set.name}",
            "kind": "tfds",
            "lessons": " ".join(tfds_set.lessons) or "-",
            "status": "prepared" if found else "not prepared (optional)",
            "from": f"{found.source} ({found.path})" if found else "-",
        })
    return rows


def run(profile: str | None = None) -> int:
    """Print the doctor's report; return 0 only when everything the profile needs is there."""
    print("Transfer learning with Keras 3 -- course doctor\n")
    env = environment_rows()
    width = max(len(k) for k, _ in env)
    for key, value in env:
        print(f"{key.ljust(width)}  {value}")
    print()
    rows = asset_rows(profile)
    print(format_table(rows + tfds_rows(), ["asset", "kind", "lessons", "status", "from"]))
    if any(r["status"] != "prepared" for r in tfds_rows()):
        print("\n`tfds_sets.load(name, split)` reads the tfds: sets above with `tfds.load`; "
              "`python -m course_utils fetch --tfds` prepares them on a connected machine.")
    missing = [r for r in rows if r["status"] in ("MISSING", "CHANGED")]
    if not missing:
        print(f"\nAll {len(rows)} assets the {profile or profiles.current_name()} profile needs are "
              "available. You can work offline.")
        return 0
    print(f"\n{len(missing)} needed asset(s) missing:\n")
    for r in missing:
        print((r["changed"] or assets.describe_search(r["need"].asset, fix=False)) + "\n")
    print(assets.FIX_HINT)
    if os.environ.get(assets.MIRROR_ENV) is None:
        print("Tip: CI and workshops keep a mirror folder; set COURSE_MIRROR to use it.")
    return 1
