"""Lesson 13's folder recipe: the audit of a messy folder, splits, TFDS, several devices, streaming.

The messy folder is built here: broken and zero-byte files, a text file, hidden folders
(``.ipynb_checkpoints``, ``__MACOSX``, ``.DS_Store``), grayscale / CMYK / alpha / palette
images, upper-case extensions, exact duplicates (within a class, across classes, across
splits). The lesson itself runs on such a folder in ``test_lesson_runs_on_a_messy_folder``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, needs_mirror
from PIL import Image

from course_utils.images import ImageFolderError
from course_utils.methods import own_data

COLOURS = {"red": (200, 30, 30), "green": (30, 180, 40), "blue": (30, 40, 200)}


def _photo(colour, i, px=40):
    rng = np.random.default_rng(i)
    img = np.clip(np.array(colour)[None, None] + rng.normal(0, 25, (px, px, 3)), 0, 255)
    return Image.fromarray(img.astype(np.uint8))


def make_messy(root: Path, per_class: int = 8, source: dict[str, list[Path]] | None = None) -> dict:
    """Build a messy ``root/<class>/<image>`` folder; return what the audit must find.

    ``source`` gives real photos per class to copy (else coloured noise images are drawn).
    """
    expected = {"skipped": [], "converted": {}, "duplicates": []}
    for k, cls in enumerate(source or COLOURS):
        folder = root / cls
        folder.mkdir(parents=True)
        for i in range(per_class):
            target = folder / f"{cls}_{i:02d}.jpg"
            if source:
                shutil.copy(source[cls][i], target)
            else:
                _photo(COLOURS[cls], 100 * k + i).save(target, quality=90)
        first = folder / f"{cls}_00.jpg"
        img = Image.open(first).convert("RGB")
        img.convert("L").save(folder / f"{cls}_gray.png")
        img.convert("CMYK").save(folder / f"{cls}_cmyk.jpg")
        rgba = img.convert("RGBA")
        rgba.putalpha(128)
        rgba.save(folder / f"{cls}_alpha.PNG")
        img.convert("P").save(folder / f"{cls}_palette.gif")
        shutil.copy(folder / f"{cls}_01.jpg", folder / f"{cls.upper()}_UPPER.JPG")
        expected["converted"].update({str(folder / f"{cls}_gray.png"): "L",
                                      str(folder / f"{cls}_cmyk.jpg"): "CMYK",
                                      str(folder / f"{cls}_alpha.PNG"): "RGBA",
                                      str(folder / f"{cls}_palette.gif"): "P"})
        expected["duplicates"].append(sorted([str(folder / f"{cls}_01.jpg"),
                                              str(folder / f"{cls.upper()}_UPPER.JPG")]))
        (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
        (folder / ".ipynb_checkpoints").mkdir()
        shutil.copy(first, folder / ".ipynb_checkpoints" / "copy.jpg")
    names = list(source or COLOURS)
    first_class = root / names[0]
    (first_class / "zero.jpg").write_bytes(b"")
    data = (first_class / f"{names[0]}_02.jpg").read_bytes()
    (first_class / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (first_class / "notes.txt").write_text("not an image")
    (first_class / "fake.png").write_bytes(b"this is no png")
    bad = ("fake.png", "notes.txt", "truncated.jpg", "zero.jpg")
    expected["skipped"] = [str(first_class / n) for n in bad]
    (root / "__MACOSX" / names[0]).mkdir(parents=True)
    (root / "__MACOSX" / names[0] / f"._{names[0]}_00.jpg").write_bytes(b"\x00\x05\x16\x07")
    (root / ".ipynb_checkpoints").mkdir()
    return expected


def test_audit_of_a_messy_folder_names_every_problem(tmp_path):
    expected = make_messy(tmp_path / "messy")
    audit = own_data.audit_folder(tmp_path / "messy", verbose=False)
    assert audit.class_names == ["blue", "green", "red"], "hidden and system folders are not classes"
    assert sorted(p for p, _ in audit.skipped) == sorted(expected["skipped"])
    reasons = dict(audit.skipped)
    assert "0 bytes" in reasons[str(tmp_path / "messy/red/zero.jpg")]
    assert "not an image" in reasons[str(tmp_path / "messy/red/notes.txt")]
    assert dict(audit.converted) == expected["converted"]
    assert audit.counts == {"blue": 13, "green": 13, "red": 13}  # 8 + 4 converted + 1 upper-case
    assert [sorted(g) for g in audit.duplicate_groups()] == sorted(expected["duplicates"])
    assert any(".ipynb_checkpoints" in i for i in audit.ignored)
    assert any("__MACOSX" in i for i in audit.ignored)
    text = audit.summary()
    assert all(path in text for path in expected["skipped"]), "every skipped file is named"
    assert "imbalance" in text and "sizes" in text


def test_the_split_is_seeded_stratified_and_free_of_duplicates(tmp_path):
    make_messy(tmp_path / "messy")
    audit = own_data.audit_folder(tmp_path / "messy", verbose=False)
    split = own_data.split_files(audit, seed=3)
    again = own_data.split_files(audit, seed=3)
    assert [str(p) for p in split.test.files] == [str(p) for p in again.test.files], "seeded"
    assert split.leaks(audit) == []
    assert sum(split.sizes().values()) == sum(audit.counts.values()) - 3, "one copy of each pair left out"
    assert len(split.dropped) == 3 and all("exact duplicate" in why for _, why in split.dropped)
    for part in (split.train, split.validation, split.test):
        assert set(part.labels) == {0, 1, 2}, "every class in every split"


def test_identical_images_in_two_classes_are_left_out(tmp_path):
    make_messy(tmp_path / "f")
    shutil.copy(tmp_path / "f/red/red_03.jpg", tmp_path / "f/blue/looks_red.jpg")
    audit = own_data.audit_folder(tmp_path / "f", verbose=False)
    split = own_data.split_files(audit)
    dropped = dict(split.dropped)
    assert "classes" in dropped[str(tmp_path / "f/blue/looks_red.jpg")]
    assert "classes" in dropped[str(tmp_path / "f/red/red_03.jpg")]
    assert "DIFFERENT LABELS" in audit.summary()


@pytest.mark.parametrize("layout, words", [
    ({"cat": 4}, "single class"),
    ({"cat": 4, "dog": 0}, "is empty"),
    ({"cat": 4, "dog": 1}, "only 1 readable image"),
    ({}, "no class folders"),
])
def test_an_unusable_folder_gives_one_message(tmp_path, layout, words):
    root = tmp_path / "bad"
    root.mkdir()
    for cls, n in layout.items():
        (root / cls).mkdir()
        for i in range(n):
            _photo((90, 90, 90), i).save(root / cls / f"{i}.jpg")
    with pytest.raises(ImageFolderError) as info:
        own_data.audit_folder(root, verbose=False)
    message = str(info.value)
    assert words in message and "\n" not in message, message


def test_a_class_of_unreadable_files_is_unusable(tmp_path):
    root = tmp_path / "bad"
    make_messy(root, per_class=4)
    for f in (root / "green").iterdir():
        if f.is_file():
            f.write_bytes(b"")
    with pytest.raises(ImageFolderError, match="'green' has no readable image"):
        own_data.audit_folder(root, verbose=False)


def _split_layout(root: Path) -> None:
    for split, n in (("train", 6), ("val", 3), ("test", 3)):
        for k, cls in enumerate(COLOURS):
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                _photo(COLOURS[cls], 1000 * k + 10 * len(split) + i).save(root / split / cls / f"{i}.jpg")
    shutil.copy(root / "train/red/0.jpg", root / "test/red/leaked.jpg")   # a copy across the split
    _photo(COLOURS["red"], 7).save(root / "train/red/extra.bmp")            # TFDS ignores .bmp
    (root / "val" / ".ipynb_checkpoints").mkdir()                           # TFDS takes it for a class


def test_the_folders_own_splits_are_kept_and_leaks_dropped(tmp_path):
    _split_layout(tmp_path / "s")
    audit = own_data.audit_folder(tmp_path / "s", verbose=False)
    assert audit.layout == "splits" and list(audit.files) == ["train", "validation", "test"]
    assert "ACROSS SPLITS" in audit.summary()
    split = own_data.split_files(audit)
    assert split.sizes() == {"train": 19, "validation": 9, "test": 9}
    assert split.leaks(audit) == []
    assert str(tmp_path / "s/test/red/leaked.jpg") in dict(split.dropped)


def test_tfds_image_folder_lists_the_splits_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    _split_layout(tmp_path / "s")
    listing = own_data.tfds_listing(tmp_path / "s")
    assert sorted(listing) == ["test", "train", "val"]
    assert listing["val"].class_names == ["blue", "green", "red"], "hidden folders are not classes"
    assert len(listing["train"]) == 18, "TFDS lists .jpg/.jpeg/.png only (the .bmp is not listed)"
    assert len(listing["test"]) == 10
    audit = own_data.audit_folder(tmp_path / "s", verbose=False)
    by_audit = {p for p in audit.digest if not p.endswith(".bmp")}
    assert by_audit == {str(p) for part in listing.values() for p in part.files}


MIRRORED = r"""
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from pathlib import Path
from course_utils import images
from course_utils.methods import own_data
from course_utils.taught.your_own_data import build_head, end_to_end, train_head, unfreeze_top

