"""The course's datasets: a registry (mirror, cache, official download) and loaders.

Image folders load as NumPy arrays (decoded once, bad files reported) and as
``tf.data`` pipelines (cached, shuffled with a seed, batched, prefetched).
Array datasets load as NumPy with ``allow_pickle=False``; sets of the TensorFlow Datasets
catalogue load with ``tfds.load`` from an offline copy (:func:`tfds_load`). Three embedded sets
need no mirror and no network: scikit-learn's digits, printed digits rendered
from matplotlib's bundled fonts, and MNIST-M-style digits blended over
``skimage.data`` photos.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from course_utils import assets, catalog
from course_utils.images import FolderReport, list_classes, load_image_folder

DATASETS = catalog.DATASETS  # name -> asset; the table itself is in catalog.py

# ---------------------------------------------------------------- image folders

# Folder-per-split datasets: the course's split name -> the folder on disk.
SPLIT_FOLDERS = {
    "cats_and_dogs": {"train": "train", "validation": "validation", "test": "validation"},
    "hymenoptera": {"train": "train", "validation": "val", "test": "val"},
}
# These two ship only train and validation folders. A fixed, seeded share of each class's
# validation folder is held out as "test" (the TensorFlow tutorial moves part of cats vs dogs'
# validation photos into a test set the same way): 200 photos per class for cats vs dogs, enough
# to tell a weak model from a coin flip; "validation" is the rest. The two never overlap, so a
# number chosen on "validation" can be reported honestly on "test", and a grader can score on
# photos a learner never trained or selected on.
HELD_OUT_TEST = {"cats_and_dogs": 0.4, "hymenoptera": 0.5}
# Datasets without predefined splits get fixed, seeded ones (same seed for everyone).
SPLIT_SEED = 1234
SPLIT_FRACTIONS = {"train": 0.7, "validation": 0.15, "test": 0.15}


@dataclass
class ImageSet:
    """Images (uint8, N x H x W x 3), integer labels and class names, plus the read report."""

    x: np.ndarray
    y: np.ndarray
    class_names: list[str]
    report: FolderReport | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.y)

    def as_dataset(self, batch_size: int = 32, shuffle: bool = False, seed: int = 0):
        """Return these images as a cached, batched, prefetched ``tf.data.Dataset``."""
        return to_dataset(self.x, self.y, batch_size=batch_size, shuffle=shuffle, seed=seed)


def dataset_root(name: str, download: bool = True) -> Path:
    """Return the local folder of a registered dataset (mirror, cache, or downloaded)."""
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return assets.ensure(DATASETS[name], download=download)


def split_files(folder: Path, split: str, seed: int = SPLIT_SEED) -> dict[str, list[Path]]:
    """Return a fixed, seeded ``train``/``validation``/``test`` share of each class's files."""
    if split not in SPLIT_FRACTIONS:
        raise ValueError(f"split must be one of {list(SPLIT_FRACTIONS)}, not {split!r}")
    out = {}
    for i, name in enumerate(list_classes(folder)):
        files = sorted(p for p in (folder / name).iterdir() if p.is_file())
        order = np.random.default_rng(seed + i).permutation(len(files))
        n_train = int(round(SPLIT_FRACTIONS["train"] * len(files)))
        n_val = int(round(SPLIT_FRACTIONS["validation"] * len(files)))
        bounds = {"train": (0, n_train), "validation": (n_train, n_train + n_val),
                  "test": (n_train + n_val, len(files))}[split]
        out[name] = [files[j] for j in sorted(order[bounds[0]:bounds[1]])]
    return out


def held_out_files(folder: Path, split: str, fraction: float,
                   seed: int = SPLIT_SEED) -> dict[str, list[Path]]:
    """Return the ``validation`` or ``test`` part of a validation folder, per class.

    ``test`` is a fixed, seeded ``fraction`` of each class's files (the same for everyone),
    ``validation`` the remaining files; together they are the whole folder, with no overlap.
    """
    if split not in ("validation", "test"):
        raise ValueError(f"a held-out split is 'validation' or 'test', not {split!r}")
    out = {}
    for i, name in enumerate(list_classes(folder)):
        files = sorted(p for p in (folder / name).iterdir()
                       if p.is_file() and not p.name.startswith("."))
        order = np.random.default_rng(seed + i).permutation(len(files))
        n_test = int(round(fraction * len(files)))
        chosen = order[:n_test] if split == "test" else order[n_test:]
        out[name] = [files[j] for j in sorted(chosen)]
    return out


