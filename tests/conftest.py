"""Fixtures for the unit tests: the offline mirror, and isolated Keras caches."""

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


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    """An empty Keras cache, no mirror, and no network: nothing can be found."""
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.delenv("COURSE_MIRROR", raising=False)
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    return home


@pytest.fixture
def mirror_only(tmp_path, monkeypatch):
    """The course mirror, an empty Keras cache, and no network."""
    if mirror() is None:
        pytest.skip("needs COURSE_MIRROR")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "course_cache"))
    return mirror()


def tiny_backbone(size: int = 8):
    """A pooled stand-in for MobileNetV2 with more than 20 layers (so the checks count it as a backbone)."""
    import keras

    inputs = keras.Input((size, size, 3))
    x = inputs
    for _ in range(21):
        x = keras.layers.Conv2D(3, 1)(x)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name="tiny_base")