strategy = own_data.distribution_strategy(["/cpu:0", "/cpu:1"])
rng = np.random.default_rng(0)
x = np.concatenate([rng.normal(-1, 1, (64, 16)), rng.normal(1, 1, (64, 16))]).astype("float32")
y = np.repeat([0, 1], 64)
with strategy.scope():
    head = build_head(16, 2, learning_rate=1e-2)
history = train_head(head, x, y, x, y, epochs=20, patience=3, batch_size=16)
mirrored = type(head.layers[-1].kernel.value).__name__
listing = images.list_image_files(Path(FOLDER))
stream = images.image_stream(listing, 32, 8, shuffle=True).map(lambda a, b: (tf.cast(a, tf.float32), b))
with strategy.scope():
    base = keras.applications.MobileNet(alpha=0.25, weights=None, include_top=False, pooling="avg",
                                        input_shape=(32, 32, 3))
    unfreeze_top(base, 6)
    layer = own_data.preprocessing_layer("mobilenet_025")
    small = end_to_end(base, build_head(base.output_shape[-1], 3), 32, layer)
    small.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
fit = small.fit(stream, epochs=2, verbose=0)
print("RESULT", json.dumps({"replicas": strategy.num_replicas_in_sync, "variable": mirrored,
      "head_accuracy": float(head.evaluate(x, y, verbose=0)[1]), "stream_losses": fit.history["loss"]}))