def load_images(
    name: str,
    split: str = "train",
    image_size: int = 160,
    per_class: int | None = None,
    seed: int = 0,
    domain: str | None = None,
    verbose: bool = True,
) -> ImageSet:
    """Load an image dataset split as NumPy (``domain`` picks a PACS domain).

    Every image dataset has ``train``, ``validation`` and ``test`` splits, never overlapping:
    folders where the dataset ships them, a fixed held-out share of the validation folder for
    ``test`` (:data:`HELD_OUT_TEST`), fixed seeded splits otherwise (:func:`split_files`).
    ``per_class`` takes a seeded sample of that many images per class; bad files
    are skipped and reported, never silently dropped.
    """
    root = dataset_root(name)
    if name == "pacs":
        if domain is None:
            raise ValueError("PACS needs domain=: one of photo, art_painting, cartoon, sketch")
        root = root / domain
    if name in SPLIT_FOLDERS:
        if split not in SPLIT_FOLDERS[name]:
            raise ValueError(f"{name} has splits {list(SPLIT_FOLDERS[name])}, not {split!r}")
        folder, files = root / SPLIT_FOLDERS[name][split], None
        if name in HELD_OUT_TEST and split in ("validation", "test"):
            files = held_out_files(folder, split, HELD_OUT_TEST[name])
    elif name in ("flowers", "pacs"):
        folder, files = root, split_files(root, split)
    else:
        raise ValueError(f"{name} is not an image-folder dataset; see load_arrays()")
    x, y, report = load_image_folder(folder, image_size, per_class=per_class, seed=seed,
                                     files=files, verbose=verbose)
    return ImageSet(x, y, report.class_names, report)


