"""What the course needs: one table of every weight file and dataset and the lessons using it."""

from __future__ import annotations

import bz2
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_utils import assets, backbones, profiles, text_encoders


@dataclass(frozen=True)
class Need:
    """One asset the course uses, the lessons that use it, and whether a fallback exists."""

    asset: assets.Asset
    lessons: tuple[str, ...]
    optional: bool = False  # True where the lessons fall back to something embedded


GDRIVE_PACS = "https://domaingeneralization.github.io/ (the PACS authors' page)"


def _extract_subfolders(inner: str, keep: dict[str, str]):
    """Return an installer that extracts an archive and moves ``inner/<src>`` to ``<dst>``."""

    def install(archive: Path, staging: Path) -> None:
        unpacked = staging.parent / "unpacked"
        assets.safe_extract(archive, unpacked)
        for src_name, dst_name in keep.items():
            src = unpacked / inner / src_name
            if not src.is_dir():
                raise assets.DownloadError(f"{archive.name} has no folder {inner}/{src_name}")
            shutil.move(str(src), str(staging / dst_name))
        shutil.rmtree(unpacked, ignore_errors=True)

    return install


def _extract_files(inner: str, keep: dict[str, str]):
    """Return an installer that extracts an archive and moves the files ``inner/<src>`` to ``<dst>``."""

    def install(archive: Path, staging: Path) -> None:
        unpacked = staging.parent / "unpacked"
        assets.safe_extract(archive, unpacked)
        for src_name, dst_name in keep.items():
            src = unpacked / inner / src_name
            if not src.is_file():
                raise assets.DownloadError(f"{archive.name} has no file {inner}/{src_name}")
            shutil.move(str(src), str(staging / dst_name))
        shutil.rmtree(unpacked, ignore_errors=True)

    return install


def _usps_install(archive: Path, staging: Path) -> None:
    """Convert LIBSVM's USPS files (values in [-1, 1], labels 1-10) to ``usps.npz``."""
    arrays = {}
    for split, name in (("train", "usps.bz2"), ("test", "usps.t.bz2")):
        src = archive if archive.name == name else assets.download(USPS_URL + name,
                                                                    archive.parent / name)
        xs, ys = [], []
        for line in bz2.open(src, "rt"):
            parts = line.split()
            if not parts:
                continue
            ys.append(int(float(parts[0])) - 1)
            row = np.full(256, -1.0)
            for item in parts[1:]:
                idx, val = item.split(":")
                row[int(idx) - 1] = float(val)
            xs.append(np.round((row + 1) / 2 * 255).reshape(16, 16))
        arrays[f"x_{split}"] = np.asarray(xs, dtype=np.uint8)
        arrays[f"y_{split}"] = np.asarray(ys, dtype=np.uint8)
    np.savez_compressed(staging / "usps.npz", **arrays)


USPS_URL = "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/"
UCI_DOMAINS = ("amazon_cells", "yelp", "imdb")


def _w(name: str, top: bool = False) -> assets.Asset:
    return backbones.get(name).weights_asset(224, include_top=top)


def _dataset(name, description, required, url=None, install=None, manual=None, folder=None, **kw):
    return assets.Asset(name=name, kind="dataset", relpath=f"datasets/{folder or name}",
                        description=description, url=url, required=tuple(required),
                        install=install, manual=manual, **kw)


