"""Tests for lesson 06 checks on tiny Keras models: early stopping, regularised head, unfreezing."""

from __future__ import annotations

import pytest

keras = pytest.importorskip("keras")

from helpers import tiny_backbone  # noqa: E402

from course_utils.checks.registry import run_check  # noqa: E402


def test_early_stopping_hints():
    good = {"monitor": "val_loss", "patience": 10, "restore_best_weights": True}
    assert run_check("06.early_stopping", config=good).passed
    assert "val_loss" in run_check("06.early_stopping", config={**good, "monitor": "loss"}).message
    no_restore = run_check("06.early_stopping", config={**good, "restore_best_weights": False})
    assert no_restore.points == 0 and "restore_best_weights" in no_restore.message


def test_head_regularised():
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    assert run_check("06.head_regularised", head=plain).points == 0
    dropped = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5),
                                keras.layers.Dense(1, activation="sigmoid")])
    assert run_check("06.head_regularised", head=dropped).passed


def test_unfreeze_top():
    model = tiny_backbone(batchnorm=True)
    model.trainable = True
    for layer in model.layers[:-3]:
        layer.trainable = False
    assert not run_check("06.unfreeze_top", model=model, n=3).passed  # BN in the top is trainable
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    assert run_check("06.unfreeze_top", model=model, n=3).passed
    everything = tiny_backbone(batchnorm=True)
    outcome = run_check("06.unfreeze_top", model=everything, n=3)
    assert outcome.points == 0 and "frozen" in outcome.message


def test_choose_remedy_wants_the_best_on_validation():
    scores = {"none": 0.7, "dropout 0.5": 0.75, "weight decay 1e-2": 0.72, "dropout + weight decay": 0.74}
    assert run_check("06.choose_remedy", val_scores=scores, choice="dropout 0.5").passed
    worse = run_check("06.choose_remedy", val_scores=scores, choice="none")
    assert worse.points == 0 and "'dropout 0.5'" in worse.message
    assert "each remedy" in run_check("06.choose_remedy", val_scores={"none": 0.7}, choice="none").message


def test_unfreeze_top_hidden_runs_only_on_the_lessons_small_base():
    """The hidden check's model must be the lesson's MobileNetV2 0.35, not an easier stand-in."""
    from course_utils.checks.lesson06 import small_base

    model = small_base()
    model.trainable = True
    for layer in model.layers[:-25]:
        layer.trainable = False
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    assert run_check("06.unfreeze_top_hidden", model=model).passed
    stand_in = tiny_backbone(batchnorm=True)
    for layer in stand_in.layers:
        layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
    outcome = run_check("06.unfreeze_top_hidden", model=stand_in)
    assert outcome.points == 0 and "not the network the check expects" in outcome.message
