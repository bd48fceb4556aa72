"""Reproducibility: one call seeds Python, NumPy and Keras/TensorFlow."""

from __future__ import annotations

import os
import random

import numpy as np

DEFAULT_SEED = 42


def seed_everything(seed: int = DEFAULT_SEED, deterministic_ops: bool = True) -> int:
    """Seed Python's ``random``, NumPy and Keras/TF; optionally make TF ops deterministic.

    Call it first in every lesson. Returns the seed so a lesson can print it.
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    import keras

    keras.utils.set_random_seed(seed)  # seeds Python, NumPy and the backend together
    if deterministic_ops:
        import tensorflow as tf

        try:
            tf.config.experimental.enable_op_determinism()
        except Exception:  # pragma: no cover - older TF or already-initialised runtime
            pass
    return seed
