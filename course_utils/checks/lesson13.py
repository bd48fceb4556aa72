"""Checks for lesson 13 (your own images, end to end): audit, the recipe on a new folder, shipping.

The folder the exercises use is ants vs bees (``hymenoptera``: its own ``train/`` and ``val/``),
which the lesson did not use. Hidden checks rebuild what they trust: the spoilt copy of that folder
from the same source and seed, the held-out half of its validation split, and the features of
their own copy of the named ImageNet backbone.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.checks.common import (
    as_array,
    find_backbone,
    majority_accuracy,
    model_accuracy,
    photo_inputs,
    predict_outputs,
    require_backbone_drives_predictions,
    require_imagenet_backbone,
    require_model,
    require_preprocessed_once,
)
from course_utils.checks.registry import CheckFailed, lesson_checks

register = lesson_checks(__name__)

DATASET = "hymenoptera"
CANDIDATES = ("mobilenet_v2", "mobilenet_025")
MESSY_PER_CLASS = 12  # the exercise's spoilt copy: images per class and split
MESSY_SEED = 11
LESSON_SEED = 42
MIN_ACCURACY = 0.80
HELD_OUT = 80  # held-out images the hidden checks classify (at most: the test half has ~76)


def _names(value: Any, name: str) -> list[str]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise CheckFailed(f"`{name}` should be a list of file names, got {type(value).__name__}")
    out = [str(v) for v in value]
    if any("/" in v or "\\" in v for v in out):
        raise CheckFailed(f"`{name}` should hold file names only (Path(p).name), not paths")
    return sorted(out)


def _truth(folder: Path) -> tuple[list[str], list[str]]:
    """(unusable file names, names of validation/test files identical to a training file)."""
    from course_utils.methods import own_data

    audit = own_data.audit_folder(folder, verbose=False)
    unusable = sorted(Path(p).name for p, _ in audit.skipped)
    train = {audit.digest[str(p)] for paths in audit.files.get("train", {}).values() for p in paths}
    leaked = sorted(Path(p).name for split, per_class in audit.files.items() if split != "train"
                    for paths in per_class.values() for p in paths if audit.digest[str(p)] in train)
    return unusable, leaked


def _compare(what: str, got: list[str], want: list[str]) -> None:
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    if missing:
        raise CheckFailed(f"`{what}` misses {len(missing)} file(s); look at every line of the audit's "
                          "summary")
    if extra:
        raise CheckFailed(f"`{what}` lists {extra[0]!r}, which is not one (hidden files and folders are "
                          "ignored, not unusable; converted images are usable)")


@functools.lru_cache(maxsize=1)
def rebuilt_folder() -> Path:
    """The check's own copy of the exercise's spoilt folder: same source, same seed, same files."""
    from course_utils import datasets
    from course_utils.methods import own_data

    target = Path(tempfile.mkdtemp(prefix="check13-")) / "messy"
    return own_data.messy_copy(datasets.dataset_root(DATASET), target, MESSY_PER_CLASS, MESSY_SEED)


@register("audit", points=2)
def audit(unusable: Any, leaked: Any) -> None:
    """The unusable files and the cross-split copies of the spoilt folder, by file name.

    Compared with the check's own audit of its own copy of the folder (rebuilt from the same
    source and seed), never with the student's folder.
    """
    want_unusable, want_leaked = _truth(rebuilt_folder())
    _compare("unusable", _names(unusable, "unusable"), want_unusable)
    _compare("leaked", _names(leaked, "leaked"), want_leaked)


@register("clean_split", points=2)
def clean_split(split_paths: Any) -> None:
    """Hidden: the split of the spoilt folder uses every distinct readable image once, and leaks none.

    ``split_paths`` maps train/validation/test to paths relative to the folder; the check reads
    the bytes of those paths in its own copy of the folder.
    """
    from course_utils.methods import own_data

    root = rebuilt_folder()
    if not isinstance(split_paths, dict) or set(split_paths) != {"train", "validation", "test"}:
        raise CheckFailed("`split_paths` should map 'train', 'validation' and 'test' to lists of paths "
                          "relative to the folder (str(p.relative_to(messy)))")
    audit = own_data.audit_folder(root, verbose=False)
    digest = {str(Path(p).relative_to(root)): h for p, h in audit.digest.items()}
    skipped = {str(Path(p).relative_to(root)) for p, _ in audit.skipped}
    seen: dict[str, str] = {}
    for part in ("train", "validation", "test"):
        paths = [str(p) for p in split_paths[part]]
        if not paths:
            raise CheckFailed(f"the {part} split is empty")
        for rel in paths:
            if rel in skipped:
                raise CheckFailed(f"{rel} is in your {part} split, but it is not a readable image")
            if rel not in digest:
                raise CheckFailed(f"{rel} (in your {part} split) is not an image of the folder; give "
                                  "paths relative to it, e.g. 'train/ants/xyz.jpg'")
            h = digest[rel]
            if h in seen:
                raise CheckFailed(f"{rel} ({part}) has the same bytes as {seen[h]}: the same image twice, "
                                  "and across splits a leak; keep one copy")
            seen[h] = f"{rel} ({part})"
    missing = sorted(rel for rel, h in digest.items() if h not in seen)
    if missing:
        raise CheckFailed(f"{len(missing)} readable image(s) are in no split: nothing usable should be "
                          "lost")


def _backbone_name(value: Any) -> str:
    if not isinstance(value, str) or value not in CANDIDATES:
        raise CheckFailed(f"`BACKBONE` should name the candidate you chose, one of {list(CANDIDATES)}; "
                          f"got {value!r}")
    return value


def _size(base: Any) -> int:
    shape = base.input_shape
    if len(shape) != 4 or not shape[1] or not 32 <= int(shape[1]) <= 320:
        raise CheckFailed(f"`base` should take photos (None, size, size, 3), got {shape}")
    return int(shape[1])


@register("head_on_new_folder", points=2)
def head_on_new_folder(backbone: Any, base: Any, head: Any, val_features: Any, val_labels: Any) -> None:
    """The chosen base is a frozen, pooled ImageNet backbone; the head scores >= 0.80 on validation."""
    name = _backbone_name(backbone)
    require_model(base, "base")
    require_model(head, "head")
    if base.trainable_weights:
        raise CheckFailed("`base` has trainable weights; freeze the whole base before computing features")
    if len(base.output_shape) != 2:
        raise CheckFailed("`base` outputs a feature map; load it with pooling='avg'")
    require_imagenet_backbone(base, name, "base")
    feats = as_array(val_features, "val_features")
    if head.input_shape[-1] != base.output_shape[-1] or feats.shape[-1] != base.output_shape[-1]:
        raise CheckFailed(f"the head takes {head.input_shape[-1]} numbers and the features have "
                          f"{feats.shape[-1]}; {name} gives {base.output_shape[-1]}: train the head on "
                          "the features of the backbone you chose")
    if predict_outputs(head, feats[:4]).shape[1] != 2:
        raise CheckFailed("the head should output one number per class for each photo; ants vs bees has "
                          "2 classes")
    accuracy = model_accuracy(head, feats, np.asarray(val_labels))
    if accuracy < MIN_ACCURACY:
        raise CheckFailed(f"the head scores {accuracy:.2f} on your validation features; expected >= "
                          f"{MIN_ACCURACY}. Did early stopping keep the best epoch "
                          "(restore_best_weights=True)?")


@functools.lru_cache(maxsize=1)
def held_out_files() -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The check's own images: the test half the seeded split cuts from ants vs bees' val/ folder."""
    from course_utils import datasets
    from course_utils.methods import own_data

    audit = own_data.audit_folder(datasets.dataset_root(DATASET), verbose=False)
    test = own_data.split_files(audit, seed=LESSON_SEED).test
    order = np.random.default_rng(2024).permutation(len(test))[:HELD_OUT]
    return tuple(str(test.files[i]) for i in order), tuple(int(test.labels[i]) for i in order)


