"""Tests for lesson 01 checks on tiny Keras models, including .keras artifact capture.

With the mirror: the base must be the genuine ImageNet MobileNetV2, and the issue's fake
(a 4-photo "validation set" and two constant models) earns only the points of a correctly
shaped head and of typed-in numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from conftest import needs_mirror  # noqa: E402
from course_utils.grading.artifacts import capture_source, load_artifacts  # noqa: E402
from course_utils.grading.registry import run_check  # noqa: E402


def tiny_base() -> keras.Model:
    """A two-layer stand-in for MobileNetV2."""
    inputs = keras.Input((8,))
    x = keras.layers.Dense(4, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(4)(x))


def tiny_head(units: int, activation: str, loss: str | None) -> keras.Model:
    """A classifier head with the given output layer and (optional) loss."""
    model = keras.Sequential([keras.Input((1280,)), keras.layers.Dense(units, activation=activation)])
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


def test_frozen_base_hint_and_genuine_weights(tmp_path: Path) -> None:
    """An unfrozen base fails with a count and the fix; a frozen stand-in is not MobileNetV2."""
    base = tiny_base()
    outcome = run_check("01.frozen_base", base=base)
    assert outcome.points == 0
    assert "2 trainable layers" in outcome.message and "base.trainable = False" in outcome.message
    base.trainable = False
    outcome = run_check("01.frozen_base", **captured(tmp_path, base=base))
    assert outcome.points == 0 and "is not MobileNetV2" in outcome.message


@needs_mirror
def test_frozen_base_wants_the_imagenet_weights(tmp_path: Path) -> None:
    """The course's ImageNet MobileNetV2 passes after capture; the same network untrained fails."""
    from course_utils import backbones

    base = backbones.load_backbone("mobilenet_v2", 32, pooling="avg", verbose=False)
    base.trainable = False
    assert run_check("01.frozen_base", **captured(tmp_path, base=base)).passed
    untrained = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3),
                                               pooling="avg")
    untrained.trainable = False
    outcome = run_check("01.frozen_base", base=untrained)
    assert outcome.points == 0 and "does not hold the ImageNet weights" in outcome.message


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


def constant_model(value: float, shape: tuple[int, ...]) -> keras.Model:
    """A model that outputs ``value``'s sigmoid for every input: no data, no training."""
    model = keras.Sequential([keras.Input(shape), keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.layers[-1].set_weights([np.zeros((int(np.prod(shape)), 1)), np.full((1,), value)])
    model.trainable = False
    return model


def test_head_must_take_the_base_features() -> None:
    """A "head" that is not a classifier of MobileNetV2's 1280 features fails."""
    outcome = run_check("01.head_output", head=constant_model(5.0, (32, 32, 3)))
    assert outcome.points == 0 and "1280" in outcome.message


@needs_mirror
def test_fake_validation_set_and_constant_models_earn_only_typed_points() -> None:
    """The issue's fake: 4 photos, two constant models. It scored 7/9; now only 3/9 remain.

    What remains: a correctly shaped (untrained) head, which is what the exercise asks at
    that point (2), and typed-in accuracies, which a reported-number check cannot verify (1).
    """
    pretrained = constant_model(5.0, (32, 32, 3))
    scratch = constant_model(-5.0, (32, 32, 3))
    head = tiny_head(1, "sigmoid", "binary_crossentropy")
    points = {
        "01.frozen_base": run_check("01.frozen_base", base=pretrained).points,
        "01.head_output": run_check("01.head_output", head=head).points,
        "01.beats_scratch": run_check("01.beats_scratch", pretrained_acc=1.0, scratch_acc=0.0).points,
        "01.beats_scratch_recomputed": run_check("01.beats_scratch_recomputed",
                                                 pretrained=pretrained).points,
        "01.end_to_end_accuracy": run_check("01.end_to_end_accuracy", pretrained=pretrained).points,
    }
    assert points == {"01.frozen_base": 0, "01.head_output": 2, "01.beats_scratch": 1,
                      "01.beats_scratch_recomputed": 0, "01.end_to_end_accuracy": 0}
    assert scratch.predict(np.zeros((1, 32, 32, 3)), verbose=0)[0, 0] < 0.5  # the fake's other half
    message = run_check("01.beats_scratch_recomputed", pretrained=pretrained).message
    assert "is not MobileNetV2" in message
