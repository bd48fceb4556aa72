"""Your own image folder, end to end (lesson 13): audit, split, read with TFDS, scale out.

- :func:`audit_folder` reads every file once before anything trains: counts per class and
  imbalance, every unreadable file by name with the reason, images converted to RGB (and
  from which mode), image sizes, exact duplicates (same bytes) within a class, across classes
  (conflicting labels) and across the folder's own splits (they leak test images into
  training). A folder that cannot be learned from (no class folder, an empty class, a single
  class, a class with too few readable images) raises
  :class:`~course_utils.images.ImageFolderError` with one message saying what to do.
- :func:`split_files` makes the fixed, seeded, stratified train/validation/test split from
  the audit (exact duplicates kept once, so no copy can sit on both sides), or keeps the
  folder's own ``train/``, ``val/``, ``test/`` (cross-split copies dropped from val/test).
- :func:`tfds_listing` reads a ``root/<split>/<class>/<image>`` folder with
  ``tfds.folder_dataset.ImageFolder``, the tensorflow-datasets tool for that layout, without
  decoding anything.
- :func:`distribution_strategy` is the one switch between one device and several
  (``tf.distribute.MirroredStrategy``).

Why the audit reads pixels with the course's reader (:func:`course_utils.images.read_images`)
and not ``tfds``' or Keras' readers: those stop at the first undecodable file, naming none,
and TFDS' ``ImageFolder`` also takes ``.ipynb_checkpoints`` for a class and ignores
``.bmp``/``.webp``/``.tif`` files without a word (checked with tensorflow-datasets 4.9.10).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from course_utils import images
from course_utils.images import FolderReport, ImageFiles, ImageFolderError

SPLIT_ALIASES = {
    "train": ("train", "training"),
    "validation": ("val", "valid", "validation"),
    "test": ("test", "testing"),
}
MIN_PER_CLASS = 3  # one readable image each for training, validation and test


@dataclass
class Audit:
    """What :func:`audit_folder` found in a folder: usable files, and everything else, by name."""

    root: Path
    class_names: list[str]
    layout: str  # "classes" (root/<class>/<image>) or "splits" (root/<split>/<class>/<image>)
    files: dict[str, dict[str, list[Path]]]  # split ("all" for a class layout) -> class -> readable files
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    converted: list[tuple[str, str]] = field(default_factory=list)  # (path, original mode)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (height, width)
    digest: dict[str, str] = field(default_factory=dict)  # path -> sha256 of the bytes
    ignored: list[str] = field(default_factory=list)  # hidden files and folders, not data
    outside: list[str] = field(default_factory=list)  # files next to the class folders, in none

    @property
    def counts(self) -> dict[str, int]:
        """Readable images per class, over all splits."""
        out = dict.fromkeys(self.class_names, 0)
        for per_class in self.files.values():
            for name, paths in per_class.items():
                out[name] += len(paths)
        return out

    @property
    def imbalance(self) -> float:
        """Images in the largest class divided by images in the smallest."""
        counts = list(self.counts.values())
        return max(counts) / max(1, min(counts))

    def duplicate_groups(self) -> list[list[str]]:
        """Groups of two or more readable files with identical bytes, each sorted by path."""
        by_hash: dict[str, list[str]] = {}
        for path, h in sorted(self.digest.items()):
            by_hash.setdefault(h, []).append(path)
        return [group for group in by_hash.values() if len(group) > 1]

    def where(self, path: str) -> tuple[str, str]:
        """``(split, class)`` of a readable file."""
        for split, per_class in self.files.items():
            for name, paths in per_class.items():
                if Path(path) in paths:
                    return split, name
        raise KeyError(path)

    def size_summary(self) -> str:
        """Smallest, median and largest image side, in pixels."""
        if not self.sizes:
            return "no readable images"
        sides = np.array(list(self.sizes.values()))
        short, long = sides.min(axis=1), sides.max(axis=1)
        return (f"shorter side {short.min()}-{short.max()} px (median {int(np.median(short))}), "
                f"longer side {long.min()}-{long.max()} px (median {int(np.median(long))})")

    def summary(self) -> str:
        """A human-readable report: counts, sizes, modes, every skipped file and duplicate."""
        counts = self.counts
        total = sum(counts.values())
        lines = [f"{self.root}: {total} readable images in {len(self.class_names)} classes"
                 + (f" (its own splits: {', '.join(self.files)})" if self.layout == "splits" else "")]
        lines += [f"  {name:20s} {n:6d}" for name, n in counts.items()]
        lines.append(f"  imbalance (largest / smallest class): {self.imbalance:.1f}x")
        lines.append(f"  sizes: {self.size_summary()}")
        if self.converted:
            modes = Counter(mode for _, mode in self.converted)
            lines.append(f"  converted to RGB: {len(self.converted)} images ("
                         + ", ".join(f"{m}: {n}" for m, n in sorted(modes.items())) + ")")
        if self.ignored:
            lines.append(f"  ignored {len(self.ignored)} hidden files/folders: "
                         + ", ".join(sorted(self.ignored)[:8]) + (" ..." if len(self.ignored) > 8 else ""))
        if self.outside:
            lines.append(f"  {len(self.outside)} files outside any class folder, not used: "
                         + ", ".join(self.outside))
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)} files that are not readable images:")
            lines += [f"    - {p}: {why}" for p, why in self.skipped]
        groups = self.duplicate_groups()
        if groups:
            lines.append(f"  exact duplicates: {len(groups)} groups of identical files")
            for group in groups[:10]:
                places = {self.where(p) for p in group}
                note = " (DIFFERENT LABELS)" if len({c for _, c in places}) > 1 else ""
                note += " (ACROSS SPLITS: leaks)" if len({s for s, _ in places}) > 1 else ""
                lines.append("    - " + " = ".join(group) + note)
        return "\n".join(lines)


def own_splits(root: Path) -> dict[str, Path] | None:
    """The folder's own splits (``{"train": root/train, "validation": root/val, ...}``), or None.

    A folder has its own splits when every (non-hidden) subfolder is a split name
    (:data:`SPLIT_ALIASES`), with a training split and a validation or test split.
    """
    root = Path(root)
    if not root.is_dir():
        raise ImageFolderError(f"image folder {root} does not exist; check the path "
                               "(an absolute one is safest)")
    subfolders = [p for p in root.iterdir() if p.is_dir() and not images.is_hidden(p.name)]
    found = {}
    for p in subfolders:
        split = next((s for s, names in SPLIT_ALIASES.items() if p.name.lower() in names), None)
        if split is None:
            return None
        found[split] = p
    if "train" not in found or len(found) < 2:
        return None
    return {s: found[s] for s in SPLIT_ALIASES if s in found}


def _hidden_entries(root: Path) -> list[str]:
    out = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if images.is_hidden(path.name) and not any(images.is_hidden(part) for part in rel.parts[:-1]):
            out.append(str(rel) + ("/" if path.is_dir() else ""))
    return out


def audit_folder(root: str | Path, min_per_class: int = MIN_PER_CLASS, workers: int | None = None,
                 verbose: bool = True) -> Audit:
    """Read every file of ``root/<class>/<image>`` (or ``root/<split>/<class>/<image>``) once.

    Returns an :class:`Audit`. Raises :class:`~course_utils.images.ImageFolderError`, one
    message saying what to do, when the folder cannot be learned from: missing, no class
    folders, an empty class folder, a single class, a class with fewer than ``min_per_class``
    readable images, or splits with different classes. Decoding runs in ``workers`` threads
    (the course's reader, so the skip reasons are the ones every lesson reports).
    """
    root = Path(root)
    splits = own_splits(root)
    sources = splits if splits is not None else {"all": root}
    class_names = None
    listing: dict[str, dict[str, list[Path]]] = {}
    for split, folder in sources.items():
        try:
            names = images.list_classes(folder)
        except ImageFolderError as exc:
            raise ImageFolderError(str(exc)) from None
        if class_names is None:
            class_names = names
        elif names != class_names:
            raise ImageFolderError(
                f"the splits of {root} have different classes: {sources['train'].name}/ has "
                f"{class_names}, {folder.name}/ has {names}; give every split the same class folders")
        listing[split] = {name: images._class_files(folder / name) for name in names}
    assert class_names is not None
    if len(class_names) < 2:
        raise ImageFolderError(
            f"{root} has a single class folder ({class_names[0]!r}): a classifier needs at least two "
            "classes. Add a folder of images per class: "
            f"{root}/<class name>/<image files>")
    outside = [str(p) for folder in {root, *sources.values()} for p in sorted(folder.iterdir())
               if p.is_file() and not images.is_hidden(p.name)]
    audit = Audit(root, class_names, "splits" if splits else "classes",
                  {s: {n: [] for n in class_names} for s in listing}, ignored=_hidden_entries(root),
                  outside=outside)
    for split, per_class in listing.items():
        for name, paths in per_class.items():
            for path, array, outcome in images.read_images(paths, None, workers=workers):
                if array is None:
                    audit.skipped.append((str(path), outcome))
                    continue
                if outcome != "RGB":
                    audit.converted.append((str(path), outcome))
                audit.sizes[str(path)] = (int(array.shape[0]), int(array.shape[1]))
                audit.digest[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
                audit.files[split][name].append(path)
    for name, n in audit.counts.items():
        if n < min_per_class:
            readable = "no readable image" if n == 0 else f"only {n} readable image{'s' * (n > 1)}"
            raise ImageFolderError(
                f"class {name!r} has {readable}; each class needs at least {min_per_class} (one each "
                "for training, validation and test). Add images to it, or remove the folder "
                f"{root}/.../{name}" + (f" ({len(audit.skipped)} files were unreadable: see "
                                        "the audit)" if audit.skipped else ""))
    if splits is not None:
        for split, per_class in audit.files.items():
            empty = [name for name, paths in per_class.items() if not paths]
            if empty:
                raise ImageFolderError(f"{sources[split]} has no readable image of class(es) "
                                       f"{', '.join(empty)}; add some, or merge the splits into one "
                                       f"folder per class and let the lesson split it")
    if verbose:
        print(audit.summary())
    return audit


@dataclass
class Split:
    """The three splits as :class:`~course_utils.images.ImageFiles`, and what was left out, by name."""

    train: ImageFiles
    validation: ImageFiles
    test: ImageFiles
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)

    def sizes(self) -> dict[str, int]:
        """Images per split."""
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}

    def leaks(self, audit: Audit) -> list[tuple[str, str]]:
        """Pairs (training file, validation or test file) with identical bytes: should be none."""
        seen = {audit.digest[str(p)]: str(p) for p in self.train.files}
        return [(seen[audit.digest[str(p)]], str(p)) for part in (self.validation, self.test)
                for p in part.files if audit.digest[str(p)] in seen]


def _files(root: Path, per_class: dict[str, list[Path]], class_names: list[str]) -> ImageFiles:
    paths = [p for name in class_names for p in per_class[name]]
    labels = np.asarray([k for k, name in enumerate(class_names) for _ in per_class[name]], np.int32)
    names = list(class_names)
    return ImageFiles(paths, labels, names, FolderReport(root=root, class_names=names))


def _unique(audit: Audit, split_order: list[str]) -> tuple[dict[str, dict[str, list[Path]]], list]:
    """Keep one copy of each group of identical files (the first in split order, then by name).

    A group spanning two classes has contradictory labels: every copy is dropped.
    """
    keep = {s: {n: [] for n in audit.class_names} for s in audit.files}
    dropped, kept_hash = [], {}
    conflicting = set()
    labels_of: dict[str, set[str]] = {}
    for split in split_order:
        for name, paths in audit.files[split].items():
            for p in paths:
                labels_of.setdefault(audit.digest[str(p)], set()).add(name)
    conflicting = {h for h, names in labels_of.items() if len(names) > 1}
    for split in split_order:
        for name in audit.class_names:
            for p in sorted(audit.files[split][name]):
                h = audit.digest[str(p)]
                if h in conflicting:
                    dropped.append((str(p), f"identical bytes in classes {sorted(labels_of[h])}"))
                elif h in kept_hash:
                    dropped.append((str(p), f"exact duplicate of {kept_hash[h]}"))
                else:
                    kept_hash[h] = str(p)
                    keep[split][name].append(p)
    return keep, dropped


def split_files(audit: Audit, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15), seed: int = 0,
                max_per_class: int | None = None) -> Split:
    """The fixed, seeded, stratified train/validation/test split (or the folder's own splits).

    Exact duplicates are kept once (reported in ``dropped``), so no image can be in two splits.
    With a class layout, each class is shuffled with ``seed`` and cut by ``fractions``, at
    least one image per split; ``max_per_class`` first takes a seeded sample of each class
    (a profile's size). With the folder's own splits, those are kept (a missing test split
    is cut from validation in half, seeded), ``max_per_class`` caps each split per class.
    """
    if abs(sum(fractions) - 1) > 1e-6 or min(fractions) <= 0:
        raise ValueError(f"fractions {fractions} should be three positive numbers summing to 1")
    order = ["train", "validation", "test"] if audit.layout == "splits" else ["all"]
    order = [s for s in order if s in audit.files]
    unique, dropped = _unique(audit, order)
    parts: dict[str, dict[str, list[Path]]] = {s: {} for s in ("train", "validation", "test")}
    for k, name in enumerate(audit.class_names):
        rng = np.random.default_rng([seed, k])
        if audit.layout == "classes":
            paths = unique["all"][name]
            paths = [paths[i] for i in rng.permutation(len(paths))]
            if max_per_class is not None:
                paths = paths[:max_per_class]
            n = len(paths)
            if n < 3:
                raise ImageFolderError(f"class {name!r} has {n} distinct readable images after removing "
                                       "exact duplicates; it needs at least 3. Add images to it")
            n_val = max(1, int(round(fractions[1] * n)))
            n_test = max(1, int(round(fractions[2] * n)))
            parts["validation"][name] = paths[:n_val]
            parts["test"][name] = paths[n_val:n_val + n_test]
            parts["train"][name] = paths[n_val + n_test:]
        else:
            for split in order:
                paths = unique[split][name]
                paths = [paths[i] for i in rng.permutation(len(paths))]
                parts[split][name] = paths[:max_per_class] if max_per_class else paths
            if "test" not in order:
                val = parts["validation"][name]
                half = len(val) // 2
                parts["validation"][name] = val[:len(val) - half]
                parts["test"][name] = val[len(val) - half:]
            elif "validation" not in order:
                test = parts["test"][name]
                half = len(test) // 2
                parts["test"][name] = test[:len(test) - half]
                parts["validation"][name] = test[len(test) - half:]
        for split in parts:
            if not parts[split][name]:
                raise ImageFolderError(f"class {name!r} has no distinct image left for the {split} split; "
                                       "add images to it")
    return Split(*(_files(audit.root, parts[s], audit.class_names) for s in ("train", "validation", "test")),
                 dropped=dropped)


def tfds_listing(root: str | Path) -> dict[str, ImageFiles]:
    """Read ``root/<split>/<class>/<image>`` with ``tfds.folder_dataset.ImageFolder``, decoding nothing.

    TFDS lists the splits, the class names (sorted) and every ``.jpg``/``.jpeg``/``.png`` file;
    ``tfds.decode.SkipDecoding`` gives the file names without reading pixels, so the course's
    reader decodes them later and names any bad file (TFDS' own decoding stops at the first
    one). Hidden folders TFDS would take for classes (``.ipynb_checkpoints``) are left out.
    Returns one :class:`~course_utils.images.ImageFiles` per split, ordered by file name.
    """
    import tensorflow_datasets as tfds

    builder = tfds.folder_dataset.ImageFolder(str(root))
    names = [n for n in builder.info.features["label"].names if not images.is_hidden(n)]
    out = {}
    for split in builder.info.splits:
        if images.is_hidden(split):
            continue
        ds = builder.as_dataset(split=split, decoders={"image": tfds.decode.SkipDecoding()})
        rows = []
        for example in ds.as_numpy_iterator():
            path = Path(example["image/filename"].decode())
            label = builder.info.features["label"].int2str(int(example["label"]))
            if not images.is_hidden(label) and not images.is_hidden(path.name):
                rows.append((path, names.index(label)))
        rows.sort(key=lambda r: (r[1], str(r[0])))
        out[split] = ImageFiles([p for p, _ in rows], np.asarray([k for _, k in rows], np.int32), names,
                                FolderReport(root=Path(root) / split, class_names=names))
    return out


def distribution_strategy(devices: list[str] | None = None):
    """``MirroredStrategy`` over ``devices`` (or every GPU, when there are several), else the default.

    Build and compile models inside ``strategy.scope()``; ``fit`` then splits each batch across
    the replicas and averages their gradients. On one device (a laptop) the default strategy
    changes nothing, so the lesson's code is the same everywhere.
    """
    import tensorflow as tf

    if devices:
        return tf.distribute.MirroredStrategy(devices)
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def per_class_recall(cm: np.ndarray) -> np.ndarray:
    """The share of each true class predicted as itself (NaN for a class with no image)."""
    totals = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(cm) / np.maximum(totals, 1), np.nan)


def confident_mistakes(probabilities, y_true, k: int = 8) -> np.ndarray:
    """Indices of the ``k`` wrong predictions with the highest confidence, most confident first."""
    p = np.asarray(probabilities)
    pred = p.argmax(axis=1)
    wrong = np.flatnonzero(pred != np.asarray(y_true))
    return wrong[np.argsort(-p[wrong, pred[wrong]], kind="stable")][:k]


def preprocessing_layer(backbone: str):
    """Backbone ``backbone``'s ``preprocess_input`` as a Keras layer, so a saved model takes raw 0-255 pixels.

    MobileNet, MobileNetV2 and Xception scale to [-1, 1] (``Rescaling(1/127.5, offset=-1)``);
    EfficientNet and MobileNetV3 rescale inside the network (an identity layer here). Other
    backbones (ResNet50's caffe-style BGR) raise ``ValueError``.
    """
    import keras

    from course_utils import backbones

    spec = backbones.get(backbone)
    if spec.module in ("mobilenet", "mobilenet_v2", "xception"):
        return keras.layers.Rescaling(1 / 127.5, offset=-1, name=f"{spec.module}_preprocess")
    if spec.module in ("efficientnet", "mobilenet_v3"):
        return keras.layers.Identity(name=f"{spec.module}_preprocess")
    raise ValueError(f"no preprocessing layer for {backbone!r} ({spec.input_range}); choose a MobileNet, "
                     "MobileNetV2, EfficientNet or MobileNetV3 backbone")


def predict_files(model, files, image_size: int, batch_size: int = 32, report: FolderReport | None = None
                  ) -> tuple[np.ndarray, list[int]]:
    """The model's outputs on image files, streamed in batches: ``(outputs, rows read)``.

    Raw 0-255 pixels go in (the model carries its preprocessing); memory holds a few batches.
    ``rows`` are the positions in ``files`` of the readable images, in order.
    """
    from course_utils import features

    forward = features.forward_function(model, None, "uint8")
    out, rows = [], []
    for x, _, r in images.image_batches(list(files), image_size, batch_size, report=report):
        out.append(np.asarray(forward(x)))
        rows += r
    if not out:
        return np.zeros((0, *model.output_shape[1:]), np.float32), rows
    return np.concatenate(out), rows


def messy_copy(source: str | Path, target: str | Path, per_class: int = 12, seed: int = 0) -> Path:
    """Copy a seeded sample of an image folder and spoil it the way real folders get spoilt.

    For exercises and tests: ``per_class`` image files per class (and split) are copied (other
    files of the source are not), then, in
    seeded places, a zero-byte file, a truncated JPEG, a text file, a hidden
    ``.ipynb_checkpoints`` folder, a ``__MACOSX`` folder, a grayscale copy with an upper-case
    extension and, for a folder with its own splits, two training images copied into the other
    splits under new names (leaks). The same arguments always build the same folder.
    """
    import shutil

    source, target = Path(source), Path(target)
    splits = own_splits(source) or {"": source}
    rng = np.random.default_rng(seed)
    picked: dict[str, dict[str, list[Path]]] = {}
    for split, folder in splits.items():
        dst = target / folder.name if split else target
        picked[split] = {}
        for cls in images.list_classes(folder):
            files = [f for f in images._class_files(folder / cls)
                     if f.suffix.lower() in images.IMAGE_EXTENSIONS]
            chosen = sorted(rng.choice(len(files), min(per_class, len(files)), replace=False))
            (dst / cls).mkdir(parents=True, exist_ok=True)
            picked[split][cls] = []
            for i in chosen:
                shutil.copy(files[i], dst / cls / files[i].name)
                picked[split][cls].append(dst / cls / files[i].name)
    first = next(iter(picked))
    classes = sorted(picked[first])
    spoil = picked[first][classes[int(rng.integers(len(classes)))]]
    folder = spoil[0].parent
    (folder / "IMG_0000.jpg").write_bytes(b"")
    data = spoil[1].read_bytes()
    (folder / "photo_cut.jpg").write_bytes(data[: len(data) // 3])
    (folder / "readme.txt").write_text("photos from the field trip\n")
    (folder / ".ipynb_checkpoints").mkdir(exist_ok=True)
    shutil.copy(spoil[2], folder / ".ipynb_checkpoints" / spoil[2].name)
    (target / "__MACOSX").mkdir(exist_ok=True)
    (target / "__MACOSX" / f"._{spoil[0].name}").write_bytes(b"\x00\x05\x16\x07")
    from PIL import Image

    other = picked[first][classes[-1]]
    with Image.open(other[0]) as img:
        img.convert("L").save(other[0].parent / "SCAN_GRAY.PNG")
    later = [s for s in picked if s != first]
    for k, split in enumerate(later[:2] * (2 // max(1, len(later[:2])))):
        cls = classes[int(rng.integers(len(classes)))]
        src = picked[first][cls][3 + k]
        shutil.copy(src, picked[split][cls][0].parent / f"copy_{k}_{src.name}")
    return target
