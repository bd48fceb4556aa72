"""Tests for lesson 03 checks: structure hints on tiny Keras models; with the mirror, the genuine base."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from helpers import needs_mirror, tiny_backbone  # noqa: E402

from course_utils.checks.registry import run_check  # noqa: E402


def head(n: int = 3, activation: str = "sigmoid", bias: float = 0.0) -> keras.Model:
    model = keras.Sequential([keras.Input((n,)), keras.layers.Dense(1, activation=activation)])
    model.layers[-1].set_weights([np.zeros((n, 1)), np.full((1,), bias)])
    return model


def test_frozen_features_wants_frozen_pooled_base_and_one_row_per_photo():
    base = tiny_backbone()
    feats = np.zeros((4, 3))
    assert "base.trainable = False" in run_check("03.frozen_features", base=base, train_features=feats,
                                                 n_images=4).message
    base.trainable = False
    assert "is not MobileNetV2" in run_check("03.frozen_features", base=base, train_features=feats,
                                             n_images=4).message
    assert "expected (5, 3)" in run_check("03.frozen_features", base=base, train_features=feats,
                                          n_images=5).message


@pytest.fixture(scope="module")
def genuine_base():
    from course_utils import backbones

    base = backbones.load_backbone("mobilenet_v2", 32, pooling="avg", verbose=False)
    base.trainable = False
    return base


@needs_mirror
def test_frozen_features_passes_with_the_imagenet_base(genuine_base):
    feats = np.zeros((4, 1280))
    assert run_check("03.frozen_features", base=genuine_base, train_features=feats, n_images=4).passed


@needs_mirror
def test_features_recomputed_uses_its_own_photos_and_base(genuine_base):
    """The lesson's first training photos, through the check's own base: right features pass."""
    from course_utils import datasets, profiles
    from course_utils.checks.lesson03 import reference_features

    train = datasets.load_images("cats_and_dogs", "train", 32,
                                 per_class=profiles.get_profile().train_per_class, seed=42, verbose=False)
    right = reference_features(32, train.x[:8])
    assert run_check("03.features_recomputed", base=genuine_base, train_features=right).passed
    raw = reference_features(32, train.x[:8], preprocess=False)
    assert "raw 0-255" in run_check("03.features_recomputed", base=genuine_base, train_features=raw).message
    other = reference_features(32, train.x[8:16])  # features of other photos than the lesson's
    assert run_check("03.features_recomputed", base=genuine_base, train_features=other).points == 0


def test_head_accuracy_needs_sigmoid_and_accuracy():
    y = np.ones(6, dtype=int)
    x = np.zeros((6, 3), dtype="float32")
    assert run_check("03.head_accuracy", head=head(bias=5.0), val_features=x, y=y).passed
    assert "scores 0.00" in run_check("03.head_accuracy", head=head(bias=-5.0), val_features=x, y=y).message
    assert "sigmoid" in run_check("03.head_accuracy", head=head(activation="relu"), val_features=x,
                                  y=y).message
    assert "3 numbers" in run_check("03.head_accuracy", head=head(n=4), val_features=x, y=y).message


def augmented(size: int = 8, augment_first: bool = True) -> keras.Model:
    base = tiny_backbone(size)
    base.trainable = False
    inputs = keras.Input((size, size, 3))
    flip = keras.layers.RandomFlip("horizontal")
    x = flip(inputs) if augment_first else inputs
    x = base(x, training=False)
    if not augment_first:  # an (absurd) augmentation after the base: on features
        x = keras.layers.GaussianNoise(0.1)(x)
        x = keras.layers.Reshape((1, 1, 3))(x)
        x = keras.layers.RandomFlip("horizontal")(x)
        x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))


def test_augmentation_inside_wants_the_genuine_base():
    assert "is not MobileNetV2" in run_check("03.augmentation_inside", model=augmented()).message


@needs_mirror
def test_augmentation_inside_accepts_augmentation_before_the_imagenet_base(genuine_base):
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.RandomFlip("horizontal")(inputs)
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(x)
    x = genuine_base(x, training=False)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    assert run_check("03.augmentation_inside", model=model).passed


def test_augmentation_inside_rejects_augmentation_after_the_base_and_head_only():
    assert "before the base" in run_check("03.augmentation_inside",
                                          model=augmented(augment_first=False)).message
    assert "photos" in run_check("03.augmentation_inside", model=head()).message


def test_choose_on_validation_recomputes_the_probe_scores():
    from course_utils.checks import lesson03

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    x = rng.normal(0, 1, (40, 5)) + y[:, None] * 0.8
    yv = np.repeat([0, 1], 10)
    xv = rng.normal(0, 1, (20, 5)) + yv[:, None] * 0.8
    scores = lesson03.probe_scores(x, y, xv, yv)
    best = lesson03.best_of(scores)
    args = dict(train_features=x, train_y=y, val_features=xv, val_y=yv)
    json_scores = {str(c): v for c, v in scores.items()}  # as the grader's capture stores a dict
    assert run_check("03.choose_on_validation", val_scores=json_scores, best_C=best, **args).passed
    faked = {**json_scores, "0.001": 1.0}
    assert "scores" in run_check("03.choose_on_validation", val_scores=faked, best_C=0.001, **args).message
    other = next(c for c in lesson03.C_CANDIDATES if scores[c] < scores[best])
    assert run_check("03.choose_on_validation", val_scores=json_scores, best_C=other, **args).points == 0
