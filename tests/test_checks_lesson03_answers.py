"""Lesson 03's checks on learners' answers: right ones written differently from the solution earn
full points, plausible mistakes lose theirs. Small stand-ins for the base and the photos."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from checks_support import (  # noqa: E402
    captured,
    colour_photos,
    fails,
    full,
    genuine,
    identity_backbone,
    red_level_head,
)
from checks_support import run as run_check  # noqa: E402

from course_utils.checks import lesson03  # noqa: E402


def stand_in_features(size: int, images: np.ndarray, preprocess: bool = True) -> np.ndarray:
    """The check's "own base" for the tests: mean colour after MobileNetV2's scaling."""
    x = np.asarray(images, dtype="float32")
    return (x / 127.5 - 1 if preprocess else x).mean(axis=(1, 2))


@pytest.fixture
def small_world(monkeypatch):
    """The hidden checks' data and base, small: photos coloured by class, mean-colour features."""
    genuine(monkeypatch, lesson03)
    train_x, train_y = colour_photos(10, seed=1)
    test_x, test_y = colour_photos(10, seed=2)
    monkeypatch.setattr(lesson03, "lesson_training_photos", lambda size: train_x)
    monkeypatch.setattr(lesson03, "reference_features", stand_in_features)
    monkeypatch.setattr(lesson03, "held_out_images",
                        lambda *a, **k: type("Photos", (), {"x": test_x, "y": test_y,
                                                            "__len__": lambda self: len(test_y)})())
    monkeypatch.setattr(lesson03, "choice_features", lambda size: (
        stand_in_features(size, train_x), train_y, stand_in_features(size, test_x), test_y))
    return train_x, train_y


def frozen_base() -> keras.Model:
    base = identity_backbone()
    for layer in base.layers:  # frozen layer by layer
        layer.trainable = False
    return base


# --- Exercise 1 ------------------------------------------------------------------------------

def test_frozen_features_accepts_features_computed_without_the_cache(monkeypatch, small_world):
    train_x, _ = small_world
    base = frozen_base()
    feats = base.predict(train_x / 127.5 - 1, verbose=0)
    assert full(run_check("03.frozen_features", base=base, train_features=feats, n_images=len(train_x)))
    assert full(run_check("03.features_recomputed", base=base, train_features=feats))


def test_frozen_features_mistakes(monkeypatch, small_world):
    train_x, _ = small_world
    trainable = identity_backbone()
    assert fails(run_check("03.frozen_features", base=trainable, train_features=np.zeros((20, 3)),
                           n_images=20), "trainable")
    raw = frozen_base().predict(train_x, verbose=0)   # features of raw 0-255 pixels
    assert fails(run_check("03.features_recomputed", base=frozen_base(), train_features=raw), "raw 0-255")
    shuffled = frozen_base().predict(train_x[::-1] / 127.5 - 1, verbose=0)   # another photo order
    assert fails(run_check("03.features_recomputed", base=frozen_base(), train_features=shuffled))


# --- Exercise 2 ------------------------------------------------------------------------------

def compiled(head: keras.Model, loss) -> keras.Model:
    head.compile(optimizer="adam", loss=loss)
    return head


@pytest.mark.parametrize("make", [
    lambda: compiled(red_level_head(2, "separate-sigmoid"), keras.losses.BinaryCrossentropy()),
    lambda: compiled(red_level_head(2, "separate-softmax"), keras.losses.sparse_categorical_crossentropy),
])
def test_head_checks_accept_heads_written_differently(tmp_path, small_world, make):
    train_x, train_y = small_world
    head = make()
    feats = stand_in_features(8, train_x)
    assert full(run_check("03.head_accuracy", **captured(tmp_path, head=head, val_features=feats, y=train_y)))
    assert full(run_check("03.head_on_unseen_photos", base=frozen_base(), head=head))


@pytest.mark.parametrize(("make", "hint"), [
    (lambda: compiled(red_level_head(2, "sigmoid"), keras.losses.BinaryCrossentropy(from_logits=True)),
     "from_logits"),
    (lambda: compiled(red_level_head(2, "logits"), "binary_crossentropy"), "probability of dog"),
])
def test_head_accuracy_rejects_a_mismatched_loss_and_logits(small_world, make, hint):
    train_x, train_y = small_world
    assert fails(run_check("03.head_accuracy", head=make(), val_features=stand_in_features(8, train_x),
                           y=train_y), hint)


def test_an_untrained_head_fails_on_unseen_photos(small_world):
    untrained = compiled(keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")]),
                         "binary_crossentropy")
    untrained.layers[-1].set_weights([np.zeros((3, 1)), np.full(1, 3.0)])   # always "dog"
    assert fails(run_check("03.head_on_unseen_photos", base=frozen_base(), head=untrained))


# --- Exercise 3 ------------------------------------------------------------------------------

def augmented_model(augment, preprocess, base=None) -> keras.Model:
    base = base or frozen_base()
    inputs = keras.Input((8, 8, 3))
    x = augment(inputs) if augment is not None else inputs
    x = preprocess(x) if preprocess is not None else x
    x = base(x, training=False)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Dropout(0.2)(x)))


