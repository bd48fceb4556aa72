"""``python -m course_utils doctor``: versions, devices, profile, and every asset's status."""

from __future__ import annotations

import os
import platform
import sys

from course_utils import assets, catalog, profiles, tfds_sets
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
    rows.append(("LiteRT", litert_row()))
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


def litert_row() -> str:
    """Where frozen-base features run: LiteRT (XNNPACK) when it loads, else Keras, and how to fix that."""
    from course_utils import features, litert

    forced = os.environ.get(features.RUNTIME_ENV, "").strip()
    reason = litert.unavailable_reason()
    if reason is not None:
        return (f"NOT AVAILABLE ({reason}): frozen features run in Keras, more slowly; "
                f"`pip install {litert.PACKAGE}` (see requirements.txt)")
    note = f"; {features.RUNTIME_ENV}={forced} overrides it" if forced else ""
    return (f"{litert.version()}: frozen features run there (XNNPACK, {litert.usable_cores()} cores), "
            f"Keras is the fallback{note}")


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
    """Return one row per TensorFlow Datasets set of the catalogue: prepared where, or how to get it.

    Not prepared is fine where it can be prepared here (its original files are on disk, or downloads
    are allowed): the first ``tfds_load`` or ``fetch`` does it. A set a lesson reads that cannot be
    prepared offline is ``MISSING``.
    """
    rows = []
    for tfds_set in catalog.TFDS_SETS:
        found = tfds_sets.locate(tfds_set.name)
        source = None if found else tfds_sets.local_source(tfds_set.name)
        fetch = "`python -m course_utils fetch" + ("`" if tfds_set.lessons else " --tfds`")
        if found:
            status, where = "prepared", f"{found.source} ({found.path})"
        elif source is not None:
            status, where = "not prepared", f"run {fetch} (from {source}, no network)"
        elif not assets.offline():
            status = "not prepared" + ("" if tfds_set.lessons else " (optional)")
            where = f"run {fetch} (downloads it)"
        elif tfds_set.lessons:
            status = "MISSING"
            where = (f"`apt-get install {tfds_set.source_package}`, or " if tfds_set.source_package
                     else "") + "run `python -m course_utils fetch` online"
        else:
            status, where = "not prepared (optional)", f"run {fetch} online"
        rows.append({"asset": f"tfds:{tfds_set.name}", "kind": "tfds",
                     "lessons": " ".join(tfds_set.lessons) or "-", "status": status, "from": where})
    return rows


def run(profile: str | None = None) -> int:
    """Print the doctor's report; return 0 only when everything the profile needs is there."""
    print("Transfer learning with Keras 3 -- course doctor\n")
    env = environment_rows()
    width = max(len(k) for k, _ in env)
    for key, value in env:
        print(f"{key.ljust(width)}  {value}")
    print()
    rows, sets = asset_rows(profile), tfds_rows()
    print(format_table(rows + sets, ["asset", "kind", "lessons", "status", "from"]))
    if any(r["status"] != "prepared" for r in sets):
        print("\n`datasets.tfds_load(name, split)` reads the tfds: sets above with `tfds.load`; "
              "`python -m course_utils fetch` prepares those a lesson reads (`--tfds`: all).")
    missing = [r for r in rows if r["status"] in ("MISSING", "CHANGED")]
    missing_sets = [r for r in sets if r["status"] == "MISSING"]
    for r in missing_sets:
        print("\n" + tfds_sets.missing_message(r["asset"].removeprefix("tfds:")))
    if not missing and not missing_sets:
        print(f"\nAll {len(rows)} assets the {profile or profiles.current_name()} profile needs are "
              "available. You can work offline.")
        return 0
    if not missing:
        return 1
    print(f"\n{len(missing)} needed asset(s) missing:\n")
    for r in missing:
        print((r["changed"] or assets.describe_search(r["need"].asset, fix=False)) + "\n")
    print(assets.FIX_HINT)
    if os.environ.get(assets.MIRROR_ENV) is None:
        print("Tip: CI and workshops keep a mirror folder; set COURSE_MIRROR to use it.")
    return 1
