"""Dataset registry, array loading, embedded synthetic sets, seeded splits."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import needs_mirror

from course_utils import datasets


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled"):
        datasets.load_npz(path)
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ValueError, match="not a readable"):
        datasets.load_npz(tmp_path / "broken.npz")


def test_registry_has_every_dataset_the_course_names():
    for name in ["cats_and_dogs", "pacs", "hymenoptera", "flowers", "photos", "mnist", "usps",
                 "mnist_m", "pneumonia"]:
        assert name in datasets.DATASETS
        asset = datasets.DATASETS[name]
        assert asset.url or asset.manual, f"{name} says neither how to download nor what to do"


def test_digit_fonts_exclude_symbol_fonts():
    names = {p.name for p in datasets.digit_fonts()}
    assert "DejaVuSans.ttf" in names
    assert not names & {"cmsy10.ttf", "cmex10.ttf", "LastResortHE-Regular.ttf", "STIXNonUni.ttf"}


def test_printed_digits_are_balanced_and_reproducible():
    x, y = datasets.printed_digits(per_class=6, size=28, seed=1)
    assert x.shape == (60, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [6] * 10
    assert np.array_equal(x, datasets.printed_digits(per_class=6, size=28, seed=1)[0])
    assert x.max() > 200 and x[:, 0, 0].max() < 50, "white digits on a black background"


def test_printed_digits_are_learnable():
    from sklearn.linear_model import LogisticRegression

    x, y = datasets.printed_digits(per_class=60, size=20, seed=0)
    clf = LogisticRegression(max_iter=500).fit(x[:400].reshape(400, -1) / 255, y[:400])
    assert clf.score(x[400:].reshape(200, -1) / 255, y[400:]) > 0.4, "chance is 0.1"


def test_mnist_m_style_keeps_shape_and_adds_colour():
    x, _ = datasets.printed_digits(per_class=2, size=28)
    m = datasets.mnist_m_style(x, seed=0)
    assert m.shape == (20, 28, 28, 3) and m.dtype == np.uint8
    assert np.abs(m[..., 0].astype(int) - m[..., 2]).mean() > 5, "backgrounds are coloured"


def test_sklearn_digits_and_package_photos_need_no_mirror(isolated_home):
    x, y = datasets.sklearn_digits()
    assert x.shape == (1797, 8, 8) and x.max() == 255
    photos = datasets.load_photos(64)
    assert {"chelsea", "astronaut"} <= set(photos) and photos["chelsea"].shape == (64, 64, 3)


@needs_mirror
def test_seeded_splits_are_disjoint_and_fixed():
    root = datasets.dataset_root("flowers")
    parts = {s: datasets.split_files(root, s) for s in ("train", "validation", "test")}
    for cls in parts["train"]:
        sets = [set(parts[s][cls]) for s in parts]
        assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
        assert sum(map(len, sets)) == len(list((root / cls).iterdir()))
    assert datasets.split_files(root, "test") == parts["test"]


@needs_mirror
def test_mirror_datasets_load(mirror_only):
    s = datasets.load_images("cats_and_dogs", "validation", 32, per_class=3, verbose=False)
    assert s.x.shape == (6, 32, 32, 3) and s.class_names == ["cats", "dogs"]
    ds = s.as_dataset(batch_size=4)
    xb, yb = next(iter(ds))
    assert tuple(xb.shape) == (4, 32, 32, 3)
    p = datasets.load_images("pacs", "train", 32, per_class=1, domain="sketch", verbose=False)
    assert len(p.class_names) == 7
    mnist = datasets.load_arrays("mnist")
    assert len(set(mnist["y_train"][:50].tolist())) > 5, "MNIST's sorted training set is shuffled"
    assert datasets.load_arrays("mnist_m")["x_train"].shape[1:] == (32, 32, 3)
    assert set(datasets.load_arrays("pneumonia")) >= {"x_train", "y_val", "x_test"}


@needs_mirror
@pytest.mark.parametrize("name", ["cats_and_dogs", "hymenoptera"])
def test_held_out_test_split_never_overlaps_validation(name):
    root = datasets.dataset_root(name) / datasets.SPLIT_FOLDERS[name]["validation"]
    fraction = datasets.HELD_OUT_TEST[name]
    val = datasets.held_out_files(root, "validation", fraction)
    test = datasets.held_out_files(root, "test", fraction)
    for cls in val:
        everything = sorted(p for p in (root / cls).iterdir() if p.is_file())
        assert not set(val[cls]) & set(test[cls])
        assert sorted(val[cls] + test[cls]) == everything
        assert len(test[cls]) == round(fraction * len(everything))
    assert datasets.held_out_files(root, "test", fraction) == test  # fixed, the same for everyone
    with pytest.raises(ValueError, match="held-out"):
        datasets.held_out_files(root, "train", fraction)


@needs_mirror
def test_load_images_reads_the_test_split():
    test = datasets.load_images("hymenoptera", "test", 16, verbose=False)
    val = datasets.load_images("hymenoptera", "validation", 16, verbose=False)
    assert len(test) + len(val) == 153 and test.class_names == ["ants", "bees"]
