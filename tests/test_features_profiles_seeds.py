"""Feature caching, profiles and seeding."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import features, profiles, seeds


def _tiny_model():
    import keras

    return keras.Sequential([keras.Input((4, 4, 3)), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(2)], name="tiny")


def test_features_are_computed_once_and_invalidated_by_changes(tmp_path, monkeypatch):
    seeds.seed_everything(0)
    model = _tiny_model()
    calls = []
    real_forward = features.frozen_forward
    monkeypatch.setattr(features, "frozen_forward",
                        lambda *a, **k: calls.append(1) or real_forward(*a, **k))
    x = np.random.default_rng(0).uniform(0, 1, (5, 4, 4, 3)).astype("float32")
    a = features.extract_features(model, x, cache_dir=tmp_path, verbose=False)
    b = features.extract_features(model, x, cache_dir=tmp_path, verbose=False)
    assert np.array_equal(a, b) and len(calls) == 1
    features.extract_features(model, x + 1, cache_dir=tmp_path, verbose=False)  # other images
    assert len(calls) == 2
    model.layers[-1].kernel.assign(model.layers[-1].kernel + 1)  # other weights
    features.extract_features(model, x, cache_dir=tmp_path, verbose=False)
    assert len(calls) == 3 and len(list(tmp_path.glob("*.npy"))) == 3


def test_profiles_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert profiles.get_profile().name == "full"
    monkeypatch.delenv("COURSE_PROFILE")
    assert profiles.get_profile().name == "laptop"
    assert profiles.get_profile("smoke", epochs=1).epochs == 1
    monkeypatch.setenv("COURSE_PROFILE", "huge")
    with pytest.raises(ValueError, match="smoke, laptop, full"):
        profiles.get_profile()


def test_profiles_change_sizes_only():
    fields = {tuple(p.as_dict()) for p in profiles.PROFILES.values()}
    assert len(fields) == 1
    s, lap, f = (profiles.PROFILES[n] for n in ("smoke", "laptop", "full"))
    assert s.image_size <= lap.image_size <= f.image_size and s.epochs <= lap.epochs <= f.epochs


def test_seed_everything_makes_runs_repeat():
    import keras

    seeds.seed_everything(7)
    a = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    seeds.seed_everything(7)
    b = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    assert np.array_equal(a[0], b[0]) and np.allclose(a[1], b[1])


def test_lesson_sizes_follow_the_profile_and_take_overrides(monkeypatch):
    table = {"pool": (10, 100, 1000), "sizes": ([1], [1, 2], [1, 2, 3])}
    monkeypatch.setitem(profiles.LESSON_SIZES, "demo", table)
    monkeypatch.setenv("COURSE_PROFILE", "laptop")
    sizes = profiles.lesson_sizes("demo")
    assert sizes.pool == 100 and sizes.sizes == [1, 2]
    assert profiles.lesson_sizes("demo", "smoke").pool == 10
    exec("SIZES.pool = 7", {"SIZES": sizes})  # what `run -p SIZES.pool=7` injects
    assert sizes.pool == 7
    with pytest.raises(KeyError, match="no sizes for lesson"):
        profiles.lesson_sizes("nope")
    monkeypatch.setitem(profiles.LESSON_SIZES, "bad", {"pool": (1, 2)})
    with pytest.raises(ValueError, match="smoke, laptop, full"):
        profiles.lesson_sizes("bad")
