"""TensorFlow Datasets sets load with ``tfds.load`` offline from a prepared copy in a mirror or cache.

Two prepared copies, both made by TFDS itself: Fashion-MNIST, prepared with no network from the
original files Debian's ``dataset-fashion-mnist`` installs (TFDS verifies them against its registered
checksums); and the registered ``mnist`` builder with its downloads replaced by 40 synthetic digits
(the test is about TFDS' offline path, not about the pixels). ``tfds.load`` then reads exactly the
layout a connected machine's ``fetch`` leaves.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from course_utils import assets, catalog, datasets, fetching, tfds_sets
from course_utils.cli import doctor

FASHION = tfds_sets.get("fashion_mnist")


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
    """No network, an empty Keras cache and TFDS folder, no original files, and the prepared mirror."""
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv(FASHION.source_env, str(tmp_path / "no_originals"))
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


def fetched(to):
    """What ``fetch --to`` did with each TFDS set: name -> message."""
    return {result.name: result.message for result in fetching.fetch_tfds(to=to)}


def test_fetch_to_copies_prepared_sets_into_a_usb_mirror(offline_with, tmp_path, monkeypatch):
    usb = tmp_path / "usb"
    results = fetched(usb)
    assert results["tfds:mnist"] == "copied from the mirror"
    assert results["tfds:tf_flowers"].startswith("not prepared (optional)")
    assert fetched(usb)["tfds:mnist"] == "already there"
    monkeypatch.setenv("COURSE_MIRROR", str(usb))
    assert tfds_sets.locate("mnist").source == "mirror"
    assert len(list(tfds_sets.load("mnist", "test"))) == 10


def test_doctor_says_where_each_set_is(offline_with):
    rows = {row["asset"]: row for row in doctor.tfds_rows()}
    assert rows["tfds:mnist"]["status"] == "prepared" and rows["tfds:mnist"]["from"].startswith("mirror")
    assert rows["tfds:tf_flowers"]["status"] == "not prepared (optional)"
    assert rows["tfds:mnist"]["found"].state is fetching.TfdsState.PREPARED


# ---------------------------------------------------------------- Fashion-MNIST from Debian's files


def _isolate(monkeypatch, home, tmp_path, originals=None) -> None:
    """No network, no mirror, Keras cache ``home``, TFDS' own folder empty, originals where given."""
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.delenv("COURSE_MIRROR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds_default"))
    monkeypatch.setenv(FASHION.source_env, str(originals or tmp_path / "no_originals"))


@pytest.fixture(scope="module")
def debian_files():
    """The folder of Fashion-MNIST's original ``.gz`` files that Debian's package installs."""
    folder = tfds_sets.local_source("fashion_mnist")
    if folder is None:
        pytest.skip(f"needs Debian's {FASHION.source_package} in {tfds_sets.source_dir('fashion_mnist')} "
                    f"(`apt-get install {FASHION.source_package}`; .ci/run installs it)")
    return folder


@pytest.fixture(scope="module")
def fashion_home(debian_files, tmp_path_factory):
    """A Keras cache where TFDS prepared fashion_mnist offline from Debian's files (once per module)."""
    home = tmp_path_factory.mktemp("fashion_home")
    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, home, tmp_path_factory.mktemp("fashion_env"), originals=debian_files)
        tfds_sets.prepare("fashion_mnist")
    return home


def test_debian_files_restored_are_byte_for_byte_tfds_registered_downloads(debian_files, tmp_path):
    import tensorflow_datasets as tfds

    registered = {info.filename: info.checksum
                  for info in tfds.builder_cls("fashion_mnist").url_infos.values()}
    assert sorted(registered) == sorted(name for name, _ in FASHION.gzip_times)
    for name, mtime in FASHION.gzip_times:
        restored = tfds_sets.restore_original(debian_files / name, tmp_path / name, mtime)
        assert hashlib.sha256(restored.read_bytes()).hexdigest() == registered[name], name


def test_fashion_mnist_is_prepared_offline_into_the_cache(fashion_home, tmp_path, monkeypatch):
    _isolate(monkeypatch, fashion_home, tmp_path)  # no originals now: only the prepared copy
    found = tfds_sets.locate("fashion_mnist")
    assert found is not None and found.source == "cache"
    assert found.path == fashion_home / catalog.TFDS_DIRNAME / "fashion_mnist" / found.path.name
    assert (found.path / "dataset_info.json").is_file() and list(found.path.glob("*.tfrecord*"))
    assert [p.name for p in found.data_dir.iterdir()] == ["fashion_mnist"]  # no downloads, no tmp