def _held_out_pixels(size: int) -> tuple[np.ndarray, np.ndarray]:
    from course_utils import images

    files, labels = held_out_files()
    pixels = np.stack([images.read_image(Path(f), size)[0] for f in files]).astype("float32")
    return pixels, np.asarray(labels)


@functools.lru_cache(maxsize=2)
def _reference_base(name: str, size: int) -> Any:
    from course_utils import backbones

    return backbones.load_backbone(name, size, pooling="avg", verbose=False)


def _reference_features(name: str, size: int, pixels: np.ndarray) -> np.ndarray:
    from course_utils import backbones

    return np.asarray(_reference_base(name, size).predict(backbones.preprocess(name, pixels), verbose=0))


@register("head_on_held_out", points=2)
def head_on_held_out(backbone: Any, base: Any, head: Any) -> None:
    """Hidden: on the held-out images, features by the check's own backbone, the head scores >= 0.80."""
    name = _backbone_name(backbone)
    require_model(head, "head")
    require_imagenet_backbone(base, name, "base")
    pixels, labels = _held_out_pixels(_size(base))
    accuracy = model_accuracy(head, _reference_features(name, _size(base), pixels), labels)
    floor = max(MIN_ACCURACY, majority_accuracy(labels) + 0.15)
    if accuracy < floor - 1e-9:
        raise CheckFailed(f"on {len(labels)} held-out images your head scores {accuracy:.3f} on {name}'s "
                          f"features; expected >= {floor:.3f}")


@register("raw_pixels", points=2)
def raw_pixels(model: Any, backbone: Any) -> None:
    """`model` takes raw 0-255 photos: what reaches the base is the backbone's own preprocessing of
    them, whatever layer computes it (``Rescaling``, ``Normalization``...); two class outputs."""
    name = _backbone_name(backbone)
    require_model(model, "model")
    if len(model.input_shape) != 4:
        raise CheckFailed(f"`model` takes {model.input_shape}; it should take photos (None, size, size, 3)")
    base = find_backbone(model, "model")
    require_imagenet_backbone(base, name, "the base inside `model`")
    require_preprocessed_once(model, base, name, _size(model), "model")
    if predict_outputs(model, photo_inputs(_size(model), n=2)).shape[1] != 2:
        raise CheckFailed("`model` should output one number per class for each photo; ants vs bees has "
                          "2 classes")


@register("raw_pixels_on_files", points=2)
def raw_pixels_on_files(model: Any, backbone: Any) -> None:
    """Hidden: the held-out image files, decoded to raw pixels, are classified >= 0.80 by `model`."""
    name = _backbone_name(backbone)
    require_model(model, "model")
    base = find_backbone(model, "model")
    require_imagenet_backbone(base, name, "the base inside `model`")
    pixels, labels = _held_out_pixels(_size(model))
    require_backbone_drives_predictions(model, pixels, name, "model")
    require_preprocessed_once(model, base, name, _size(model), "model")
    accuracy = model_accuracy(model, pixels, labels)
    if accuracy < MIN_ACCURACY:
        raise CheckFailed(f"fed raw 0-255 pixels of {len(labels)} held-out files, `model` scores "
                          f"{accuracy:.2f}; expected >= {MIN_ACCURACY}: is the preprocessing inside it, "
                          "once?")