"""


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    make_messy(tmp_path / "f", per_class=4)
    code = "import json\nFOLDER = " + repr(str(tmp_path / "f")) + "\n" + MIRRORED
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300, cwd=ROOT)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, res.stdout[-2000:] + res.stderr[-4000:]
    result = json.loads(line[len("RESULT "):])
    assert result["replicas"] == 2
    assert "Mirrored" in result["variable"], f"the head's weights should be mirrored: {result['variable']}"
    assert result["head_accuracy"] > 0.9
    assert len(result["stream_losses"]) == 2 and all(np.isfinite(result["stream_losses"]))


def test_streaming_memory_stays_bounded(tmp_path):
    """3,000 images at 224 px would be 430 MB as one array; the stream stays far below."""
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "stream_memory.py"), "--n", "3000",
                          "--size", "224", "--folder", str(tmp_path / "f"), "--max-growth-mb", "200"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    assert "streamed 3000 images" in res.stdout


# ----------------------------------------------------------------------------- the lesson itself

def _flower_photos(per_class: int) -> dict[str, list[Path]]:
    from course_utils import datasets

    root = datasets.dataset_root("flowers", download=False)
    return {cls: sorted((root / cls).glob("*.jpg"))[:per_class] for cls in ("daisy", "rose", "sunflower")}


@needs_mirror
@pytest.mark.notebook
def test_lesson_runs_on_a_messy_folder(tmp_path):
    """`run 13 -p DATA_DIR=<messy folder>`: trains, names every skipped file, exports, predicts."""
    from course_utils.cli import run as runner

    messy = tmp_path / "messy"
    expected = make_messy(messy, per_class=10, source=_flower_photos(10))
    result = runner.execute_notebook(ROOT / "notebooks" / "13_your_own_data.ipynb", tmp_path / "out",
                                     profile="smoke", html=False,
                                     params={"DATA_DIR": str(messy), "CANDIDATES": ["mobilenet_025"],
                                             "OUT_DIR": str(tmp_path / "model")})
    assert result.status == "ok", result.error
    executed = result.notebook.read_text()
    for path in expected["skipped"]:
        assert path in executed, f"{path} is not named in the lesson's output"
    assert (tmp_path / "model" / "model.keras").is_file()
    assert (tmp_path / "model" / "saved_model" / "saved_model.pb").is_file()
    assert any("test accuracy" in h["label"] for h in result.headlines)


@needs_mirror
@pytest.mark.notebook
def test_lesson_stops_on_an_unusable_folder_with_one_message(tmp_path):
    from course_utils.cli import run as runner

    root = tmp_path / "one_class"
    (root / "only").mkdir(parents=True)
    for i in range(5):
        _photo((90, 90, 90), i).save(root / "only" / f"{i}.jpg")
    result = runner.execute_notebook(ROOT / "notebooks" / "13_your_own_data.ipynb", tmp_path / "out",
                                     profile="smoke", html=False, params={"DATA_DIR": str(root)})
    assert result.status == "FAILED"
    assert "ImageFolderError" in result.error and "single class folder" in result.error, result.error
