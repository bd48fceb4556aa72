"""Tests for lesson 01 checks on tiny Keras models, including .keras artifact capture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils.grading.artifacts import capture_source, load_artifacts  # noqa: E402
from course_utils.grading.registry import run_check  # noqa: E402


def tiny_base() -> keras.Model:
    """A two-layer stand-in for MobileNetV2."""
    inputs = keras.Input((8,))
    x = keras.layers.Dense(4, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(4)(x))


def tiny_head(units: int, activation: str, loss: str | None) -> keras.Model:
    """A classifier head with the given output layer and (optional) loss."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation=activation)])
    if loss:
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return model


def captured(tmp_path: Path, **values: object) -> dict[str, object]:
    """Round-trip values through the grader's capture code and loader."""
    outdir = tmp_path / "capture"
    source = capture_source("01.test", {name: name for name in values}, outdir)
    exec(source, dict(values))  # noqa: S102 - the grader-generated capture code
    loaded, problems = load_artifacts(outdir, list(values))
    assert not problems, problems
    return loaded


def test_frozen_base_hint_and_pass(tmp_path: Path) -> None:
    """An unfrozen base fails with a count and the fix; a frozen one passes after capture."""
    base = tiny_base()
    outcome = run_check("01.frozen_base", base=base)
    assert outcome.points == 0
    assert "2 trainable layers" in outcome.message and "base.trainable = False" in outcome.message
    base.trainable = False
    assert run_check("01.frozen_base", **captured(tmp_path, base=base)).passed


@pytest.mark.parametrize(
    ("units", "activation", "loss", "points"),
    [
        (1, "sigmoid", "binary_crossentropy", 2),
        (2, "softmax", "sparse_categorical_crossentropy", 2),
        (1, "sigmoid", None, 1),
        (1, "relu", "binary_crossentropy", 0),
        (1, "sigmoid", "categorical_crossentropy", 0),
        (3, "softmax", "categorical_crossentropy", 0),
    ],
)
def test_head_output(
    tmp_path: Path, units: int, activation: str, loss: str | None, points: int
) -> None:
    """Output units, activation and loss must pair up; uncompiled heads get partial credit."""
    head = captured(tmp_path, head=tiny_head(units, activation, loss))["head"]
    assert run_check("01.head_output", head=head).points == points


def tiny_backbone(size: int = 8) -> keras.Model:
    """A pooled stand-in for MobileNetV2 with more than 20 layers (so it counts as a backbone)."""
    inputs = keras.Input((size, size, 3))
    x = inputs
    for _ in range(21):
        x = keras.layers.Conv2D(3, 1)(x)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name="tiny_base")


def raw_photo_model(units: int = 1, activation: str = "sigmoid", bias: float = 5.0,
                    loss: str | None = None, frozen: bool = True) -> keras.Model:
    """Input -> Rescaling -> tiny base -> Dense, with a bias that fixes what it predicts."""
    base = tiny_backbone()
    base.trainable = not frozen
    head = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, activation=activation)])
    bias_vector = np.eye(units)[0] * bias if units > 1 else np.full((1,), bias)  # always class 0 / dog
    head.layers[-1].set_weights([np.zeros((3, units)), bias_vector])
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Rescaling(1 / 127.5, offset=-1),
                              base, head])
    if loss:
        model.compile(optimizer="adam", loss=loss)
    return model


def test_end_to_end_compares_the_reported_accuracy_with_the_model() -> None:
    """The reported number must be the model's accuracy; the base must be frozen and inside."""
    x = np.zeros((6, 8, 8, 3), dtype="float32")
    y = np.ones(6, dtype=int)
    always_dog = raw_photo_model()
    assert run_check("01.end_to_end", pretrained=always_dog, pretrained_acc=1.0, x=x, y=y).passed
    lie = run_check("01.end_to_end", pretrained=always_dog, pretrained_acc=0.5, x=x, y=y)
    assert "scores 1.000" in lie.message
    unfrozen = run_check("01.end_to_end", pretrained=raw_photo_model(frozen=False),
                         pretrained_acc=1.0, x=x, y=y)
    assert "trainable" in unfrozen.message
    flat = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, activation="sigmoid")])
    assert "square RGB photos" in run_check("01.end_to_end", pretrained=flat, pretrained_acc=1.0,
                                            x=x, y=y).message


def test_new_task_model_needs_seven_softmax_outputs_and_a_sparse_loss() -> None:
    x = np.zeros((5, 8, 8, 3), dtype="float32")
    y = np.zeros(5, dtype=int)
    right = raw_photo_model(7, "softmax", loss="sparse_categorical_crossentropy")
    assert run_check("01.new_task_model", model=right, x=x, y=y).passed
    binary = raw_photo_model(1, "sigmoid", loss="binary_crossentropy")
    assert "one output per class" in run_check("01.new_task_model", model=binary, x=x, y=y).message
    one_hot_loss = raw_photo_model(7, "softmax", loss="categorical_crossentropy")
    assert "sparse_categorical_crossentropy" in run_check("01.new_task_model", model=one_hot_loss,
                                                          x=x, y=y).message
    sigmoids = raw_photo_model(7, "sigmoid", loss="sparse_categorical_crossentropy")
    assert "softmax" in run_check("01.new_task_model", model=sigmoids, x=x, y=y).message
    wrong_class = run_check("01.new_task_model", model=right, x=x, y=np.full(5, 3))
    assert "scores 0.00" in wrong_class.message
