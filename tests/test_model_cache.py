"""course_utils.model_cache: a trained model is reused only when nothing that changes it changed."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils import model_cache  # noqa: E402

X = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
Y = (X[:, 0] > 0).astype("float32")


def build(seed: int = 0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    return model


class Counter:
    """A training function that counts its calls."""

    def __init__(self, x=X, epochs=3):
        self.calls, self.x, self.epochs = 0, x, epochs

    def __call__(self, model):
        self.calls += 1
        return model.fit(self.x, Y, epochs=self.epochs, verbose=0)


def fit3(model):
    return model.fit(X, Y, epochs=3, verbose=0)


def fit4(model):
    return model.fit(X, Y, epochs=4, verbose=0)


def test_second_identical_run_loads_the_weights(tmp_path) -> None:
    train = Counter()
    first = model_cache.train_once(build, train, name="m", data=(X, Y), key={"epochs": 3},
                                   cache_dir=tmp_path, verbose=False)
    second = model_cache.train_once(build, train, name="m", data=(X, Y), key={"epochs": 3},
                                    cache_dir=tmp_path, verbose=False)
    assert train.calls == 1 and not first.from_cache and second.from_cache
    for a, b in zip(first.model.get_weights(), second.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(second.history["loss"]) == 3 and second.history == first.history
    assert second.seconds == pytest.approx(first.seconds)


@pytest.mark.parametrize("change", ["data", "key", "init", "code", "key function"])
def test_any_change_trains_again(tmp_path, change) -> None:
    def helper_a(x):
        return x

    def helper_b(x):
        return x * 2

    base = dict(build=build, train=fit3, name="m", data=(X, Y), key={"epochs": 3, "f": helper_a},
                cache_dir=tmp_path, verbose=False)
    model_cache.train_once(**base)
    changed = dict(base)
    if change == "data":
        touched = X.copy()
        touched[0, 0] += 1e-3
        changed["data"] = (touched, Y)
    elif change == "key":
        changed["key"] = {"epochs": 3, "f": helper_a, "seed": 1}
    elif change == "init":
        changed["build"] = lambda: build(seed=1)
    elif change == "code":
        changed["train"] = fit4
    else:
        changed["key"] = {"epochs": 3, "f": helper_b}
    assert not model_cache.train_once(**changed).from_cache
    assert model_cache.train_once(**base).from_cache


def test_cache_false_always_trains_and_writes_nothing(tmp_path) -> None:
    train = Counter()
    for _ in range(2):
        result = model_cache.train_once(build, train, name="m", cache=False, cache_dir=tmp_path,
                                        verbose=False)
        assert not result.from_cache and result.path is None
    assert train.calls == 2 and not list(tmp_path.iterdir())


def test_a_damaged_cache_file_is_reported_and_retrained(tmp_path, capsys) -> None:
    first = model_cache.train_once(build, fit3, name="m", cache_dir=tmp_path, verbose=False)
    first.path.write_bytes(b"not an h5 file")
    again = model_cache.train_once(build, fit3, name="m", cache_dir=tmp_path, verbose=False)
    assert not again.from_cache and "could not be loaded" in capsys.readouterr().out
    for a, b in zip(first.model.get_weights(), again.model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)  # retrained from the same initial weights
    assert model_cache.train_once(build, fit3, name="m", cache_dir=tmp_path, verbose=False).from_cache


def test_an_unbuilt_model_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="keras.Input"):
        model_cache.train_once(lambda: keras.Sequential([keras.layers.Dense(1)]), fit3, name="m",
                               cache_dir=tmp_path)


def test_describe_covers_functions_layers_and_arrays() -> None:
    assert model_cache.describe(fit3) != model_cache.describe(fit4)
    assert model_cache.describe(keras.layers.RandomZoom(0.1)) != model_cache.describe(
        keras.layers.RandomZoom(0.2))
    assert model_cache.describe(np.zeros(3)) != model_cache.describe(np.ones(3))
    assert model_cache.describe({"b": 1, "a": 2}) == model_cache.describe({"a": 2, "b": 1})


def test_subclassed_models_without_config_get_a_key() -> None:
    class Wrapper(keras.Model):
        def __init__(self):
            super().__init__()
            self.inner = build()

        def call(self, x):
            return self.inner(x)

    model = Wrapper()
    model(X[:1])
    assert "Dense" in model_cache.architecture_text(model) or "dense" in model_cache.architecture_text(model)
    assert len(model_cache.model_key(model, fit3)) == 24


def test_the_same_architecture_built_twice_has_the_same_text() -> None:
    """Keras numbers automatic layer names per session; the key must not depend on them."""
    assert model_cache.architecture_text(build()) == model_cache.architecture_text(build())
    inputs = keras.Input((3,))
    other = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    assert model_cache.architecture_text(build()) != model_cache.architecture_text(other)


def test_classes_count_by_the_source_of_their_methods() -> None:
    class A:
        def step(self):
            return 1

    class B:
        def step(self):
            return 2

    B.__qualname__ = A.__qualname__
    assert model_cache.describe(A) != model_cache.describe(B)
    assert "return 1" in model_cache.describe(A)


def test_a_read_only_cache_is_read_and_never_written(tmp_path, monkeypatch) -> None:
    """The grader's kernels get the instructor's cache read-only: a pretraining found there is loaded."""
    instructor, student = tmp_path / "instructor", tmp_path / "student"
    monkeypatch.setenv("COURSE_CACHE", str(instructor))
    counter = Counter()
    first = model_cache.train_once(build, counter, name="m", verbose=False)
    monkeypatch.setenv("COURSE_CACHE", str(student))
    monkeypatch.setenv("COURSE_CACHE_READONLY", str(instructor))
    again = model_cache.train_once(build, counter, name="m", verbose=False)
    assert counter.calls == 1 and again.from_cache and again.path.parent == instructor / "models"
    assert np.allclose(again.model.get_weights()[0], first.model.get_weights()[0])
    assert not (student / "models").exists() or not any((student / "models").iterdir())
