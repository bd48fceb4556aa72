"""Fixtures for the unit tests: isolated Keras caches, with or without the offline mirror.

Helpers that tests import (the mirror, stand-in networks) are in ``helpers.py``.
"""

from __future__ import annotations

import pytest
from helpers import mirror


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