def to_dataset(x, y=None, batch_size: int = 32, shuffle: bool = False, seed: int = 0):
    """Wrap arrays in a ``tf.data`` pipeline: cached, (seeded) shuffled, batched, prefetched."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y)).cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------- arrays


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` file with ``allow_pickle=False``, with a clear error."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as exc:
        raise ValueError(
            f"{path} holds pickled objects, which the course never loads (they can run code); "
            f"use a plain-array .npz ({exc})"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a readable .npz file ({exc}); fetch it again") from None


def load_arrays(name: str, seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
    """Load a digit or X-ray dataset as ``x_train, y_train, x_test, y_test`` (and ``x_val``...).

    MNIST's training digits in the mirror are sorted by class: they come back
    shuffled with a fixed seed. MNIST-M gets a fixed, seeded train/test split.
    """
    root = dataset_root(name)
    if name == "mnist":
        d = load_npz(root / "mnist.npz")
        order = np.random.default_rng(seed).permutation(len(d["y_train"]))
        d["x_train"], d["y_train"] = d["x_train"][order], d["y_train"][order]
        return d
    if name == "usps":
        return load_npz(root / "usps.npz")
    if name == "mnist_m":
        d = load_npz(root / "mnist_m.npz")
        order = np.random.default_rng(seed).permutation(len(d["y"]))
        n_test = len(order) // 5
        test, train = order[:n_test], order[n_test:]
        return {"x_train": d["x"][train], "y_train": d["y"][train],
                "x_test": d["x"][test], "y_test": d["y"][test]}
    if name == "pneumonia":
        d = load_npz(root / "pneumoniamnist.npz")
        out = {}
        for split, short in (("train", "train"), ("val", "val"), ("test", "test")):
            out[f"x_{short}"] = d[f"{split}_images"]
            out[f"y_{short}"] = d[f"{split}_labels"].reshape(-1)
        return out
    raise ValueError(f"{name} is not an array dataset; see load_images()")


# ---------------------------------------------------------------- the TensorFlow Datasets catalogue


def tfds_load(name: str, split: str, **kwargs: Any) -> Any:
    """Load a TensorFlow Datasets set with ``tfds.load``, from the course's offline copy.

    The course wraps ``tfds.load`` only to resolve ``data_dir`` offline: it passes
    ``data_dir=<the first prepared copy>, download=False`` (a copy in ``$COURSE_MIRROR`` or your
    cache, :func:`course_utils.tfds_sets.locate`), so a lesson never waits for a network. With no
    copy, the set is prepared into the cache first by TFDS' own builder, from TFDS' original files
    where they are on disk (Debian's ``dataset-fashion-mnist``) or else downloaded; offline with
    neither, :class:`course_utils.assets.AssetMissingError` says what is missing and what to run.
    Other keyword arguments (``as_supervised``, ``with_info``, ...) go to ``tfds.load``.
    """
    from course_utils import tfds_sets

    return tfds_sets.load(name, split, **kwargs)


# ---------------------------------------------------------------- embedded sets (no mirror)


def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """Return scikit-learn's 1,797 8x8 digits as uint8 0-255 images and labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.round(d.images / 16 * 255).astype(np.uint8), d.target.astype(np.uint8)


DIGIT_NAMES = "zero one two three four five six seven eight nine".split()


def digit_fonts() -> list[Path]:
    """Return matplotlib's bundled TrueType fonts that have glyphs for all ten digits."""
    import matplotlib
    from matplotlib.ft2font import FT2Font

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    good = []
    for path in sorted(folder.glob("*.ttf")):
        try:
            font = FT2Font(str(path))
            indices = [font.get_char_index(ord(c)) for c in "0123456789"]
            # A glyph index alone is not enough: symbol fonts (cmsy10, cmex10, LastResort)
            # map the digit code points to other shapes. Real digits are named "zero", "one"...
            names = [font.get_glyph_name(i) if i else "" for i in indices]
            if all(g.startswith(n) for g, n in zip(names, DIGIT_NAMES, strict=True)):
                good.append(path)
        except Exception:  # unreadable font file: not usable
            continue
    return good


def printed_digits(per_class: int = 100, size: int = 28, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Render digits 0-9 from matplotlib's fonts: white on black, jittered (synthetic data).

    Each image uses a random font, size, rotation and offset, so the set has real
    variety; it needs no mirror and no network.
    """
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    fonts = digit_fonts()
    canvas = size * 2
    xs, ys = [], []
    for digit in range(10):
        for _ in range(per_class):
            font = ImageFont.truetype(str(fonts[rng.integers(len(fonts))]),
                                      int(canvas * rng.uniform(0.55, 0.8)))
            img = Image.new("L", (canvas, canvas), 0)
            draw = ImageDraw.Draw(img)
            box = draw.textbbox((0, 0), str(digit), font=font)
            w, h = box[2] - box[0], box[3] - box[1]
            offset = rng.uniform(-0.08, 0.08, size=2) * canvas
            pos = ((canvas - w) / 2 - box[0] + offset[0], (canvas - h) / 2 - box[1] + offset[1])
            draw.text(pos, str(digit), fill=255, font=font)
            img = img.rotate(rng.uniform(-15, 15), resample=Image.BILINEAR)
            xs.append(np.asarray(img.resize((size, size), Image.BILINEAR)))
            ys.append(digit)
    order = rng.permutation(len(ys))
    return np.stack(xs)[order], np.asarray(ys, dtype=np.uint8)[order]


def background_photos() -> list[np.ndarray]:
    """Return colour photos shipped inside scikit-image (used as MNIST-M-style backgrounds)."""
    from skimage import data

    names = ["astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field",
             "immunohistochemistry"]
    photos = []
    for n in names:
        try:
            photos.append(np.asarray(getattr(data, n)())[..., :3])
        except Exception:  # an image that would need a download: skip it
            continue
    return photos


def mnist_m_style(digits: np.ndarray, seed: int = 0) -> np.ndarray:
    """Blend grayscale digits over random patches of colour photos, as MNIST-M does.

    ``out = |patch - digit|`` per channel (Ganin & Lempitsky 2015), so the digit
    keeps its shape while colour and texture change: a domain shift you can
    turn on with one function call. Returns uint8 N x H x W x 3.
    """
    rng = np.random.default_rng(seed)
    photos = background_photos()
    digits = np.asarray(digits)
    n, h, w = digits.shape[:3]
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    for i in range(n):
        photo = photos[rng.integers(len(photos))]
        top = rng.integers(photo.shape[0] - h)
        left = rng.integers(photo.shape[1] - w)
        patch = photo[top:top + h, left:left + w].astype(np.int16)
        out[i] = np.abs(patch - digits[i].astype(np.int16)[..., None]).astype(np.uint8)
    return out


def package_photos(image_size: int | None = None) -> dict[str, np.ndarray]:
    """Return sample photos shipped in scikit-image / scikit-learn (no mirror needed)."""
    from PIL import Image
    from skimage import data
    from sklearn.datasets import load_sample_images

    photos = {n: np.asarray(getattr(data, n)())[..., :3]
              for n in ("astronaut", "chelsea", "coffee", "rocket")}
    sample = load_sample_images()
    for fname, img in zip(sample.filenames, sample.images, strict=True):
        photos[Path(fname).stem] = img
    if image_size:
        photos = {k: np.asarray(Image.fromarray(v).resize((image_size, image_size)))
                  for k, v in photos.items()}
    return photos


def load_photos(image_size: int = 224) -> dict[str, np.ndarray]:
    """Return the sample photos (mirror or cache), else those shipped inside packages."""
    from course_utils.images import read_image

    found = assets.locate(DATASETS["photos"])
    if found is None:
        return package_photos(image_size)
    return {p.stem: read_image(p, image_size)[0] for p in sorted(found.path.glob("*.jpg"))}


# ---------------------------------------------------------------- sentiment sentences

# Each sentiment set: its registry entry and the files it is read from.
SENTENCE_SETS = {
    "amazon": ("uci_sentences", "Amazon product reviews (UCI)"),
    "yelp": ("uci_sentences", "Yelp restaurant reviews (UCI)"),
    "imdb": ("uci_sentences", "IMDB movie reviews (UCI)"),
    "rt_polarity": ("rt_polarity", "Rotten Tomatoes snippets (Pang & Lee)"),
    "sst2": ("sst2", "SST-2 movie-review sentences"),
    "airline_tweets": ("tweets_airline", "US airline tweets"),
}
UCI_FILES = {"amazon": "amazon_cells_labelled.txt", "yelp": "yelp_labelled.txt", "imdb": "imdb_labelled.txt"}
SST2_SPLITS = ("train", "dev", "test")
C1_CONTROLS = "".join(chr(c) for c in range(0x80, 0xA0))


@dataclass
class TextReport:
    """What reading a sentiment file found: every line kept, repaired, or left out, and why."""

    source: str
    lines: int = 0
    kept: int = 0
    empty: list[int] = field(default_factory=list)
    """1-based line numbers of empty (or whitespace-only) lines: nothing to classify."""
    repaired: list[int] = field(default_factory=list)
    """Lines whose C1 control characters (cp1252 punctuation read as Latin-1) were repaired."""
    undecodable: list[int] = field(default_factory=list)
    """Lines with bytes the file's encoding does not define, kept with U+FFFD in their place."""
    malformed: list[tuple[int, str]] = field(default_factory=list)
    """(line, why) for lines without a usable label: left out, and listed here."""
    left_out: dict[str, int] = field(default_factory=dict)
    """Rows left out by design, by reason (e.g. neutral tweets in a negative-vs-positive task)."""

    def summary(self) -> str:
        """One line: how many sentences were kept and what happened to the others."""
        parts = [f"{self.source}: {self.kept} sentences from {self.lines} lines"]
        if self.empty:
            parts.append(f"{len(self.empty)} empty line(s) skipped (line {_lines(self.empty)})")
        if self.repaired:
            parts.append(f"{len(self.repaired)} line(s) with C1 control characters repaired as "
                         f"cp1252 punctuation (line {_lines(self.repaired)})")
        if self.undecodable:
            parts.append(f"{len(self.undecodable)} line(s) with undecodable bytes kept as U+FFFD "
                         f"(line {_lines(self.undecodable)})")
        if self.malformed:
            parts.append(f"{len(self.malformed)} malformed line(s) left out: "
                         + "; ".join(f"line {n}: {why}" for n, why in self.malformed[:3]))
        for reason, count in self.left_out.items():
            parts.append(f"{count} left out: {reason}")
        return ", ".join(parts)


def _lines(numbers: list[int], show: int = 5) -> str:
    text = ", ".join(map(str, numbers[:show]))
    return text + (f" and {len(numbers) - show} more" if len(numbers) > show else "")


@dataclass
class SentenceSet:
    """Sentences, their 0/1 sentiment labels (1 = positive), and the read reports."""

    name: str
    texts: list[str]
    y: np.ndarray
    reports: list[TextReport] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.y)

    def take(self, index) -> SentenceSet:
        """Return the sentences at ``index`` (an integer array) as a new set."""
        index = np.asarray(index, dtype=int)
        return SentenceSet(self.name, [self.texts[i] for i in index], self.y[index], self.reports)


def repair_c1(text: str) -> tuple[str, bool]:
    """Replace C1 control characters (U+0080-U+009F) by the cp1252 characters they stand for.

    Text written in Windows-1252 and read as Latin-1 turns its curly quotes, dashes and
    ellipses into invisible C1 controls (``\\x96`` for an en dash, ``\\x85`` for an ellipsis,
    which ``str.splitlines`` even treats as a line break). Returns the text and whether it changed.
    """
    if not any(c in C1_CONTROLS for c in text):
        return text, False
    out = []
    for c in text:
        if c in C1_CONTROLS:
            try:
                c = c.encode("latin-1").decode("cp1252")
            except UnicodeDecodeError:  # 0x81, 0x8d, 0x8f, 0x90, 0x9d: undefined in cp1252
                c = " "
        out.append(c)
    return "".join(out), True


def read_lines(path: Path, encoding: str, report: TextReport) -> list[tuple[int, str]]:
    """Return ``(line number, text)`` for every line, split on ``\\n`` only, decoded one by one.

    Splitting the *bytes* on ``\\n`` keeps a sentence whole even when it holds characters
    that ``str.splitlines`` breaks on (U+0085, U+2028, form feeds). A line the encoding cannot
    decode is kept with U+FFFD and reported; C1 controls are repaired (:func:`repair_c1`).
    """
    data = Path(path).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    raw = data.split(b"\n")
    if raw and raw[-1] == b"":  # the final newline ends the last line; it starts no new one
        raw = raw[:-1]
    out = []
    for number, line in enumerate(raw, 1):
        report.lines += 1
        line = line.rstrip(b"\r")
        try:
            text = line.decode(encoding)
        except UnicodeDecodeError:
            text = line.decode(encoding, errors="replace")
            report.undecodable.append(number)
        text, fixed = repair_c1(text)
        if fixed:
            report.repaired.append(number)
        out.append((number, text))
    return out


def _parse_label(value: str) -> int | None:
    value = value.strip()
    return int(value) if value in ("0", "1") else None


def _read_uci(path: Path) -> tuple[list[str], list[int], TextReport]:
    """UCI sentiment sentences: ``sentence<TAB>0|1`` per line, UTF-8."""
    report = TextReport(path.name)
    texts, labels = [], []
    for number, line in read_lines(path, "utf-8", report):
        if not line.strip():
            report.empty.append(number)
            continue
        sentence, tab, label = line.rpartition("\t")
        y = _parse_label(label) if tab else None
        if y is None or not sentence.strip():
            report.malformed.append((number, f"expected 'sentence<TAB>0|1', got {line[:60]!r}"))
            continue
        texts.append(sentence.strip())
        labels.append(y)
    report.kept = len(texts)
    return texts, labels, report


def _read_rt(folder: Path) -> tuple[list[str], list[int], list[TextReport]]:
    """rt-polarity: one snippet per line, cp1252, a file per class."""
    texts, labels, reports = [], [], []
    for label, name in ((0, "rt-polarity.neg"), (1, "rt-polarity.pos")):
        report = TextReport(name)
        for number, line in read_lines(folder / name, "cp1252", report):
            if not line.strip():
                report.empty.append(number)
                continue
            texts.append(line.strip())
            labels.append(label)
            report.kept += 1
        reports.append(report)
    return texts, labels, reports


def _read_sst2(path: Path) -> tuple[list[str], list[int], TextReport]:
    """SST-2 as the mirror has it: a header row, then ``label<TAB>sentence`` (label first).

    The columns are found by the header (``label`` and the other one), so GLUE's order
    (``sentence<TAB>label``) reads correctly too; a file without a ``label`` column is an error.
    """
    report = TextReport(f"sst2/{path.name}")
    rows = read_lines(path, "utf-8", report)
    if not rows:
        raise ValueError(f"{path} is empty; fetch SST-2 again")
    header = [h.strip().lower() for h in rows[0][1].split("\t")]
    if "label" not in header or len(header) != 2:
        raise ValueError(f"{path}: expected a header with a 'label' column and a text column, got "
                         f"{rows[0][1][:80]!r}; this file is not SST-2 in the course's layout")
    label_col = header.index("label")
    texts, labels = [], []
    for number, line in rows[1:]:
        if not line.strip():
            report.empty.append(number)
            continue
        parts = line.split("\t")
        y = _parse_label(parts[label_col]) if len(parts) == 2 else None
        if y is None or not parts[1 - label_col].strip():
            report.malformed.append((number, f"expected two columns {header}, got {line[:60]!r}"))
            continue
        texts.append(parts[1 - label_col].strip())
        labels.append(y)
    report.kept = len(texts)
    return texts, labels, report


def _read_tweets(path: Path) -> tuple[list[str], list[int], TextReport]:
    """Airline tweets (CSV with ``text`` and ``airline_sentiment``): negative 0, positive 1."""
    import csv

    report = TextReport(path.name)
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"text", "airline_sentiment"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: no column(s) {sorted(missing)}; expected the Kaggle Tweets.csv")
        for row in reader:
            report.lines += 1
            number = reader.line_num
            text, sentiment = (row.get("text") or "").strip(), (row.get("airline_sentiment") or "")
            if sentiment == "neutral":
                report.left_out["neutral (not negative vs positive)"] = \
                    report.left_out.get("neutral (not negative vs positive)", 0) + 1
                continue
            if sentiment not in ("negative", "positive") or not text:
                report.malformed.append((number, f"sentiment {sentiment!r}, text {text[:40]!r}"))
                continue
            text, fixed = repair_c1(text)
            if fixed:
                report.repaired.append(number)
            texts.append(text)
            labels.append(int(sentiment == "positive"))
    report.kept = len(texts)
    return texts, labels, report


def load_sentences(name: str, split: str | None = None, verbose: bool = True) -> SentenceSet:
    """Load a sentiment set as sentences and 0/1 labels (1 = positive), with a read report.

    ``name`` is one of :data:`SENTENCE_SETS`; SST-2 needs ``split`` (train, dev or test).
    Empty lines are skipped and reported, bad bytes kept as U+FFFD and reported, C1 controls
    repaired and reported, malformed lines left out and listed: nothing is dropped silently.
    """
    if name not in SENTENCE_SETS:
        raise KeyError(f"unknown sentence set {name!r}; choose one of {', '.join(SENTENCE_SETS)}")
    root = dataset_root(SENTENCE_SETS[name][0])
    if name == "sst2":
        if split not in SST2_SPLITS:
            raise ValueError(f"SST-2 needs split= one of {SST2_SPLITS}, not {split!r}")
        texts, labels, report = _read_sst2(root / f"{split}.tsv")
        reports = [report]
    elif split is not None:
        raise ValueError(f"{name} has no predefined splits; use balanced_split()")
    elif name in UCI_FILES:
        texts, labels, report = _read_uci(root / UCI_FILES[name])
        reports = [report]
    elif name == "rt_polarity":
        texts, labels, reports = _read_rt(root)
    else:
        texts, labels, report = _read_tweets(root / "Tweets.csv")
        reports = [report]
    if not texts:
        raise ValueError(f"{name}: no labelled sentences found in {root}; " + reports[0].summary())
    if verbose:
        for report in reports:
            print(report.summary())
    return SentenceSet(name, texts, np.asarray(labels, dtype="int32"), reports)


def balanced_split(y: np.ndarray, sizes: dict[str, int], seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
    """Split indices into disjoint parts of ``sizes[part]`` examples, half of each class.

    Fixed by ``seed`` (the same for everyone by default); each part is sorted. Raises
    ``ValueError`` when a class has fewer examples than the parts ask for.
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    by_class = {c: rng.permutation(np.flatnonzero(y == c)) for c in (0, 1)}
    need = sum(n // 2 + n % 2 for n in sizes.values())
    for c, idx in by_class.items():
        if len(idx) < need:
            raise ValueError(f"class {c} has {len(idx)} examples; the parts {sizes} need up to {need}")
    out, used = {}, {0: 0, 1: 0}
    for part, n in sizes.items():
        picked = []
        for c, count in ((0, n // 2 + n % 2), (1, n // 2)):
            picked.append(by_class[c][used[c]:used[c] + count])
            used[c] += count
        out[part] = np.sort(np.concatenate(picked))
    return out
