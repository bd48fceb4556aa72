"""Lesson 01's checks on learners' answers: right ones written differently from the solution earn
full points, plausible mistakes lose theirs, and no message gives the expected value away.

Small objects only: a stand-in base that passes the mean colour through, photos whose class is
their red level, heads that read it (see ``checks_support``).
"""

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
    photo_model,
    red_level_head,
    reveals,
    run,
)

from course_utils import datasets  # noqa: E402
from course_utils.checks import common, lesson01  # noqa: E402

FEATURES = lesson01.FEATURES


def feature_head(layers: list, loss=None) -> keras.Model:
    head = keras.Sequential([keras.Input((FEATURES,))] + layers)
    if loss is not None:
        head.compile(optimizer="adam", loss=loss)
    return head


# --- Exercise 2: the head ---------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    # a separate Softmax layer and the loss as a function (the learner)
    lambda: feature_head([keras.layers.Dense(2), keras.layers.Softmax()],
                         keras.losses.sparse_categorical_crossentropy),
    lambda: feature_head([keras.layers.Dense(1), keras.layers.Activation("sigmoid")],
                         keras.losses.BinaryCrossentropy()),
    lambda: feature_head([keras.layers.Dense(1)], keras.losses.BinaryCrossentropy(from_logits=True)),
    lambda: feature_head([keras.layers.Dense(2)],
                         keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
    lambda: feature_head([keras.layers.Dense(1, activation="sigmoid")], keras.losses.binary_crossentropy),
])
def test_head_output_accepts_heads_written_differently(tmp_path, make):
    assert full(run("01.head_output", **captured(tmp_path, head=make())))


@pytest.mark.parametrize(("make", "hint"), [
    (lambda: feature_head([keras.layers.Dense(2), keras.layers.Softmax()],
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True)), "from_logits"),
    (lambda: feature_head([keras.layers.Dense(1, activation="sigmoid")],
                          keras.losses.BinaryCrossentropy(from_logits=True)), "from_logits"),
    (lambda: feature_head([keras.layers.Dense(1)], "binary_crossentropy"), "logits"),
    (lambda: feature_head([keras.layers.Dense(1, activation="sigmoid")], "categorical_crossentropy"),
     "cross-entropy"),
    (lambda: feature_head([keras.layers.Dense(1, activation="sigmoid")], "mse"), "cross-entropy"),
    (lambda: feature_head([keras.layers.Dense(3, activation="softmax")], "sparse_categorical_crossentropy"),
     "one probability"),
])
def test_head_output_rejects_mismatched_outputs_and_losses(tmp_path, make, hint):
    assert fails(run("01.head_output", **captured(tmp_path, head=make())), hint)


def test_head_output_uncompiled_earns_part():
    outcome = run("01.head_output", head=feature_head([keras.layers.Dense(1, activation="sigmoid")]))
    assert outcome.points == 1 and "compile" in outcome.message


# --- Exercise 3: raw photos in, P(dog) out ------------------------------------------------------

@pytest.fixture
def photos():
    return colour_photos(6)


def test_end_to_end_accepts_normalization_and_the_functional_api(tmp_path, monkeypatch, photos):
    genuine(monkeypatch, lesson01)
    x, y = photos
    for preprocess, functional in (("normalization", True), ("rescaling", False)):
        model = photo_model(identity_backbone(), red_level_head(2, "separate-sigmoid"), preprocess,
                            functional)
        acc = float(np.mean((model.predict(x, verbose=0)[:, 0] > 0.5) == y))
        assert acc == 1.0
        assert full(run("01.end_to_end", **captured(tmp_path, pretrained=model, pretrained_acc=acc,
                                                     x=x, y=y)))


@pytest.mark.parametrize(("preprocess", "hint"), [(None, "raw 0-255 pixels, unchanged"),
                                                  ("unit", "scaled to [0, 1]")])
def test_end_to_end_names_the_preprocessing_mistake(monkeypatch, photos, preprocess, hint):
    genuine(monkeypatch, lesson01)
    x, y = photos
    model = photo_model(identity_backbone(), red_level_head(2, "sigmoid"), preprocess)
    assert fails(run("01.end_to_end", pretrained=model, pretrained_acc=0.5, x=x, y=y), hint)