def test_augmentation_inside_accepts_other_layers_nested_and_normalization(small_world):
    nested = keras.Sequential([keras.layers.RandomTranslation(0.2, 0.2), keras.layers.RandomZoom(0.2)])
    model = augmented_model(nested, keras.layers.Normalization(mean=127.5, variance=127.5**2))
    assert full(run_check("03.augmentation_inside", model=model))
    # noise as augmentation, after the preprocessing (it acts only when training)
    noise = augmented_model(None, keras.Sequential([keras.layers.Rescaling(1 / 127.5, offset=-1),
                                                    keras.layers.GaussianNoise(0.1)]))
    assert full(run_check("03.augmentation_inside", model=noise))


def test_augmentation_inside_accepts_a_flip_alone_whatever_the_seed(small_world):
    """RandomFlip alone leaves each of the check's photos as it was half the time: two training passes
    were identical for 1 seed in 16 and an honest answer lost its points (seeds 0-39 include such)."""
    flip, preprocess = keras.layers.RandomFlip("horizontal"), keras.layers.Rescaling(1 / 127.5, offset=-1)
    model = augmented_model(flip, preprocess)
    for seed in range(40):
        keras.utils.set_random_seed(seed)
        assert full(run_check("03.augmentation_inside", model=model)), seed


class AlwaysNoisy(keras.layers.Layer):
    """A hand-made "augmentation" that also acts at prediction time."""

    def call(self, x, training=None):
        return x + keras.random.normal(keras.ops.shape(x), stddev=20.0)


@pytest.mark.parametrize(("augment", "preprocess", "hint"), [
    (None, keras.layers.Rescaling(1 / 127.5, offset=-1), "no augmentation"),
    (keras.layers.RandomFlip("horizontal"), None, "raw 0-255"),
    (keras.layers.RandomFlip("horizontal"), keras.layers.Rescaling(1 / 255.0), "[0, 1]"),
    (AlwaysNoisy(), keras.layers.Rescaling(1 / 127.5, offset=-1), None),
])
def test_augmentation_inside_mistakes(small_world, augment, preprocess, hint):
    outcome = run_check("03.augmentation_inside", model=augmented_model(augment, preprocess))
    assert fails(outcome, *([hint] if hint else []))


def test_augmentation_inside_wants_the_base_frozen(small_world):
    model = augmented_model(keras.layers.RandomFlip("horizontal"),
                            keras.layers.Rescaling(1 / 127.5, offset=-1), base=identity_backbone())
    model.layers[3].trainable = True
    assert fails(run_check("03.augmentation_inside", model=model), "trainable")


# --- Exercise 4 ------------------------------------------------------------------------------

def probe_data():
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1], 15)
    x = rng.normal(0, 1, (30, 6)) + y[:, None] * 0.7
    yv = np.repeat([0, 1], 25)
    xv = rng.normal(0, 1, (50, 6)) + yv[:, None] * 0.7
    return x, y, xv, yv


def test_choose_on_validation_accepts_another_way_of_writing_it():
    from sklearn.linear_model import LogisticRegression

    x, y, xv, yv = probe_data()
    val_scores = {}
    for c in sorted(lesson03.C_CANDIDATES, reverse=True):   # another order, float64 scores
        probe = LogisticRegression(C=c, max_iter=2000).fit(x, y)
        val_scores[str(c)] = float(np.mean(probe.predict(xv) == yv))
    best = sorted(val_scores.items(), key=lambda kv: (-kv[1], float(kv[0])))[0][0]
    assert full(run_check("03.choose_on_validation", val_scores=val_scores, best_C=float(best),
                          train_features=x, train_y=y, val_features=xv, val_y=yv))


def test_choose_on_validation_mistakes():
    from sklearn.linear_model import LogisticRegression

    x, y, xv, yv = probe_data()
    on_train = {str(c): LogisticRegression(C=c, max_iter=2000).fit(x, y).score(x, y)
                for c in lesson03.C_CANDIDATES}
    best = min(c for c, v in on_train.items() if v == max(on_train.values()))
    assert fails(run_check("03.choose_on_validation", val_scores=on_train, best_C=float(best),
                           train_features=x, train_y=y, val_features=xv, val_y=yv),
                 "not the validation accuracy")
    right = lesson03.probe_scores(x, y, xv, yv)
    worst = min(right, key=right.get)
    if right[worst] < max(right.values()):
        assert fails(run_check("03.choose_on_validation", val_scores={str(c): v for c, v in right.items()},
                               best_C=worst, train_features=x, train_y=y, val_features=xv, val_y=yv),
                     "your own table")


def test_choice_recomputed_is_an_open_goal_on_held_out_photos(small_world):
    assert full(run_check("03.choice_recomputed", best_C=0.1, image_size=128))
    assert fails(run_check("03.choice_recomputed", best_C=0.5, image_size=128), "one of")
    assert fails(run_check("03.choice_recomputed", best_C=1e-12, image_size=128))
