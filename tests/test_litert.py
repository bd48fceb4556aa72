"""Frozen features in LiteRT: Keras' features on real photos, exported once, keyed, cached; else Keras."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers import needs_mirror

from course_utils import backbones, datasets, features, litert, seeds


def _tiny(size=8, pooling="avg", name="tiny_litert"):
    import keras

    pool = keras.layers.GlobalAveragePooling2D() if pooling == "avg" else keras.layers.GlobalMaxPooling2D()
    return keras.Sequential([keras.Input((size, size, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                             pool], name=name)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty course cache, no read-only one, and a fresh 'said once' memory."""
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_CACHE_READONLY", raising=False)
    monkeypatch.delenv(features.RUNTIME_ENV, raising=False)
    monkeypatch.setattr(features, "_ANNOUNCED", set())
    return tmp_path / "cache" / litert.FOLDER


def _count_conversions(monkeypatch):
    calls = []
    real = litert.convert
    monkeypatch.setattr(litert, "convert", lambda *a: calls.append(1) or real(*a))
    return calls


def _pixels(n=5, size=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


@needs_mirror
@pytest.mark.parametrize("size", [96, 224])
def test_litert_features_equal_keras_features_on_real_photos(size, cache):
    """MobileNetV2 with ImageNet weights at both ends of the lessons' sizes, real photos, both paths."""
    base = backbones.load_backbone("mobilenet_v2", size, pooling="avg", verbose=False)
    photos = datasets.load_images("cats_and_dogs", "validation", size, per_class=10, seed=0, verbose=False)
    fast = features.frozen_forward(base, "mobilenet_v2", runtime=features.Runtime.LITERT)
    assert fast.runtime is features.Runtime.LITERT and "XNNPACK" in fast.name, fast.name
    got = features.extract_features(base, photos.x, cache=False, verbose=False, preprocess="mobilenet_v2")
    ref = features.extract_features(base, photos.x, cache=False, verbose=False, preprocess="mobilenet_v2",
                                    runtime=features.Runtime.KERAS)
    worst = float(np.abs(got - ref).max())
    assert got.shape == ref.shape == (20, 1280)
    assert np.allclose(got, ref, **litert.TOLERANCE), f"{size} px: largest difference {worst:.2g}"
    assert not np.array_equal(got, ref), "two runtimes, so float rounding differs somewhere"
    print(f"{size} px: largest difference {worst:.2g}, features average {ref.mean():.2f}")


@needs_mirror
def test_streamed_folder_features_agree_across_runtimes(cache):
    """The streamed path (decoding overlapped with LiteRT) gives Keras' features, row for row."""
    root = datasets.dataset_root("cats_and_dogs") / "validation"
    files = sorted((root / "cats").glob("*.jpg"))[:12]
    base = backbones.load_backbone("mobilenet_v2", 128, pooling="avg", verbose=False)
    got = features.folder_features(base, files, preprocess="mobilenet_v2", cache=False, verbose=False)
    ref = features.folder_features(base, files, preprocess="mobilenet_v2", cache=False, verbose=False,
                                   runtime=features.Runtime.KERAS, batch_size=5)
    assert got.files == ref.files and np.allclose(got.features, ref.features, **litert.TOLERANCE)


def test_without_litert_features_come_from_keras_said_once(cache, monkeypatch, capsys):
    """LiteRT unimportable (no wheel, not installed): Keras computes, one message for the whole run."""
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # `import ai_edge_litert...` raises ImportError
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    seeds.seed_everything(0)
    model = _tiny()
    x = _pixels()
    a = features.extract_features(model, x, cache=False, verbose=False)
    b = features.extract_features(model, x[:3], cache=False, verbose=False, preprocess="mobilenet_v2")
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "LiteRT is not available" in printed[0] and "Keras" in printed[0], printed
    keras_a = features.frozen_forward(model, runtime=features.Runtime.KERAS)(x)
    assert np.array_equal(a, keras_a) and b.shape == (3, 4)
    assert not cache.exists(), "nothing is exported without LiteRT"
    with pytest.raises(litert.LiteRTUnavailable, match="ai-edge-litert"):
        features.frozen_forward(model, runtime=features.Runtime.LITERT)


def test_a_model_that_does_not_convert_runs_in_keras_tried_once(cache, monkeypatch, capsys):
    monkeypatch.setattr(litert, "convert", lambda *a: (_ for _ in ()).throw(ValueError("unsupported op")))
    model = _tiny()
    x = _pixels()
    for _ in range(3):
        out = features.extract_features(model, x, cache=False, verbose=False)
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "could not run in LiteRT (ValueError: unsupported op)" in printed[0]
    assert np.array_equal(out, features.frozen_forward(model, runtime="keras")(x))


def test_the_export_is_keyed_by_everything_that_changes_it(cache, monkeypatch):
    seeds.seed_everything(0)
    conversions = _count_conversions(monkeypatch)
    model = _tiny()
    x = _pixels()
    first = features.extract_features(model, x, cache=False, verbose=False)
    features.extract_features(model, _pixels(seed=1), cache=False, verbose=False)  # other images
    assert len(conversions) == 1 and len(list(cache.glob("*.tflite"))) == 1
    twin = _tiny()  # a new model object, same architecture and weights (layers numbered anew)
    twin.set_weights(model.get_weights())
    assert np.array_equal(features.extract_features(twin, x, cache=False, verbose=False), first)
    assert len(conversions) == 1, "the same model from another build loads the cached export"

    max_pooled = _tiny(pooling="max")
    max_pooled.set_weights(model.get_weights())  # same weights and shapes: only the pooling differs
    features.extract_features(max_pooled, x, cache=False, verbose=False)
    features.extract_features(model, x, cache=False, verbose=False, preprocess="mobilenet_v2")
    features.extract_features(model, x.astype("float32"), cache=False, verbose=False)  # float input
    bigger = _tiny(size=10)
    bigger.set_weights(model.get_weights())  # fully convolutional: the same weights at another size
    features.extract_features(bigger, _pixels(size=10), cache=False, verbose=False)
    model.layers[0].kernel.assign(model.layers[0].kernel * 2)  # other weights
    features.extract_features(model, x, cache=False, verbose=False)
    assert len(conversions) == 6 and len(list(cache.glob("*.tflite"))) == 6
    assert not list(cache.glob(".*")), "no temporary file is left behind"
    assert features.model_digest(model) != features.model_digest(twin)


def test_a_readonly_cache_serves_the_export_and_is_never_written(tmp_path, cache, monkeypatch):
    seeds.seed_everything(0)
    model = _tiny()
    x = _pixels()
    instructor, student = tmp_path / "instructor", tmp_path / "student"
    monkeypatch.setenv("COURSE_CACHE", str(instructor))
    first = features.extract_features(model, x, verbose=False)
    exported = sorted((instructor / litert.FOLDER).iterdir())
    assert len(exported) == 1
    monkeypatch.setenv("COURSE_CACHE", str(student))
    monkeypatch.setenv("COURSE_CACHE_READONLY", str(instructor))
    conversions = _count_conversions(monkeypatch)
    fresh = _tiny()  # nothing held in memory: the file must come from the read-only cache
    fresh.set_weights(model.get_weights())
    again = features.extract_features(fresh, x, cache=False, verbose=False)
    assert not conversions and np.array_equal(again, first)
    assert not (student / litert.FOLDER).exists()
    assert sorted((instructor / litert.FOLDER).iterdir()) == exported


def test_an_unwritable_cache_exports_without_caching(tmp_path, cache, monkeypatch, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(litert, "cache_folder", lambda: blocker / "litert")
    model = _tiny()
    out = features.extract_features(model, _pixels(), cache=False)
    assert "not cached: the folder is not writable" in capsys.readouterr().out
    assert np.allclose(out, features.frozen_forward(model, runtime="keras")(_pixels()), **litert.TOLERANCE)


def test_a_damaged_export_is_exported_again(cache, monkeypatch, capsys):
    model = _tiny()
    features.extract_features(model, _pixels(), cache=False, verbose=False)
    (path,) = cache.glob("*.tflite")
    path.write_bytes(b"\0" * 100)
    fresh = _tiny()
    fresh.set_weights(model.get_weights())
    out = features.extract_features(fresh, _pixels(), cache=False, verbose=False)
    assert "could not be loaded" in capsys.readouterr().out
    assert path.stat().st_size > 100 and out.shape == (5, 4)


def test_a_model_without_an_input_size_is_exported_for_the_images_given(cache, monkeypatch):
    conversions = _count_conversions(monkeypatch)
    model = _tiny(size=None)
    small, large = _pixels(size=8), _pixels(size=12)
    for x in (small, large, small):
        got = features.extract_features(model, x, cache=False, verbose=False)
        assert np.allclose(got, features.frozen_forward(model, runtime="keras")(x), **litert.TOLERANCE)
    assert len(conversions) == 2 and len(list(cache.glob("*.tflite"))) == 2


def test_the_runtime_can_be_forced_to_keras(cache, monkeypatch):
    monkeypatch.setenv(features.RUNTIME_ENV, "keras")
    forward = features.frozen_forward(_tiny())
    assert forward.runtime is features.Runtime.KERAS and forward.name.startswith("Keras")
    assert forward.batch_size == features.DEFAULT_BATCH_SIZE
    monkeypatch.setenv(features.RUNTIME_ENV, "litert")
    forward = features.frozen_forward(_tiny())
    assert forward.runtime is features.Runtime.LITERT and forward.batch_size == litert.BATCH_SIZE
    assert forward(_pixels(n=3)).shape == (3, 4) and forward(_pixels(n=9)).shape == (9, 4)  # any batch
    monkeypatch.setenv(features.RUNTIME_ENV, "fast")
    with pytest.raises(ValueError, match="auto, litert, keras"):
        features.frozen_forward(_tiny())


def test_doctor_says_where_frozen_features_run(monkeypatch):
    from course_utils.cli import doctor

    monkeypatch.delenv(features.RUNTIME_ENV, raising=False)
    assert doctor.litert_row().startswith(litert.version())
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    row = doctor.litert_row()
    assert row.startswith("NOT AVAILABLE") and "run in Keras" in row and "pip install ai-edge-litert" in row


def test_a_batch_split_between_interpreters_gives_one_interpreters_features(cache):
    model = _tiny(size=8)
    forward = features.forward_function(model, None, "uint8")
    content = litert.convert(forward)
    split, whole = litert.Runner(content, cores=2), litert.Runner(content, cores=2, split=False)
    assert split.split and not whole.split and "2 cores" in split.name
    for n in (1, 2, 5):
        x = _pixels(n=n)
        assert np.allclose(split(x), whole(x), rtol=1e-6, atol=1e-6)
        assert split(x).shape == (n, 4)


def _runner(cores=2, split=True):
    model = _tiny(size=8)
    content = litert.convert(features.forward_function(model, None, "uint8"))
    return litert.Runner(content, cores=cores, split=split)


@pytest.mark.parametrize("split", [True, False])
def test_a_stream_runs_each_item_on_one_core_in_order(cache, split):
    """Runner.map: outputs in the items' order, as runner(batch) gives them; notes pass through."""
    runner = _runner(split=split)
    x = _pixels(n=9)
    loads = []

    def load(i):
        loads.append(i)
        return (None if i == 4 else x[i:i + 1]), f"item {i}"  # item 4: nothing to run (say, a bad file)

    out = list(runner.map(load, range(9)))
    assert [note for _, note in out] == [f"item {i}" for i in range(9)] and sorted(loads) == list(range(9))
    assert out[4][0] is None
    got = np.concatenate([o for o, _ in out if o is not None])
    assert np.allclose(got, runner(np.delete(x, 4, axis=0)), rtol=1e-6, atol=1e-6)


def test_a_stream_bounds_its_work_raises_errors_and_stops_early(cache):
    import threading

    runner = _runner()
    x, started = _pixels(n=1), []

    def map_threads():
        return [t for t in threading.enumerate() if t.name.startswith("litert-map")]

    def load(i):
        started.append(i)
        if i == 7:
            raise ValueError("unreadable item 7")
        return x, i

    stream = runner.map(load, range(1000), ahead=4)
    assert next(stream)[1] == 0
    stream.close()  # the caller stops after one: the rest is cancelled, the threads end
    assert len(started) <= 6 and not map_threads()
    with pytest.raises(ValueError, match="unreadable item 7"):
        list(runner.map(load, range(20)))
    assert not map_threads()


def test_a_runner_serves_a_stream_and_batches_from_other_threads_at_once(cache):
    from concurrent.futures import ThreadPoolExecutor

    runner = _runner()
    x = _pixels(n=6)
    expected = runner(x)
    with ThreadPoolExecutor(3) as pool:
        batches = [pool.submit(runner, x) for _ in range(20)]
        streamed = np.concatenate([o for o, _ in runner.map(lambda i: (x[i:i + 1], i), range(6))])
        assert all(np.allclose(b.result(), expected, rtol=1e-6, atol=1e-6) for b in batches)
    assert np.allclose(streamed, expected, rtol=1e-6, atol=1e-6)


def test_streamed_litert_features_and_report_equal_keras_file_by_file(cache, tmp_path):
    """folder_features in LiteRT decodes each file on the core that runs it: same rows, same
    report (bad files included, by name and reason), Keras' features, one file or several per call."""
    from PIL import Image

    rng = np.random.default_rng(0)
    files = []
    for i in range(7):
        path = tmp_path / "photos" / f"p{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(path)
        files.append(path)
    files[2].write_bytes(b"")
    files[5].write_text("not an image")
    model = _tiny(size=8)
    ref = features.folder_features(model, files, labels=range(7), cache=False, verbose=False,
                                   runtime=features.Runtime.KERAS)
    for batch_size in (None, 3):
        got = features.folder_features(model, files, labels=range(7), cache=False, verbose=False,
                                       batch_size=batch_size, runtime=features.Runtime.LITERT)
        assert got.files == ref.files and len(got.files) == 5 and list(got.labels) == [0, 1, 3, 4, 6]
        assert got.report.skipped == ref.report.skipped and len(got.report.skipped) == 2
        assert np.allclose(got.features, ref.features, **litert.TOLERANCE)
