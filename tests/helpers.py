"""What the unit tests share: the checkout, the offline mirror, and small stand-in networks.

Imported by test modules (``from helpers import ...``); pytest fixtures live in ``conftest.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent  # the environment is set in ../conftest.py


def mirror() -> Path | None:
    """Return the configured mirror, if it exists."""
    value = os.environ.get("COURSE_MIRROR")
    return Path(value) if value and Path(value).is_dir() else None


needs_mirror = pytest.mark.skipif(mirror() is None, reason="needs COURSE_MIRROR (the course mirror)")


def tiny_backbone(size: int = 8, batchnorm: bool = False):
    """A pooled stand-in for MobileNetV2 with more than 20 layers (so the checks count it as a backbone):
    21 1x1 convolutions, or with ``batchnorm`` 11 convolution + BatchNormalization pairs."""
    import keras

    inputs = keras.Input((size, size, 3))
    x = inputs
    for _ in range(11 if batchnorm else 21):
        x = keras.layers.Conv2D(3, 1)(x)
        if batchnorm:
            x = keras.layers.BatchNormalization()(x)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name="tiny_base")
