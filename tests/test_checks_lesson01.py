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


def test_beats_scratch() -> None:
    """Scalar accuracies must be in [0, 1] and differ by at least 0.1."""
    assert run_check("01.beats_scratch", pretrained_acc=0.9, scratch_acc=0.6).passed
    assert (
        "only +0.05" in run_check("01.beats_scratch", pretrained_acc=0.7, scratch_acc=0.65).message
    )
    assert run_check("01.beats_scratch", pretrained_acc=90, scratch_acc=0.6).points == 0


def test_beats_scratch_recomputed() -> None:
    """The hidden check recomputes accuracy from the models, not from reported numbers."""
    x = np.zeros((6, 4), dtype="float32")
    y = np.ones(6, dtype=int)
    always_one = tiny_head(1, "sigmoid", None)
    always_one.layers[-1].set_weights([np.zeros((4, 1)), np.full((1,), 5.0)])
    always_zero = tiny_head(1, "sigmoid", None)
    always_zero.layers[-1].set_weights([np.zeros((4, 1)), np.full((1,), -5.0)])
    args = {"x": x, "y": y}
    assert run_check(
        "01.beats_scratch_recomputed", pretrained=always_one, scratch=always_zero, **args
    ).passed
    failed = run_check(
        "01.beats_scratch_recomputed", pretrained=always_zero, scratch=always_one, **args
    )
    assert "scores 0.00" in failed.message
