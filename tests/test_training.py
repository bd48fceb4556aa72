"""methods.training: rewinding a compiled model reproduces a fresh run and keeps the traced step."""

import keras
import numpy as np

from course_utils import seeds
from course_utils.methods import training


def _model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_rewind_reproduces_a_fresh_run_without_retracing():
    x, y = _data()
    seeds.seed_everything(1)
    model = _model()
    initial = model.get_weights()
    model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    first = model.get_weights()
    step = model.train_function
    assert int(model.optimizer.iterations) == 12

    training.rewind(model, initial)
    assert int(model.optimizer.iterations) == 0
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), initial, strict=True))
    model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    assert model.train_function is step, "the traced training step should be reused"
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(model.get_weights(), first, strict=True))


def test_rewind_sets_the_learning_rate_and_keeps_it():
    x, y = _data()
    model = _model()
    initial = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    training.rewind(model, initial, learning_rate=1e-4)
    assert np.isclose(float(model.optimizer.learning_rate), 1e-4)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isclose(float(model.optimizer.learning_rate), 1e-4)
    # a tiny learning rate moves the weights only a little from where they were rewound to
    moved = max(float(np.abs(a - b).max()) for a, b in zip(model.get_weights(), initial, strict=True))
    assert 0 < moved < 1e-2


def test_rewind_before_any_training_is_harmless():
    model = _model()
    initial = model.get_weights()
    training.rewind(model, initial, learning_rate=5e-3)
    assert np.isclose(float(model.optimizer.learning_rate), 5e-3)


def test_rewind_keeps_each_learning_rate_of_a_multi_optimizer():
    x, y = _data()
    seeds.seed_everything(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu", name="low"),
                              keras.layers.Dense(1, name="high")])
    groups = keras.optimizers.OptimizerMap(keras.optimizers.Adam(1e-2),
                                           {".*low.*": keras.optimizers.Adam(1e-4)})
    model.compile(optimizer=keras.optimizers.MultiOptimizer(groups), loss="mse")
    initial = model.get_weights()
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    first = model.get_weights()

    training.rewind(model, initial)
    rates = sorted(round(float(o.learning_rate), 6) for o in model.optimizer.optimizers)
    assert rates == [1e-4, 1e-2], "every group keeps its own learning rate"
    assert all(int(o.iterations) == 0 for o in model.optimizer.optimizers)
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(model.get_weights(), first, strict=True))
