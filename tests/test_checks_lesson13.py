"""Tests for lesson 13 checks: the audit answers, and a shipped model without its preprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from helpers import needs_mirror  # noqa: E402

from course_utils.checks.registry import run_check  # noqa: E402


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    from course_utils import datasets
    from course_utils.checks import lesson13
    from course_utils.methods import own_data

    if datasets.DATASETS.get("hymenoptera") is None:
        pytest.skip("no hymenoptera")
    root = tmp_path_factory.mktemp("l13") / "messy"
    own_data.messy_copy(datasets.dataset_root("hymenoptera", download=False), root,
                        lesson13.MESSY_PER_CLASS, lesson13.MESSY_SEED)
    return root


@needs_mirror
def test_the_audit_checks_name_what_is_missing_or_extra(messy):
    from course_utils.checks import lesson13
    from course_utils.methods import own_data

    unusable, leaked = lesson13._truth(messy)
    assert unusable == ["IMG_0000.jpg", "photo_cut.jpg", "readme.txt"]
    assert len(leaked) == 2 and all(name.startswith("copy_") for name in leaked)
    assert run_check("13.audit", unusable=unusable, leaked=leaked).passed
    assert "misses 1 file" in run_check("13.audit", unusable=unusable[:-1], leaked=leaked).message
    more = [*unusable, "SCAN_GRAY.PNG"]
    assert "converted images are usable" in run_check("13.audit", unusable=more, leaked=leaked).message
    paths = [str(messy / "train" / n) for n in unusable]
    assert "file names only" in run_check("13.audit", unusable=paths, leaked=leaked).message

    split = own_data.split_files(own_data.audit_folder(messy, verbose=False), seed=42)
    clean = {part: [str(p.relative_to(messy)) for p in getattr(split, part).files]
             for part in ("train", "validation", "test")}
    assert run_check("13.clean_split", split_paths=clean).passed
    leaky = {**clean, "test": clean["test"] + [str(Path(p).relative_to(messy)) for p in
                                               own_data.audit_folder(messy, verbose=False).digest
                                               if Path(p).name in leaked]}
    assert "same bytes" in run_check("13.clean_split", split_paths=leaky).message
    lossy = {**clean, "train": clean["train"][1:]}
    assert "in no split" in run_check("13.clean_split", split_paths=lossy).message


@needs_mirror
def test_a_model_without_its_preprocessing_fails_the_shipping_checks():
    from course_utils import backbones
    from course_utils.methods import own_data
    from course_utils.taught.your_own_data import build_head, end_to_end

    base = backbones.load_backbone("mobilenet_025", 96, pooling="avg", verbose=False)
    base.trainable = False
    head = build_head(base.output_shape[-1], 2)
    shipped = keras.Sequential([keras.Input((96, 96, 3)), base, head])
    hint = run_check("13.raw_pixels", model=shipped, backbone="mobilenet_025").message
    assert "raw 0-255 pixels, unchanged" in hint
    model = end_to_end(base, head, 96, own_data.preprocessing_layer("mobilenet_025"))
    assert run_check("13.raw_pixels", model=model, backbone="mobilenet_025").passed
    wrong = end_to_end(base, head, 96, keras.layers.Rescaling(1 / 255.0))
    assert "scaled to [0, 1]" in run_check("13.raw_pixels", model=wrong, backbone="mobilenet_025").message
    assert "one of" in run_check("13.raw_pixels", model=model, backbone="resnet50").message
    x = np.zeros((1, 96, 96, 3), "float32")
    assert np.asarray(model(x)).shape == (1, 2)
