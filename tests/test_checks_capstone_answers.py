"""The capstone's checks (your own data, always the last lesson) on learners' answers: right ones
written differently from the solution earn full points (a Normalization layer as preprocessing
among them), plausible mistakes lose theirs (pixels scaled to [0, 1] among them)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from checks_support import (  # noqa: E402
    captured,
    colour_photos,
    fails,
    full,
    genuine,
    identity_backbone,
    photo_model,
    red_level_head,
    reveals,
    run,
)
from helpers import needs_mirror  # noqa: E402

from course_utils import lessons  # noqa: E402

CAPSTONE = lessons.find("your_own_data")   # by name: its number changes as lessons are added
capstone = importlib.import_module(CAPSTONE.checks)


def name(check: str) -> str:
    return f"{CAPSTONE.number}.{check}"


# --- Exercise 1: the audit and the split -----------------------------------------------------------


@pytest.fixture(scope="module")
def messy():
    return capstone.rebuilt_folder()


@needs_mirror
def test_audit_accepts_names_found_another_way(messy):
    from course_utils.methods import own_data

    audit = own_data.audit_folder(messy, verbose=False)
    unusable = {os.path.basename(str(p)) for p, _ in audit.skipped}
    by_digest = {}
    for split, per_class in audit.files.items():
        for paths in per_class.values():
            for p in paths:
                by_digest.setdefault(audit.digest[str(p)], set()).add(split)
    leaked = [os.path.basename(str(p)) for split, per_class in audit.files.items() if split != "train"
              for paths in per_class.values() for p in paths
              if "train" in by_digest[audit.digest[str(p)]]]
    assert full(run(name("audit"), unusable=list(unusable), leaked=tuple(leaked)))


@needs_mirror
def test_audit_mistakes_do_not_name_the_files_it_wants(messy):
    from course_utils.methods import own_data

    audit = own_data.audit_folder(messy, verbose=False)
    unusable = sorted(Path(p).name for p, _ in audit.skipped)
    hidden = sorted(p.name for p in messy.rglob(".*"))         # hidden files are not data at all
    outcome = run(name("audit"), unusable=unusable + hidden, leaked=[])
    assert fails(outcome)
    missing_one = run(name("audit"), unusable=unusable[1:], leaked=[])
    assert fails(missing_one, "misses 1 file") and not reveals(missing_one.message, [unusable[0]])


@needs_mirror
def test_clean_split_accepts_another_seed_and_rejects_a_split_with_copies(messy):
    from course_utils.methods import own_data

    audit = own_data.audit_folder(messy, verbose=False)
    clean = own_data.split_files(audit, seed=7)
    paths = {part: [str(Path(p).relative_to(messy)) for p in getattr(clean, part).files]
             for part in ("train", "validation", "test")}
    assert full(run(name("clean_split"), split_paths=paths))
    as_found = {part: [str(Path(p).relative_to(messy)) for paths in audit.files.get(split, {}).values()
                       for p in paths]
                for part, split in (("train", "train"), ("validation", "val"), ("test", "val"))}
    assert fails(run(name("clean_split"), split_paths=as_found))        # copies across splits, val twice
    fewer = {**paths, "test": paths["test"][1:]}
    lost = run(name("clean_split"), split_paths=fewer)
    assert fails(lost, "in no split") and paths["test"][0] not in lost.message


# --- Exercises 2 and 3 --------------------------------------------------------------------------------

@pytest.fixture
def photos(monkeypatch):
    genuine(monkeypatch, capstone)
    x, y = colour_photos(10, size=SIZE, seed=3)
    monkeypatch.setattr(capstone, "_held_out_pixels", lambda size: (x, y))
    monkeypatch.setattr(capstone, "_reference_features",
                        lambda name, size, pixels: (pixels / 127.5 - 1).mean(axis=(1, 2)))
    return x, y


SIZE = 32  # the smallest photos the lesson's checks take


def frozen_base():
    base = identity_backbone(SIZE)
    base.trainable = False
    return base


def test_head_checks_accept_a_logit_head(tmp_path, photos):
    x, y = photos
    head = red_level_head(2, "separate-softmax")
    logits = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    logits.layers[-1].set_weights(red_level_head(2, "softmax").layers[-1].get_weights())
    feats = (x / 127.5 - 1).mean(axis=(1, 2))
    for h in (head, logits):
        artifacts = captured(tmp_path, base=frozen_base(), head=h, val_features=feats, val_labels=y)
        assert full(run(name("head_on_new_folder"), backbone="mobilenet_v2", **artifacts))
        assert full(run(name("head_on_held_out"), backbone="mobilenet_v2", base=artifacts["base"], head=h))


def test_head_checks_mistakes(photos):
    x, y = photos
    feats = (x / 127.5 - 1).mean(axis=(1, 2))
    head = red_level_head(2, "softmax")
    assert fails(run(name("head_on_new_folder"), backbone="mobilenet_v2", base=identity_backbone(SIZE),
                     head=head, val_features=feats, val_labels=y), "trainable")
    assert fails(run(name("head_on_new_folder"), backbone="resnet50", base=frozen_base(), head=head,
                     val_features=feats, val_labels=y), "one of")
    backwards = red_level_head(2, "softmax")
    kernel, bias = backwards.layers[-1].get_weights()
    backwards.layers[-1].set_weights([-kernel, -bias])
    assert fails(run(name("head_on_held_out"), backbone="mobilenet_v2", base=frozen_base(), head=backwards))


@pytest.mark.parametrize("preprocess", ["normalization", "rescaling"])
def test_raw_pixels_accepts_any_layer_that_preprocesses_right(tmp_path, photos, preprocess):
    """The issue's learner: Normalization(mean=127.5, variance=127.5**2) is MobileNetV2's preprocessing."""
    model = photo_model(identity_backbone(SIZE), red_level_head(2, "softmax"), preprocess, functional=True)
    artifacts = captured(tmp_path, model=model)
    assert full(run(name("raw_pixels"), backbone="mobilenet_v2", **artifacts))
    assert full(run(name("raw_pixels_on_files"), backbone="mobilenet_v2", **artifacts))


@pytest.mark.parametrize(("preprocess", "hint"), [("unit", "[0, 1]"), (None, "raw 0-255")])
def test_raw_pixels_mistakes(photos, preprocess, hint):
    """The issue's learner: pixels scaled to [0, 1] instead of [-1, 1] still classify most files; the
    base receives the wrong numbers, and both checks say so."""
    model = photo_model(identity_backbone(SIZE), red_level_head(2, "softmax"), preprocess)
    assert fails(run(name("raw_pixels"), backbone="mobilenet_v2", model=model), hint)
    assert fails(run(name("raw_pixels_on_files"), backbone="mobilenet_v2", model=model), hint)
    _ = np