def test_end_to_end_recomputes_the_reported_accuracy_and_does_not_reveal_it(monkeypatch, photos):
    genuine(monkeypatch, lesson01)
    x, y = photos
    model = photo_model(identity_backbone(), red_level_head(2, "sigmoid"))
    outcome = run("01.end_to_end", pretrained=model, pretrained_acc=0.75, x=x, y=y)
    assert fails(outcome, "not the model's accuracy")
    assert not reveals(outcome.message, [1.0, "1.000"])


@pytest.fixture
def test_photos(monkeypatch):
    """The hidden checks' held-out photos and pixel baseline, small."""
    x, y = colour_photos(10, seed=5)
    monkeypatch.setattr(lesson01, "held_out_images",
                        lambda *a, **k: datasets.ImageSet(x, y, ["cat", "dog"]))

    class Majority:
        def score(self, pixels, labels):
            return common.majority_accuracy(labels)

    monkeypatch.setattr(lesson01, "pixel_baseline", lambda: (Majority(), lambda photos: photos))
    return x, y


@pytest.mark.parametrize("check", ["01.end_to_end_accuracy", "01.beats_pixel_baseline"])
def test_hidden_photo_checks_accept_a_logit_model_and_reject_raw_pixels(monkeypatch, test_photos, check):
    genuine(monkeypatch, lesson01)
    logits = photo_model(identity_backbone(), red_level_head(2, "logits"), "normalization", functional=True)
    assert full(run(check, pretrained=logits))
    raw = photo_model(identity_backbone(), red_level_head(2, "sigmoid"), None)
    assert fails(run(check, pretrained=raw))


# --- Exercise 4: seven classes ------------------------------------------------------------------

@pytest.fixture
def objects():
    return colour_photos(3, classes=7)


@pytest.mark.parametrize(("output", "loss"), [
    ("separate-softmax", keras.losses.sparse_categorical_crossentropy),   # the learner
    ("logits", keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
    ("softmax", keras.losses.SparseCategoricalCrossentropy()),
])
def test_new_task_model_accepts_softmax_layers_logits_and_loss_functions(tmp_path, monkeypatch, objects,
                                                                         output, loss):
    genuine(monkeypatch, lesson01)
    x, y = objects
    model = photo_model(identity_backbone(), red_level_head(7, output), "normalization")
    model.compile(optimizer="adam", loss=loss)
    assert full(run("01.new_task_model", **captured(tmp_path, model=model, x=x, y=y)))


@pytest.mark.parametrize(("output", "loss", "hint"), [
    ("softmax", keras.losses.SparseCategoricalCrossentropy(from_logits=True), "from_logits"),
    ("separate-softmax", "categorical_crossentropy", "integer labels"),
    ("logits", "sparse_categorical_crossentropy", "logits"),
])
def test_new_task_model_rejects_mismatched_losses(tmp_path, monkeypatch, objects, output, loss, hint):
    genuine(monkeypatch, lesson01)
    x, y = objects
    model = photo_model(identity_backbone(), red_level_head(7, output), "rescaling")
    model.compile(optimizer="adam", loss=loss)
    assert fails(run("01.new_task_model", **captured(tmp_path, model=model, x=x, y=y)), hint)


def test_new_task_model_rejects_one_sigmoid_per_class(monkeypatch, objects):
    genuine(monkeypatch, lesson01)
    x, y = objects
    base = identity_backbone()
    head = keras.Sequential([keras.Input((3,)), keras.layers.Dense(7, activation="sigmoid")])
    model = photo_model(base, head)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    assert fails(run("01.new_task_model", model=model, x=x, y=y), "sum to 1")


def test_new_task_unseen_scores_the_models_own_outputs(monkeypatch):
    genuine(monkeypatch, lesson01)
    x, y = colour_photos(4, classes=7, seed=9)
    monkeypatch.setattr(datasets, "load_images", lambda *a, **k: datasets.ImageSet(x, y, list("abcdefg")))
    right = photo_model(identity_backbone(), red_level_head(7, "logits"), "normalization")
    assert full(run("01.new_task_unseen", model=right))
    assert fails(run("01.new_task_unseen", model=photo_model(identity_backbone(),
                                                             red_level_head(7, "softmax"), "unit")))


def test_frozen_base_accepts_freezing_layer_by_layer(monkeypatch):
    genuine(monkeypatch, lesson01)
    base = identity_backbone()
    for layer in base.layers:
        layer.trainable = False
    assert full(run("01.frozen_base", base=base))
    assert fails(run("01.frozen_base", base=identity_backbone()), "trainable")
