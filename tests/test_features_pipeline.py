"""The feature pipeline: parallel decoding, streaming in bounded memory, cache keys, same features."""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from course_utils import backbones, features, images, seeds


def _tiny_model(size=16):
    import keras

    return keras.Sequential([keras.Input((size, size, 3)), keras.layers.Conv2D(3, 3),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)],
                            name="tiny")


def _photo(path, seed, size=(40, 30), mode="RGB", fmt="JPEG"):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).convert(mode).save(path, fmt)
    return path


@pytest.fixture
def messy(tmp_path):
    """Two classes of real (noise) photos plus every kind of bad file."""
    root = tmp_path / "pets"
    for i in range(5):
        _photo(root / f"cats/c{i}.jpg", i)
        _photo(root / f"dogs/d{i}.jpg", 10 + i)
    _photo(root / "cats/gray.png", 20, mode="L", fmt="PNG")
    (root / "cats/empty.jpg").write_bytes(b"")
    (root / "cats/notes.txt").write_text("not an image")
    (root / "dogs/fake.jpg").write_text("<html>this is not a jpeg</html>")
    good = (root / "dogs/d0.jpg").read_bytes()
    (root / "dogs/truncated.jpg").write_bytes(good[: len(good) // 2])
    (root / ".ipynb_checkpoints").mkdir()
    (root / "cats/.DS_Store").write_bytes(b"\0\1")
    return root


BAD = {"empty.jpg", "notes.txt", "fake.jpg", "truncated.jpg"}


def test_parallel_decoding_gives_the_sequential_pixels(messy):
    one = images.load_image_folder(messy, 24, verbose=False, workers=1)
    four = images.load_image_folder(messy, 24, verbose=False, workers=4)
    assert np.array_equal(one[0], four[0]) and np.array_equal(one[1], four[1])
    assert one[2].skipped == four[2].skipped and one[2].counts == {"cats": 6, "dogs": 5}
    sample = images.load_image_folder(messy, 24, per_class=3, seed=1, verbose=False, workers=4)
    assert sample[2].counts == {"cats": 3, "dogs": 3}


def test_folder_features_report_every_bad_file_by_name(messy, tmp_path, capsys):
    seeds.seed_everything(0)
    model = _tiny_model()
    out = features.folder_features(model, messy, batch_size=4, cache_dir=tmp_path / "cache")
    skipped = {p.split("/")[-1]: why for p, why in out.report.skipped}
    assert set(skipped) == BAD
    assert "empty" in skipped["empty.jpg"] and "corrupt" in skipped["truncated.jpg"]
    assert {p.split("/")[-1] for p, _ in out.report.converted} == {"gray.png"}
    assert out.report.counts == {"cats": 6, "dogs": 5} and out.class_names == ["cats", "dogs"]
    assert out.features.shape == (11, 2) and len(out.files) == 11
    assert list(out.labels) == [0] * 6 + [1] * 5
    assert not {p.name for p in out.files} & BAD
    printed = capsys.readouterr().out
    assert "skipped 4 files" in printed and "truncated.jpg" in printed


def test_folder_features_equal_the_old_in_memory_path(messy, tmp_path):
    """Streamed from disk, uint8 + preprocessing in the graph == NumPy + preprocess + predict."""
    seeds.seed_everything(0)
    base = backbones.load_backbone("mobilenet_v2", 32, pooling="avg", weights=None)
    x, y, _ = images.load_image_folder(messy, 32, verbose=False)
    old = base.predict(backbones.preprocess("mobilenet_v2", x), batch_size=64, verbose=0)
    streamed = features.folder_features(base, messy, preprocess="mobilenet_v2", batch_size=4,
                                        cache=False, verbose=False)
    in_memory = features.extract_features(base, x, preprocess="mobilenet_v2", cache=False,
                                          verbose=False)
    as_before = features.extract_features(base, backbones.preprocess("mobilenet_v2", x),
                                          cache=False, verbose=False)
    for new in (streamed.features, in_memory, as_before):
        np.testing.assert_allclose(new, old, rtol=1e-4, atol=1e-5)
    assert np.array_equal(streamed.labels, y)
    with pytest.raises(ValueError, match="raw 0-255 pixels"):
        features.extract_features(base, backbones.preprocess("mobilenet_v2", x),
                                  preprocess="mobilenet_v2", cache=False, verbose=False)


def _count_computations(monkeypatch):
    """Count the forward passes set up (one per computation, whichever runtime runs it)."""
    calls = []
    real = features.frozen_forward
    monkeypatch.setattr(features, "frozen_forward", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_folder_cache_hits_and_misses(messy, tmp_path, monkeypatch):
    seeds.seed_everything(0)
    model = _tiny_model(None)  # any input size
    cache = tmp_path / "cache"
    calls = _count_computations(monkeypatch)
    first = features.folder_features(model, messy, image_size=16, cache_dir=cache, verbose=False)
    real_read = images.read_image
    monkeypatch.setattr(images, "read_image", lambda *a: pytest.fail("a cache hit decoded a file"))
    again = features.folder_features(model, messy, image_size=16, cache_dir=cache, verbose=False)
    assert len(calls) == 1, "the second call must be a cache hit"
    assert np.array_equal(first.features, again.features) and first.files == again.files
    assert first.report.skipped == again.report.skipped, "a cache hit reports the skipped files too"
    assert again.report.counts == first.report.counts
    monkeypatch.setattr(images, "read_image", real_read)

    touched = messy / "cats/c0.jpg"
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # touched: recompute
    features.folder_features(model, messy, image_size=16, cache_dir=cache, verbose=False)
    _photo(messy / "dogs/new.jpg", 99)  # a new file: recompute
    features.folder_features(model, messy, image_size=16, cache_dir=cache, verbose=False)
    features.folder_features(model, messy, image_size=8, cache_dir=cache, verbose=False)  # other size
    features.folder_features(model, messy, image_size=16, preprocess="mobilenet_v2", cache_dir=cache,
                             verbose=False)
    model.layers[-1].kernel.assign(model.layers[-1].kernel + 1)  # other weights
    features.folder_features(model, messy, image_size=16, cache_dir=cache, verbose=False)
    assert len(calls) == 6 and len(list(cache.glob("*.npz"))) == 6


def test_array_cache_keys_on_uint8_pixels_and_preprocessing(tmp_path, monkeypatch):
    seeds.seed_everything(0)
    model = _tiny_model(4)
    calls = _count_computations(monkeypatch)
    x = np.random.default_rng(0).integers(0, 256, (6, 4, 4, 3), dtype=np.uint8)
    a = features.extract_features(model, x, preprocess="mobilenet_v2", cache_dir=tmp_path, verbose=False)
    b = features.extract_features(model, x.copy(), preprocess="mobilenet_v2", cache_dir=tmp_path,
                                  verbose=False)
    assert np.array_equal(a, b) and len(calls) == 1
    features.extract_features(model, x, cache_dir=tmp_path, verbose=False)  # no preprocessing
    features.extract_features(model, x, preprocess=lambda t: t / 255.0, cache_dir=tmp_path,
                              verbose=False)
    touched = x.copy()
    touched[0, 0, 0, 0] ^= 1
    features.extract_features(model, touched, preprocess="mobilenet_v2", cache_dir=tmp_path,
                              verbose=False)
    assert len(calls) == 4 and len(list(tmp_path.glob("*.npy"))) == 4
    # The key of a float array is what it always was: its bytes, read in place.
    f = x.astype("float32")
    assert features.fingerprint(model, f) == features.fingerprint(model, f.copy())


def test_a_list_of_files_with_labels(messy):
    model = _tiny_model()
    files = sorted(messy.glob("*/*.jpg"))
    out = features.folder_features(model, files, labels=[int(p.parent.name == "dogs") for p in files],
                                   class_names=["cats", "dogs"], cache=False, verbose=False)
    assert {p.split("/")[-1] for p, _ in out.report.skipped} == {"empty.jpg", "fake.jpg", "truncated.jpg"}
    assert len(out) == 10 and set(out.labels) == {0, 1}
    unlabelled = features.folder_features(model, files, cache=False, verbose=False)
    assert set(unlabelled.labels) == {-1}


def _many_photos(root, n, size):
    for i in range(n):
        _photo(root / f"c{i % 2}/{i:04d}.jpg", i, size=(size, size))
    return root


def _streamed_peak(model, root, batch):
    listing = images.list_image_files(root)  # the file list itself is not what is measured
    tracemalloc.start()
    out = features.folder_features(model, listing, batch_size=batch, cache=False, verbose=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, peak


def test_streaming_memory_stays_bounded(tmp_path):
    """A streamed folder holds a few batches of pixels, however many files it has."""
    size, batch = 48, 16
    small = _many_photos(tmp_path / "small", 300, size)
    large = _many_photos(tmp_path / "large", 1500, size)
    model = _tiny_model(size)
    features.folder_features(model, small, batch_size=batch, cache=False, verbose=False)  # trace once
    _, small_peak = _streamed_peak(model, small, batch)
    out, large_peak = _streamed_peak(model, large, batch)
    tracemalloc.start()
    x, _, _ = images.load_image_folder(large, size, verbose=False)
    in_memory_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    image_bytes = size * size * 3
    assert len(out) == 1500 and x.nbytes == 1500 * image_bytes
    # Pixels: decoded images in flight (2 batches ahead), the batch buffer, the batch handed out.
    # Per file, only bookkeeping (its name in the report, a flag, its feature row).
    per_file = (large_peak - small_peak) / 1200
    assert per_file < image_bytes / 4, f"{per_file:.0f} bytes per extra file: pixels are being kept"
    bound = 6 * batch * image_bytes + 1500 * image_bytes / 4 + 256 * 1024
    assert large_peak < bound, f"streaming peaked at {large_peak} bytes (bound {bound:.0f})"
    assert 3 * large_peak < x.nbytes <= in_memory_peak


def test_image_stream_is_a_tf_data_pipeline_that_reports_once_per_file(messy):
    listing = images.list_image_files(messy)
    assert len(listing) == 15 and listing.class_names == ["cats", "dogs"]
    ds = images.image_stream(listing, 16, batch_size=4, shuffle=True, seed=3)
    epochs = [[(x.numpy(), y.numpy()) for x, y in ds] for _ in range(2)]
    for batches in epochs:
        assert sum(len(y) for _, y in batches) == 11
        assert all(x.dtype == np.uint8 and x.shape[1:] == (16, 16, 3) for x, _ in batches)
    order = [np.concatenate([y for _, y in b]) for b in epochs]
    assert sorted(order[0]) == sorted(order[1]) == [0] * 6 + [1] * 5
    assert not all(np.array_equal(x0, x1) for (x0, _), (x1, _) in zip(*epochs, strict=True)), \
        "each epoch reads in a new order"
    assert {p.split("/")[-1] for p, _ in listing.report.skipped} == BAD
    assert len(listing.report.skipped) == 4, "two epochs report each bad file once"
    assert listing.report.counts == {"cats": 6, "dogs": 5}
    again = images.image_stream(images.list_image_files(messy), 16, batch_size=4, shuffle=True, seed=3)
    first = [x.numpy() for x, _ in again]
    assert all(np.array_equal(a, b) for a, b in zip(first, [x for x, _ in epochs[0]], strict=True)), \
        "the shuffled order is repeatable with the same seed"


def test_time_batch_sizes_measures_each_size():
    speeds = features.time_batch_sizes(_tiny_model(), sizes=(2, 4), n_images=8, rounds=1)
    assert set(speeds) == {2, 4} and all(v > 0 for v in speeds.values())


def test_a_readonly_cache_is_read_and_never_written(tmp_path, monkeypatch):
    """Features an instructor cached (``COURSE_CACHE_READONLY``) are loaded, never recomputed or changed."""
    seeds.seed_everything(0)
    model = _tiny_model()
    x = np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    instructor, student = tmp_path / "instructor", tmp_path / "student"
    monkeypatch.setenv("COURSE_CACHE", str(instructor))
    monkeypatch.delenv("COURSE_CACHE_READONLY", raising=False)
    first = features.extract_features(model, x, verbose=False)
    stored = sorted((instructor / "features").iterdir())
    monkeypatch.setenv("COURSE_CACHE", str(student))
    monkeypatch.setenv("COURSE_CACHE_READONLY", str(instructor))
    calls = []
    again, computed = features.cached_array(stored[0].stem, lambda: calls.append(1), cache=True)
    assert not computed and not calls and np.array_equal(again, first)
    assert np.array_equal(features.extract_features(model, x, verbose=False), first)
    assert not (student / "features").exists()
    assert sorted((instructor / "features").iterdir()) == stored
