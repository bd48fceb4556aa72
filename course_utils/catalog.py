"""What the course needs: one table of every weight file and dataset, and the lessons using it (data only).

Lessons are named by slug (``domain_mismatch`` for ``notebooks/07_domain_mismatch.ipynb``), so
renumbering a lesson changes nothing here; :mod:`course_utils.lessons` turns slugs into numbers.
Finding, checking and downloading what this table lists is :mod:`course_utils.fetching`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

from course_utils import assets, backbones, installers, text_encoders


@dataclass(frozen=True)
class Need:
    """One asset the course uses, the lessons (slugs) that use it, and whether a fallback exists."""

    asset: assets.Asset
    lessons: tuple[str, ...]
    optional: bool = False  # True where the lessons fall back to something embedded


GDRIVE_PACS = "https://domaingeneralization.github.io/ (the PACS authors' page)"
UCI_DOMAINS = ("amazon_cells", "yelp", "imdb")


def _w(name: str, top: bool = False) -> assets.Asset:
    return backbones.get(name).weights_asset(224, include_top=top)


def _dataset(name, description, required, url=None, install=None, manual=None, folder=None, **kw):
    return assets.Asset(name=name, kind="dataset", relpath=f"datasets/{folder or name}",
                        description=description, url=url, required=tuple(required),
                        install=install, manual=manual, **kw)


# The one table: every asset the course uses, where it comes from, and the lessons that use it.
NEEDS: list[Need] = [
    Need(_w("mobilenet_v2"), ("what_is_transfer_learning", "choosing_a_model", "feature_extraction",
                              "fine_tuning", "data_bias", "overfitting", "domain_mismatch",
                              "domain_remedies", "unsupervised_transfer", "after_transfer", "your_own_data")),
    Need(_w("mobilenet_v2", top=True), ("choosing_a_model", "efficient_fine_tuning")),
    Need(_w("mobilenet_v2_035"), ("choosing_a_model", "after_transfer", "your_own_data")),
    Need(_w("mobilenet_025"), ("choosing_a_model", "your_own_data")),
    Need(backbones.CLASS_INDEX, ("choosing_a_model",)),
    Need(_dataset("cats_and_dogs", "cats vs dogs photos (Kaggle/Asirra, TF tutorial subset)",
                 ["train/cats", "train/dogs", "validation/cats", "validation/dogs"],
                 url="https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
                 install=installers.extract("cats_and_dogs_filtered",
                                            {"train": "train", "validation": "validation"})),
         ("what_is_transfer_learning", "feature_extraction", "fine_tuning", "data_bias",
          "efficient_fine_tuning")),
    Need(_dataset("pacs", "PACS domains photo / art_painting / cartoon / sketch (Li et al. 2017)",
                 [f"{d}/dog" for d in ("photo", "art_painting", "cartoon", "sketch")],
                 manual=f"PACS has no direct download: get it from {GDRIVE_PACS} and unpack it as "
                        "datasets/pacs/<domain>/<class>/*.jpg in your cache or mirror."),
         ("data_bias", "domain_mismatch", "domain_remedies", "unsupervised_transfer",
          "efficient_fine_tuning", "after_transfer")),
    Need(_dataset("hymenoptera", "ants vs bees (ImageNet subset)",
                 ["train/ants", "train/bees", "val/ants", "val/bees"],
                 url="https://download.pytorch.org/tutorial/hymenoptera_data.zip",
                 install=installers.extract("hymenoptera_data", {"train": "train", "val": "val"})),
         ("overfitting", "your_own_data")),
    Need(_dataset("flowers", "flower photos, 5 classes (tf_flowers)",
                 ["daisy", "dandelion", "rose", "sunflower", "tulip"],
                 url="https://storage.googleapis.com/download.tensorflow.org/example_images/"
                     "flower_photos.tgz",
                 install=installers.extract("flower_photos", {
                     "daisy": "daisy", "dandelion": "dandelion", "roses": "rose",
                     "sunflowers": "sunflower", "tulips": "tulip"})),
         ("overfitting", "your_own_data")),
    Need(_dataset("photos", "sample photos for 'what does an ImageNet model see'", ["chelsea.jpg"],
                 manual="Without the mirror, lessons fall back to the photos shipped inside "
                        "scikit-image and scikit-learn (course_utils.datasets.package_photos)."),
         ("choosing_a_model",), optional=True),
    Need(_dataset("mnist", "MNIST handwritten digits", ["mnist.npz"],
                 url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
                 sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"),
         ("domain_mismatch", "unsupervised_transfer", "after_transfer")),
    Need(_dataset("usps", "USPS handwritten digits (Hull 1994), 16x16", ["usps.npz"],
                 url=installers.USPS_URL + "usps.bz2", install=installers.usps),
         ("domain_mismatch", "unsupervised_transfer")),
    Need(_dataset("mnist_m", "MNIST-M (Ganin & Lempitsky 2015): MNIST over colour photo patches",
                 ["mnist_m.npz"],
                 manual="MNIST-M has no official direct download: copy datasets/mnist_m/mnist_m.npz "
                        "from a course mirror, or use the embedded look-alike "
                        "course_utils.datasets.mnist_m_style()."),
         ("domain_mismatch", "after_transfer")),
    Need(_dataset("pneumonia", "PneumoniaMNIST chest X-rays 28x28 (MedMNIST v2)",
                 ["pneumoniamnist.npz"],
                 url="https://zenodo.org/records/10519652/files/pneumoniamnist.npz?download=1"),
         ("domain_remedies", "unsupervised_transfer")),
    Need(text_encoders.MINILM, ("text_transfer", "efficient_fine_tuning")),
    Need(_dataset("uci_sentences", "UCI sentiment labelled sentences: Amazon, Yelp, IMDB (Kotzias 2015)",
                 [f"{d}_labelled.txt" for d in UCI_DOMAINS], folder="sentiment/uci_sentences",
                 url="https://archive.ics.uci.edu/static/public/331/sentiment+labelled+sentences.zip",
                 install=installers.extract("sentiment labelled sentences",
                                            {f"{d}_labelled.txt": f"{d}_labelled.txt" for d in UCI_DOMAINS},
                                            files=True)),
         ("text_transfer", "efficient_fine_tuning")),
    Need(_dataset("rt_polarity", "movie-review snippets, sentence polarity v1.0 (Pang & Lee 2005)",
                 ["rt-polarity.pos", "rt-polarity.neg"], folder="sentiment/rt_polarity",
                 url="https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz",
                 install=installers.extract("rt-polaritydata", {"rt-polarity.pos": "rt-polarity.pos",
                                                                "rt-polarity.neg": "rt-polarity.neg"},
                                            files=True)),
         ("text_transfer",)),
    Need(_dataset("sst2", "SST-2 (Stanford Sentiment Treebank, binary) with labelled test sentences",
                 ["train.tsv", "dev.tsv", "test.tsv"], folder="sentiment/sst2",
                 manual="GLUE's SST-2 test split has no labels: build train/dev/test.tsv (header row, "
                        "label in the first column, then the sentence) from the Stanford Sentiment "
                        "Treebank (https://nlp.stanford.edu/sentiment/), or copy datasets/sentiment/sst2 "
                        "from a course mirror."),
         ("text_transfer",)),
    Need(_dataset("tweets_airline", "Twitter US Airline Sentiment tweets (CrowdFlower, CC BY-NC-SA 4.0)",
                 ["Tweets.csv"], folder="sentiment/tweets_airline",
                 manual="Download Tweets.csv from https://www.kaggle.com/datasets/crowdflower/"
                        "twitter-airline-sentiment (needs a Kaggle login) into "
                        "datasets/sentiment/tweets_airline/ in your cache or mirror."),
         ("text_transfer", "efficient_fine_tuning")),
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
# says where each one is. Only the first lesson reads one: the others read the course's own copies.
TFDS_SETS: list[TfdsSet] = [
    TfdsSet("fashion_mnist", "Zalando's Fashion-MNIST (70,000 28x28 grey clothing photos, 10 classes)",
            ("setup",), source_env="COURSE_FASHION_MNIST_DIR",
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
