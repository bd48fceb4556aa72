"""What hidden checks score on stays out of the student's kernel, and hidden checks that judge a
pretrained model verify that its predictions come from the genuine backbone."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, needs_mirror, tiny_backbone

from course_utils import datasets
from course_utils.checks import common
from course_utils.checks.held_out import HeldOutImages, HeldOutRows
from course_utils.checks.registry import CheckFailed
from course_utils.grading import sandbox
from course_utils.grading.assets_view import AssetsView

# --------------------------------------------------------------------------- the declarations


def _static_test_split_loads(path: Path) -> set[tuple[str, str | None]]:
    """(dataset, domain) of every image split "test" a checks module loads with constant arguments."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        if name not in ("held_out_images", "load_images"):
            continue
        args = [a.value for a in node.args if isinstance(a, ast.Constant)]
        keywords = {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
        split = keywords.get("split", args[1] if name == "load_images" and len(args) > 1 else None)
        if args and isinstance(args[0], str) and split == "test":
            found.add((args[0], keywords.get("domain")))
    return found


def test_every_test_split_a_check_scores_on_is_held_out() -> None:
    """A checks module that loads a dataset's test split declares it in HELD_OUT_DATA."""
    for path in sorted((ROOT / "course_utils" / "checks").glob("lesson*.py")):
        loads = _static_test_split_loads(path)
        if not loads:
            continue
        module = importlib.import_module(f"course_utils.checks.{path.stem}")
        declared = {(d.dataset, d.domain) for d in getattr(module, "HELD_OUT_DATA", ())
                    if isinstance(d, HeldOutImages) and d.split == "test"}
        assert loads <= declared, f"{path.name} scores on {loads - declared} without holding it out"


@needs_mirror
@pytest.mark.parametrize(("name", "splits"), [("mnist", ("train", "test")), ("mnist_m", ("train", "test")),
                                              ("pneumonia", ("train", "val", "test"))])
def test_array_rows_are_where_load_arrays_takes_them(name: str, splits: tuple[str, ...]) -> None:
    loaded = datasets.load_arrays(name)
    for split in splits:
        path, where = datasets.array_rows(name, split)
        with np.load(path, allow_pickle=False) as data:
            for role in ("x", "y"):
                key, rows = where[role]
                assert np.array_equal(np.asarray(data[key])[rows].reshape(loaded[f"{role}_{split}"].shape),
                                      loaded[f"{role}_{split}"]), (name, split, role)


@needs_mirror
def test_image_split_files_partition_the_validation_folder() -> None:
    test = set(datasets.image_split_files("cats_and_dogs", "test"))
    validation = set(datasets.image_split_files("cats_and_dogs", "validation"))
    folder = datasets.dataset_root("cats_and_dogs") / "validation"
    every = {p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")}
    assert test and not test & validation and test | validation == every


# --------------------------------------------------------------------------- the kernel's view


@needs_mirror
def test_the_view_empties_held_out_photos_and_zeroes_held_out_rows(tmp_path: Path) -> None:
    """In a sandbox with the view, the held-out photos are empty and the rows zero; the rest is intact."""
    if not sandbox.probe().available:
        pytest.skip(f"no sandbox: {sandbox.probe().description}")
    held_out = (HeldOutImages("cats_and_dogs"), HeldOutRows("mnist", "test", 5000, None))
    view = AssetsView(tmp_path / "view")
    mounts = view.mounts(held_out)
    hidden = [str(p) for p in datasets.image_split_files("cats_and_dogs", "test")]
    kept = [str(p) for p in datasets.image_split_files("cats_and_dogs", "validation")]
    mirror = str(Path(datasets.dataset_root("mnist")).resolve().parents[1])
    code = ("import json, sys, numpy as np\n"
            "sys.path.insert(0, sys.argv[1])\n"
            "from course_utils import datasets\n"
            "hidden, kept = json.loads(sys.argv[2]), json.loads(sys.argv[3])\n"
            "import os\n"
            "d = datasets.load_arrays('mnist')\n"
            "print(json.dumps({'hidden': sum(os.path.getsize(p) for p in hidden),\n"
            "                  'kept': min(os.path.getsize(p) for p in kept),\n"
            "                  'rows_after': int(np.abs(d['x_test'][5000:]).sum()),\n"
            "                  'rows_before': int(np.abs(d['x_test'][:5000]).sum()),\n"
            "                  'shape': list(d['x_test'].shape)}))\n")
    spec = sandbox.basic_spec(tmp_path / "etc", [sandbox.Mount(sandbox.MountKind.RO, mirror, mirror),
                                                 sandbox.Mount(sandbox.MountKind.RO, "/pkg", str(ROOT)),
                                                 *mounts],
                              {"COURSE_MIRROR": mirror, "COURSE_OFFLINE": "1"})
    command = sandbox.bwrap_command(spec, [sys.executable, "-I", "-c", code, "/pkg", json.dumps(hidden),
                                           json.dumps(kept)])
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["hidden"] == 0 and seen["kept"] > 0
    assert seen["rows_after"] == 0 and seen["rows_before"] > 0 and seen["shape"] == [10000, 28, 28]
    outside = datasets.load_arrays("mnist")  # outside the sandbox nothing changed
    assert np.abs(outside["x_test"][5000:]).sum() > 0


# --------------------------------------------------------------------------- the backbone drives it


def _head():
    import keras

    return keras.layers.Dense(1, activation="sigmoid",
                              kernel_initializer=keras.initializers.RandomNormal(stddev=30.0, seed=1))


def _models(size: int = 8):
    import keras

    base = tiny_backbone(size)
    inputs = keras.Input((size, size, 3))
    genuine = keras.Model(inputs, _head()(base(inputs)))
    features = base(inputs)
    ignored = keras.layers.Dense(1, kernel_initializer="zeros", use_bias=False)(features)  # features x 0
    pixels = keras.layers.Dense(1, kernel_initializer=keras.initializers.RandomNormal(stddev=1.0, seed=2))(
        keras.layers.Flatten()(inputs))
    cheat = keras.Model(inputs, keras.layers.Activation("sigmoid")(keras.layers.Add()([ignored, pixels])))
    return base, genuine, cheat


def test_a_model_that_decides_from_the_backbone_passes() -> None:
    _, genuine, _ = _models()
    x = np.random.default_rng(0).uniform(0, 255, (48, 8, 8, 3)).astype("float32")
    common.require_backbone_drives_predictions(genuine, x, "mobilenet_v2", "pretrained")


def test_a_model_that_ignores_the_backbone_fails_without_revealing_anything() -> None:
    """The red team's model: the genuine base inside, its output times zero, the answer from pixels."""
    _, _, cheat = _models()
    x = np.random.default_rng(0).uniform(0, 255, (48, 8, 8, 3)).astype("float32")
    with pytest.raises(CheckFailed, match="do not come from the pretrained base"):
        common.require_backbone_drives_predictions(cheat, x, "mobilenet_v2", "pretrained")


def test_a_base_built_into_the_model_is_found_by_its_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    """The base's layers in the model itself (no nested base): its last weighted layer is rolled."""
    import keras

    base = tiny_backbone(8)
    flat = keras.Model(base.input, _head()(base.output))
    names = {layer.name: (np.zeros(1),) for layer in base.layers if layer.weights}
    monkeypatch.setattr(common, "imagenet_weights", lambda backbone, size: names)
    x = np.random.default_rng(0).uniform(0, 255, (48, 8, 8, 3)).astype("float32")
    common.require_backbone_drives_predictions(flat, x, "mobilenet_v2", "pretrained")


@needs_mirror
def test_the_red_teams_model_fails_the_hidden_checks_that_judge_a_pretrained_model() -> None:
    """The genuine frozen MobileNetV2 inside (so 'the base is in the graph' holds), its output
    times zero, the answer from raw pixels: lesson 01's hidden checks say it does not use the base."""
    import keras

    from course_utils import backbones
    from course_utils.checks.registry import run_check

    base = backbones.load_backbone("mobilenet_v2", 32, pooling="avg", verbose=False)
    base.trainable = False
    inputs = keras.Input((32, 32, 3))
    features = base(keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs))
    ignored = keras.layers.Dense(1, kernel_initializer="zeros", use_bias=False)(features)
    pixels = keras.layers.Dense(1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.01, seed=3))(
        keras.layers.Flatten()(inputs))
    cheat = keras.Model(inputs, keras.layers.Activation("sigmoid")(keras.layers.Add()([ignored, pixels])))
    for name in ("01.end_to_end_accuracy", "01.beats_pixel_baseline"):
        outcome = run_check(name, pretrained=cheat)
        assert outcome.points == 0 and "do not come from the pretrained base" in outcome.message, outcome
