"""TensorFlow Datasets sets load with ``tfds.load`` offline from a prepared copy in a mirror or cache.

The prepared copy is made here by TFDS itself: the registered ``mnist`` builder, its downloads
replaced by 40 synthetic digits (the test is about TFDS' offline path, not about the pixels), so
``tfds.load("mnist", ...)`` then reads exactly the layout a connected machine's ``fetch`` leaves.
"""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import assets, catalog, tfds_sets
from course_utils.cli import doctor


def _prepare_small_mnist(data_dir) -> None:
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core import registered
    from tensorflow_datasets.image_classification import mnist as tfds_mnist

    rng = np.random.default_rng(0)

    def examples(n):
        for i in range(n):
            yield i, {"image": rng.integers(0, 256, (28, 28, 1), dtype=np.uint8), "label": i % 10}

    with registered.skip_registration():
        class SmallMnist(tfds_mnist.MNIST):
            name = "mnist"

            def _split_generators(self, dl_manager):
                return {"train": examples(30), "test": examples(10)}

    SmallMnist(data_dir=str(data_dir)).download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False))


@pytest.fixture(scope="module")
def prepared_mirror(tmp_path_factory):
    """A mirror folder holding only a TFDS-prepared ``mnist`` (``tensorflow_datasets/mnist/3.0.1``)."""
    mirror = tmp_path_factory.mktemp("mirror")
    _prepare_small_mnist(mirror / catalog.TFDS_DIRNAME)
    return mirror


@pytest.fixture
def offline_with(prepared_mirror, tmp_path, monkeypatch):
    """No network, an empty Keras cache and TFDS folder, and the prepared mirror."""
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds_default"))
    monkeypatch.setenv("COURSE_MIRROR", str(prepared_mirror))
    return prepared_mirror


def test_load_reads_the_mirrors_prepared_copy_offline(offline_with):
    found = tfds_sets.locate("mnist")
    assert found is not None and found.source == "mirror" and found.path.name == "3.0.1"
    test = tfds_sets.load("mnist", "test", as_supervised=True)
    images = [(image.numpy(), int(label)) for image, label in test]
    assert len(images) == 10
    assert images[0][0].shape == (28, 28, 1) and images[0][0].dtype == np.uint8
    assert len(list(tfds_sets.load("mnist", "train"))) == 30


def test_a_set_prepared_nowhere_is_a_clear_error_offline(offline_with):
    with pytest.raises(assets.AssetMissingError) as error:
        tfds_sets.load("tf_flowers", "train")
    message = str(error.value)
    assert "tf_flowers" in message and "python -m course_utils fetch --tfds" in message
    assert str(offline_with / catalog.TFDS_DIRNAME) in message  # every place it looked


def test_fetch_to_copies_prepared_sets_into_a_usb_mirror(offline_with, tmp_path, monkeypatch):
    usb = tmp_path / "usb"
    results = dict(catalog.fetch_tfds(to=usb))
    assert results["tfds:mnist"] == "copied from the mirror"
    assert results["tfds:tf_flowers"].startswith("not prepared (optional)")
    assert dict(catalog.fetch_tfds(to=usb))["tfds:mnist"] == "already there"
    monkeypatch.setenv("COURSE_MIRROR", str(usb))
    assert tfds_sets.locate("mnist").source == "mirror"
    assert len(list(tfds_sets.load("mnist", "test"))) == 10


def test_doctor_says_where_each_set_is(offline_with):
    rows = {row["asset"]: row for row in doctor.tfds_rows()}
    assert rows["tfds:mnist"]["status"] == "prepared" and rows["tfds:mnist"]["from"].startswith("mirror")
    assert rows["tfds:tf_flowers"]["status"] == "not prepared (optional)"
