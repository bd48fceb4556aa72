"""Exercise data for the lesson ``domain_mismatch``: feature pairs for a CORAL loss, digit sets to compare."""

from __future__ import annotations

import numpy as np


def coral_pairs(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Feature batches to try a CORAL loss on: (same, same), (x, x + shift), and three shifted pairs."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(48, 6)).astype("float32")
    pairs = [(a, a), (a, a + 3.0)]
    for _ in range(3):
        scale = rng.uniform(0.3, 3.0, size=6).astype("float32")
        mix = rng.normal(size=(6, 6)).astype("float32") * 0.3
        pairs.append((a, (rng.normal(size=(40, 6)).astype("float32") * scale) @ (np.eye(6) + mix)))
    return pairs


def mnist_test_rgb32(start: int, stop: int | None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST test digits ``start:stop`` as 32x32x3 float (0-255), padded like MNIST-M, and labels."""
    from course_utils import datasets

    d = datasets.load_arrays("mnist")
    x = np.pad(d["x_test"][start:stop], ((0, 0), (2, 2), (2, 2)))
    return np.repeat(x[..., None], 3, axis=-1).astype("float32"), d["y_test"][start:stop]


def sorted_pair() -> tuple[np.ndarray, np.ndarray]:
    """The hidden check's first pair for ``fair_pad``: two sets of held-out MNIST digits."""
    a, labels = mnist_test_rgb32(4000, 6000)
    b, _ = mnist_test_rgb32(6000, 8000)
    return a[np.argsort(labels, kind="stable")], b


def shifted_pair() -> tuple[np.ndarray, np.ndarray]:
    """The hidden check's second pair for ``fair_pad``: held-out MNIST and MNIST-M test digits, 600 each.

    (The exercise shows MNIST-M test digits ``[:600]``; the AdaBN check scores on ``[-600:]``.)
    """
    from course_utils import datasets

    a, _ = mnist_test_rgb32(8000, 8600)
    return a, datasets.load_arrays("mnist_m")["x_test"][600:1200].astype("float32")


def exercise_xt(count: int) -> np.ndarray:
    """The exercise's unlabelled target digits: the first ``count`` MNIST-M training digits, float 0-255."""
    from course_utils import datasets

    return datasets.load_arrays("mnist_m")["x_train"][:count].astype("float32")


def reversal_cases(seed: int) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """(lam, x, upstream gradient) cases to run a gradient reversal layer on: several lam, shapes."""
    rng = np.random.default_rng(seed)
    lams = (0.5, 2.0, 1.0) if seed == 7 else (0.1, 1.0, 3.0, 0.0)
    shapes = ((4, 3), (2, 5), (3, 2, 2)) if seed == 7 else ((5, 4), (2, 3, 2), (6,), (3, 3))
    return [(lam, rng.normal(size=shape).astype("float32"), rng.normal(size=shape).astype("float32"))
            for lam, shape in zip(lams, shapes, strict=True)]


def probe_reversal(layer_class, seed: int) -> list[dict]:
    """Run ``layer_class(lam=...)`` on each case of :func:`reversal_cases`: what it outputs, and the
    gradient that reaches its input when ``upstream`` arrives from above (``None`` when none does).

    This only watches the layer from outside (a ``tf.GradientTape``); it is how a check sees what a
    layer does, whatever the layer's code looks like.
    """
    import tensorflow as tf

    results = []
    for lam, x, upstream in reversal_cases(seed):
        layer = layer_class(lam=lam)
        inputs = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = layer(inputs)
        gradient = tape.gradient(outputs, inputs, output_gradients=tf.constant(upstream))
        results.append({"forward": np.asarray(outputs, dtype="float32"),
                        "gradient": None if gradient is None else np.asarray(gradient, dtype="float32")})
    return results