def test_tfds_load_reads_the_prepared_copy_offline(fashion_home, tmp_path, monkeypatch):
    _isolate(monkeypatch, fashion_home, tmp_path)
    test, info = datasets.tfds_load("fashion_mnist", split="test", as_supervised=True, with_info=True)
    labels = np.array([int(label) for _, label in test])
    image = next(iter(test))[0].numpy()
    assert len(labels) == 10_000 and set(labels) == set(range(10))
    assert image.shape == (28, 28, 1) and image.dtype == np.uint8
    assert info.splits["train"].num_examples == 60_000
    assert info.features["label"].names[:2] == ["T-shirt/top", "Trouser"]


def test_changed_originals_are_refused_by_tfds_checksums(debian_files, tmp_path, monkeypatch):
    changed = tmp_path / "changed"
    changed.mkdir()
    for name, _ in FASHION.gzip_times:
        data = bytearray((debian_files / name).read_bytes())
        if name == "t10k-labels-idx1-ubyte.gz":
            data[100] ^= 0xFF
        (changed / name).write_bytes(bytes(data))
    _isolate(monkeypatch, tmp_path / "home", tmp_path, originals=changed)
    with pytest.raises(assets.DownloadError, match="not TFDS' originals"):
        tfds_sets.prepare("fashion_mnist")
    assert tfds_sets.locate("fashion_mnist") is None


def test_offline_with_no_copy_and_no_originals_says_what_to_install_or_run(tmp_path, monkeypatch):
    _isolate(monkeypatch, tmp_path / "home", tmp_path)
    with pytest.raises(assets.AssetMissingError) as error:
        datasets.tfds_load("fashion_mnist", split="test")
    message = str(error.value)
    assert "'fashion_mnist' is not prepared" in message
    assert "apt-get install dataset-fashion-mnist" in message and FASHION.source_env in message
    assert "`python -m course_utils fetch`" in message and "COURSE_MIRROR" in message
    assert str(tmp_path / "home" / catalog.TFDS_DIRNAME / "fashion_mnist") in message
    row = {r["asset"]: r for r in doctor.tfds_rows()}["tfds:fashion_mnist"]
    assert row["status"] == "MISSING" and "apt-get install dataset-fashion-mnist" in row["from"]


def test_doctor_row_and_fetch_to_a_usb_mirror(fashion_home, debian_files, tmp_path, monkeypatch):
    _isolate(monkeypatch, tmp_path / "empty_home", tmp_path, originals=debian_files)
    row = {r["asset"]: r for r in doctor.tfds_rows()}["tfds:fashion_mnist"]
    assert row["status"] == "not prepared" and "python -m course_utils fetch" in row["from"]
    _isolate(monkeypatch, fashion_home, tmp_path)
    row = {r["asset"]: r for r in doctor.tfds_rows()}["tfds:fashion_mnist"]
    assert row["status"] == "prepared" and row["from"].startswith("cache")
    usb = tmp_path / "usb"
    assert fetched(usb)["tfds:fashion_mnist"] == "copied from the cache"
    _isolate(monkeypatch, tmp_path / "empty_home", tmp_path)
    monkeypatch.setenv("COURSE_MIRROR", str(usb))
    found = tfds_sets.locate("fashion_mnist")
    assert found.source == "mirror" and found.path.parent == usb / catalog.TFDS_DIRNAME / "fashion_mnist"
    assert len(list(datasets.tfds_load("fashion_mnist", split="test").take(3))) == 3


def test_a_refusal_is_reported_although_tfds_threads_still_write(debian_files, tmp_path, monkeypatch):
    """TFDS refuses one file while its worker threads still write the others into the scratch folder.

    The learner must see the checksum refusal, not a failed cleanup of the scratch folder.
    """
    import threading
    import time

    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

    writers = []

    class StillWriting:
        def download_and_prepare(self, download_dir, download_config=None):
            def write():
                for i in range(20):
                    out = Path(download_dir) / f"extracting-{i}"
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(b"x")
                    time.sleep(0.05)

            writers.append(threading.Thread(target=write, daemon=True))
            writers[-1].start()
            time.sleep(0.1)
            raise NonMatchingChecksumError("Artifact t10k-labels-idx1-ubyte.gz has wrong checksum")

    _isolate(monkeypatch, tmp_path / "home", tmp_path, originals=debian_files)
    monkeypatch.setattr(tfds, "builder", lambda name, data_dir: StillWriting())
    with pytest.raises(assets.DownloadError, match="not TFDS' originals"):
        tfds_sets.prepare("fashion_mnist")
    writers[0].join()  # nothing keeps writing after the test
