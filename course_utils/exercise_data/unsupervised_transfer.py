"""Exercise data for the lesson ``unsupervised_transfer``: a colleague's pretraining runs, the digits."""

from __future__ import annotations

import base64
import json

import numpy as np

TEMPERATURES = (0.05, 0.2, 1.0)
"""The candidates of exercise 2."""
RUNS = ("A", "B", "C")
"""The colleague's runs of exercise 1."""
LABELS_PER_CLASS = 10
# Index ranges into MNIST (datasets.load_arrays("mnist"), shuffled with its fixed seed).
LABELLED_FROM = ("x_train", 0, 2000)        # the notebook's labelled draw comes from these
VALIDATION = ("x_test", 5000, 6000)
TEST = ("x_test", 0, 1000)


# The colleague's lost notes: their recipes, encoded so that reading this file does not answer
# exercise 1 (measuring the runs does).
_RECIPES = ("eyJBIjogeyJsb3NzIjogInBvc2l0aXZlc19vbmx5In0sICJCIjogeyJsb3NzIjogIm50X3hlbnQiLCAi"
            "bHIiOiAwLjB9LCAiQyI6IHsibG9zcyI6ICJudF94ZW50IiwgInRlbXBlcmF0dXJlIjogMC4yfX0=")


def colleague_runs() -> dict[str, dict]:
    """The three pretraining recipes of exercise 1 (keyword arguments of the exercise's ``pretrain``)."""
    return json.loads(base64.b64decode(_RECIPES))


def digits(where: tuple[str, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits ``(split, start, stop)`` in [0, 1] with a channel axis, and their labels."""
    from course_utils import datasets

    split, start, stop = where
    d = datasets.load_arrays("mnist")
    y_split = split.replace("x_", "y_")
    x = (d[split][start:stop].astype("float32") / 255.0)[..., None]
    return x, d[y_split][start:stop].astype("int64")


def labelled(where: tuple[str, int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """:data:`LABELS_PER_CLASS` digits of each class drawn from ``where`` with ``seed``."""
    x, y = digits(where)
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), LABELS_PER_CLASS, replace=False)
                          for c in range(10)])
    return x[idx], y[idx]


def exercise_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's digits in [0, 1]: ``"labelled"`` (10 per class), ``"validation"``, ``"test"``."""
    if split == "labelled":
        return labelled(LABELLED_FROM, seed=0)
    if split == "validation":
        return digits(VALIDATION)
    if split == "test":
        return digits(TEST)
    raise ValueError(f"split must be 'labelled', 'validation' or 'test', not {split!r}")


def train_step_case(seed: int) -> dict:
    """A fixed batch and small parts to run a contrastive ``train_step`` on: images, temperature,
    learning rate, and the starting weights of a one-layer encoder and a one-layer projection head."""
    rng = np.random.default_rng(seed)
    n, side, width, out = (6, 4, 8, 4) if seed == 7 else (5, 3, 6, 5)
    return {"images": rng.uniform(0, 1, (n, side, side, 1)).astype("float32"),
            "temperature": 0.5 if seed == 7 else 0.1, "lr": 0.05,
            "encoder": [rng.normal(0, 0.5, (side * side, width)).astype("float32"),
                        rng.normal(0, 0.1, width).astype("float32")],
            "projector": [rng.normal(0, 0.5, (width, out)).astype("float32"),
                          rng.normal(0, 0.1, out).astype("float32")]}


def probe_train_step(model_class, seed: int) -> dict:
    """Run one ``train_step`` of ``model_class(encoder, projector, augment, temperature=...)`` on the
    fixed batch of :func:`train_step_case`, with small parts whose weights it sets, an augmenter that
    adds noise when training, and plain SGD. Returns what a check needs to judge the step from outside:
    the views the augmenter produced (in call order), the loss the step returned, and the weights of
    the encoder and the head after it.
    """
    import keras
    import tensorflow as tf

    case = train_step_case(seed)
    images = case["images"]
    views: list[np.ndarray] = []

    class RecordedNoise(keras.layers.Layer):
        """Adds Gaussian noise when training (nothing otherwise) and keeps what it produced."""

        def call(self, x, training=None):
            y = x + keras.random.normal(keras.ops.shape(x), stddev=0.1) if training else x
            views.append(np.asarray(y))
            return y

    encoder = keras.Sequential([keras.Input(images.shape[1:]), keras.layers.Flatten(),
                                keras.layers.Dense(len(case["encoder"][1]), activation="tanh")])
    projector = keras.Sequential([keras.Input((len(case["encoder"][1]),)),
                                  keras.layers.Dense(len(case["projector"][1]))])
    encoder.layers[-1].set_weights(case["encoder"])
    projector.layers[-1].set_weights(case["projector"])
    model = model_class(encoder, projector, RecordedNoise(), temperature=case["temperature"])
    model.compile(optimizer=keras.optimizers.SGD(case["lr"]))
    model(images[:1])
    views.clear()
    logs = model.train_step(tf.constant(images))
    loss = logs.get("loss") if isinstance(logs, dict) else logs
    return {"views": [np.asarray(v, dtype="float32") for v in views],
            "loss": None if loss is None else float(np.asarray(loss)),
            "encoder": [np.asarray(w, dtype="float32") for w in encoder.layers[-1].get_weights()],
            "projector": [np.asarray(w, dtype="float32") for w in projector.layers[-1].get_weights()]}