# The one table: every asset the course uses, where it comes from, and the lessons that use it.
NEEDS: list[Need] = [
    Need(_w("mobilenet_v2"), ("01", "02", "03", "04", "05", "06", "07", "08", "09", "13")),
    Need(_w("mobilenet_v2", top=True), ("02",)),
    Need(_w("mobilenet_v2_035"), ("02", "13")),
    Need(_w("mobilenet_025"), ("02", "13")),
    Need(backbones.CLASS_INDEX, ("02",)),
    Need(_dataset("cats_and_dogs", "cats vs dogs photos (Kaggle/Asirra, TF tutorial subset)",
                 ["train/cats", "train/dogs", "validation/cats", "validation/dogs"],
                 url="https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
                 install=_extract_subfolders("cats_and_dogs_filtered",
                                              {"train": "train", "validation": "validation"})),
         ("01", "03", "04", "05")),
    Need(_dataset("pacs", "PACS domains photo / art_painting / cartoon / sketch (Li et al. 2017)",
                 [f"{d}/dog" for d in ("photo", "art_painting", "cartoon", "sketch")],
                 manual=f"PACS has no direct download: get it from {GDRIVE_PACS} and unpack it as "
                        "datasets/pacs/<domain>/<class>/*.jpg in your cache or mirror."),
         ("05", "07", "08", "09")),
    Need(_dataset("hymenoptera", "ants vs bees (ImageNet subset)",
                 ["train/ants", "train/bees", "val/ants", "val/bees"],
                 url="https://download.pytorch.org/tutorial/hymenoptera_data.zip",
                 install=_extract_subfolders("hymenoptera_data", {"train": "train", "val": "val"})),
         ("06", "13")),
    Need(_dataset("flowers", "flower photos, 5 classes (tf_flowers)",
                 ["daisy", "dandelion", "rose", "sunflower", "tulip"],
                 url="https://storage.googleapis.com/download.tensorflow.org/example_images/"
                     "flower_photos.tgz",
                 install=_extract_subfolders("flower_photos", {
                     "daisy": "daisy", "dandelion": "dandelion", "roses": "rose",
                     "sunflowers": "sunflower", "tulips": "tulip"})),
         ("06", "13")),
    Need(_dataset("photos", "sample photos for 'what does an ImageNet model see'", ["chelsea.jpg"],
                 manual="Without the mirror, lessons fall back to the photos shipped inside "
                        "scikit-image and scikit-learn (course_utils.datasets.package_photos)."),
         ("02",), optional=True),
    Need(_dataset("mnist", "MNIST handwritten digits", ["mnist.npz"],
                 url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
                 sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"),
         ("07", "09")),
    Need(_dataset("usps", "USPS handwritten digits (Hull 1994), 16x16", ["usps.npz"],
                 url=USPS_URL + "usps.bz2", install=_usps_install),
         ("07", "09")),
    Need(_dataset("mnist_m", "MNIST-M (Ganin & Lempitsky 2015): MNIST over colour photo patches",
                 ["mnist_m.npz"],
                 manual="MNIST-M has no official direct download: copy datasets/mnist_m/mnist_m.npz "
                        "from a course mirror, or use the embedded look-alike "
                        "course_utils.datasets.mnist_m_style()."),
         ("07",)),
    Need(_dataset("pneumonia", "PneumoniaMNIST chest X-rays 28x28 (MedMNIST v2)",
                 ["pneumoniamnist.npz"],
                 url="https://zenodo.org/records/10519652/files/pneumoniamnist.npz?download=1"),
         ("08", "09")),
    Need(text_encoders.MINILM, ("10",)),
    Need(_dataset("uci_sentences", "UCI sentiment labelled sentences: Amazon, Yelp, IMDB (Kotzias 2015)",
                 [f"{d}_labelled.txt" for d in UCI_DOMAINS], folder="sentiment/uci_sentences",
                 url="https://archive.ics.uci.edu/static/public/331/sentiment+labelled+sentences.zip",
                 install=_extract_files("sentiment labelled sentences",
                                        {f"{d}_labelled.txt": f"{d}_labelled.txt" for d in UCI_DOMAINS})),
         ("10",)),
    Need(_dataset("rt_polarity", "movie-review snippets, sentence polarity v1.0 (Pang & Lee 2005)",
                 ["rt-polarity.pos", "rt-polarity.neg"], folder="sentiment/rt_polarity",
                 url="https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz",
                 install=_extract_files("rt-polaritydata", {"rt-polarity.pos": "rt-polarity.pos",
                                                            "rt-polarity.neg": "rt-polarity.neg"})),
         ("10",)),
    Need(_dataset("sst2", "SST-2 (Stanford Sentiment Treebank, binary) with labelled test sentences",
                 ["train.tsv", "dev.tsv", "test.tsv"], folder="sentiment/sst2",
                 manual="GLUE's SST-2 test split has no labels: build train/dev/test.tsv (header row, "
                        "label in the first column, then the sentence) from the Stanford Sentiment "
                        "Treebank (https://nlp.stanford.edu/sentiment/), or copy datasets/sentiment/sst2 "
                        "from a course mirror."),
         ("10",)),
    Need(_dataset("tweets_airline", "Twitter US Airline Sentiment tweets (CrowdFlower, CC BY-NC-SA 4.0)",
                 ["Tweets.csv"], folder="sentiment/tweets_airline",
                 manual="Download Tweets.csv from https://www.kaggle.com/datasets/crowdflower/"
                        "twitter-airline-sentiment (needs a Kaggle login) into "
                        "datasets/sentiment/tweets_airline/ in your cache or mirror."),
         ("10",)),
]
DATASETS: dict[str, assets.Asset] = {n.asset.name: n.asset for n in NEEDS if n.asset.kind == "dataset"}


@dataclass(frozen=True)
class TfdsSet:
    """A set from the TensorFlow Datasets catalogue, its relation to the course's data, its lessons."""

    name: str  # the TFDS catalogue name, as ``tfds.load`` takes it
    description: str
    lessons: tuple[str, ...] = ()  # none: the lessons read the course's own copies
    # A folder that may already hold TFDS' original download files (a Debian package's), so the set
    # is prepared with no network: the environment variable naming it, its default, the package.
    source_env: str | None = None
    source_dir: str | None = None
    source_package: str | None = None
    # Debian's build (strip-nondeterminism) drops each .gz file's name and time from its gzip header;
    # put back, the files are byte for byte the ones TFDS registered checksums for: file -> time.
    gzip_times: tuple[tuple[str, int], ...] = ()


# ``datasets.tfds_load`` reads them (``tfds_sets`` finds or prepares the copy); ``fetch`` prepares
# those a lesson uses (``--tfds``: all) and copies prepared ones into a mirror (``--to``); ``doctor``
# says where each one is. Only lesson 00 reads one: the others read the course's own copies.
TFDS_SETS: list[TfdsSet] = [
    TfdsSet("fashion_mnist", "Zalando's Fashion-MNIST (70,000 28x28 grey clothing photos, 10 classes)",
            ("00",), source_env="COURSE_FASHION_MNIST_DIR",
            source_dir="/usr/share/datasets/fashion-mnist", source_package="dataset-fashion-mnist",
            gzip_times=(("train-images-idx3-ubyte.gz", 1504176606),
                        ("train-labels-idx1-ubyte.gz", 1504176606),
                        ("t10k-images-idx3-ubyte.gz", 1504176627),
                        ("t10k-labels-idx1-ubyte.gz", 1504176627))),
    TfdsSet("tf_flowers", "TFDS' flower photos (3,670; the archive `flowers` downloads; the mirror's "
                          "flowers are another collection)"),
    TfdsSet("mnist", "TFDS' MNIST (all 70,000 digits; the mirror's mnist.npz holds 10,000 "
                     "training and the 10,000 test digits)"),
]
TFDS_DIRNAME = "tensorflow_datasets"  # TFDS' own data_dir layout: <dir>/<name>/<version>/


def needs_for(profile: str | None = None) -> list[Need]:
    """Return what a profile needs. Profiles change sizes, never assets, so all share one list."""
    profiles.get_profile(profile)  # validates the name
    return list(NEEDS)


def fetch(profile: str | None = None, to: Path | None = None, progress: bool = True,
          tfds: bool = False) -> list[tuple[str, str]]:
    """Put every asset a profile needs into the cache, or into a mirror-layout folder ``to``.

    With ``to`` (a workshop USB stick, say), assets already present locally are
    copied from the mirror or cache; the rest are downloaded from their official
    locations. Returns ``(asset name, what happened)`` pairs and raises nothing:
    failures are reported so one missing asset does not stop the rest.
    """
    results = []
    for need in needs_for(profile):
        asset = need.asset
        try:
            if to is None:
                found = assets.locate(asset)
                if found:
                    assets.verify(asset, found)
                    results.append((asset.name, f"already in the {found.source}"))
                else:
                    assets.fetch_asset(asset, assets.keras_home(), progress=progress)
                    results.append((asset.name, "downloaded into the cache"))
                continue
            dest = Path(to) / asset.mirror_relpath
            if assets.is_complete(asset, dest):
                results.append((asset.name, "already there"))
                continue
            found = assets.locate(asset)
            if found:
                _copy(assets.verify(asset, found), dest)
                results.append((asset.name, f"copied from the {found.source}"))
            else:
                staged = assets.fetch_asset(asset, Path(to) / ".staging", progress=progress)
                _copy(staged, dest)
                shutil.rmtree(Path(to) / ".staging", ignore_errors=True)
                results.append((asset.name, "downloaded"))
        except assets.AssetChangedError as exc:
            results.append((asset.name, f"MISSING: {exc}"))
        except (assets.DownloadError, assets.UnsafeArchiveError, OSError) as exc:
            status = "MISSING" + (" (optional)" if need.optional else "")
            results.append((asset.name, f"{status}: {exc}"))
    return results + fetch_tfds(to, download=tfds)


def fetch_tfds(to: Path | None = None, download: bool = False) -> list[tuple[str, str]]:
    """Report each of :data:`TFDS_SETS`, copy prepared ones into ``to``; prepare missing ones.

    A set a lesson reads, or one whose original files are on disk (:func:`tfds_sets.local_source`),
    is always prepared; the optional others only with ``download`` (tf_flowers is 218 MB).
    """
    from course_utils import tfds_sets

    results = []
    for tfds_set in TFDS_SETS:
        label = f"tfds:{tfds_set.name}"
        try:
            found = tfds_sets.locate(tfds_set.name)
            if found is None and (download or tfds_set.lessons
                                  or tfds_sets.local_source(tfds_set.name)):
                found = tfds_sets.prepare(tfds_set.name)
            if found is None:
                results.append((label, "not prepared (optional): `fetch --tfds` prepares it online"))
            elif to is not None:
                results.append((label, tfds_sets.copy_to(tfds_set.name, Path(to))))
            else:
                results.append((label, f"in the {found.source}"))
        except (assets.AssetMissingError, assets.DownloadError, OSError) as exc:
            status = "MISSING" + ("" if tfds_set.lessons else " (optional)")
            results.append((label, f"{status}: {str(exc).splitlines()[0]}"))
    return results


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
    if src.is_dir():
        shutil.copytree(src, tmp)
    else:
        shutil.copy2(src, tmp)
    if dest.exists():
        shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
    tmp.rename(dest)
