"""``python -m course_utils doctor``: versions, devices, profile, and every asset's status."""

from __future__ import annotations

import os
import platform
import sys

from course_utils import assets, catalog, fetching, lessons, profiles, tfds_sets
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

        rows.append(("tensorflow-datasets", f"{version('tensorflow-datasets')} (tfds.load, and image "
                                            "folders laid out <split>/<class>/<image>; tfds: rows below)"))
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
    if status.state is sandbox.SandboxState.BROKEN:
        return (f"BROKEN: {status.description}. `grade` stops until this is fixed (only an instructor "
                "grading needs this)")
    return (f"NONE: {status.description}. `grade` would run submissions unsandboxed (only an "
            "instructor grading needs this)")


def asset_rows() -> list[dict]:
    """Return one row per asset: name, kind, lessons, status and where it was found."""
    rows = []
    for need in catalog.NEEDS:
        found = fetching.status(need)
        rows.append({"asset": need.asset.name, "kind": need.asset.kind,
                     "lessons": " ".join(lessons.numbers_of(need.lessons)), "status": found.state.value,
                     "from": found.found.source if found.found else "-", "found": found})
    return rows


def tfds_rows() -> list[dict]:
    """Return one row per TensorFlow Datasets set of the catalogue: prepared where, or how to get it."""
    rows = []
    for tfds_set in catalog.TFDS_SETS:
        found = fetching.tfds_status(tfds_set)
        rows.append({"asset": f"tfds:{tfds_set.name}", "kind": "tfds",
                     "lessons": " ".join(lessons.numbers_of(tfds_set.lessons)) or "-",
                     "status": found.state.value, "from": found.where, "found": found})
    return rows


def run() -> int:
    """Print the doctor's report; return 0 only when everything the lessons need is there."""
    print("Transfer learning with Keras 3 -- course doctor\n")
    env = environment_rows()
    width = max(len(k) for k, _ in env)
    for key, value in env:
        print(f"{key.ljust(width)}  {value}")
    print()
    rows, sets = asset_rows(), tfds_rows()
    print(format_table(rows + sets, ["asset", "kind", "lessons", "status", "from"]))
    if any(r["found"].state is not fetching.TfdsState.PREPARED for r in sets):
        print("\n`datasets.tfds_load(name, split)` reads the tfds: sets above with `tfds.load`; "
              "`python -m course_utils fetch` prepares those a lesson reads (`--tfds`: all).")
    missing = [r["found"] for r in rows if r["found"].state.blocks]
    missing_sets = [r["found"] for r in sets if r["found"].state is fetching.TfdsState.MISSING]
    for found in missing_sets:
        print("\n" + tfds_sets.missing_message(found.tfds_set.name))
    if not missing and not missing_sets:
        print(f"\nAll {len(rows)} assets the lessons need are available. You can work offline.")
        return 0
    if not missing:
        return 1
    print(f"\n{len(missing)} needed asset(s) missing:\n")
    for found in missing:
        print((found.detail or assets.describe_search(found.need.asset, fix=False)) + "\n")
    print(assets.FIX_HINT)
    if os.environ.get(assets.MIRROR_ENV) is None:
        print("Tip: CI and workshops keep a mirror folder; set COURSE_MIRROR to use it.")
    return 1
