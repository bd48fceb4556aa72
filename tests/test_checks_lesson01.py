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

from helpers import needs_mirror, tiny_backbone  # noqa: E402

from course_utils.checks.registry import run_check  # noqa: E402
from course_utils.grading.artifacts import capture_source, load_artifacts  # noqa: E402


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
    base = tiny_backbone()
    outcome = run_check("01.frozen_base", base=base)
    assert outcome.points == 0
    assert "21 trainable layers" in outcome.message and "base.trainable = False" in outcome.message
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
    # every structural step passes; the last one, the genuine-weights proof, rejects the stand-in
    honest = run_check("01.end_to_end", pretrained=always_dog, pretrained_acc=1.0, x=x, y=y)
    assert honest.points == 0 and "is not MobileNetV2" in honest.message
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
    assert "is not MobileNetV2" in run_check("01.new_task_model", model=right, x=x, y=y).message
    binary = raw_photo_model(1, "sigmoid", loss="binary_crossentropy")
    assert "one output per class" in run_check("01.new_task_model", model=binary, x=x, y=y).message
    one_hot_loss = raw_photo_model(7, "softmax", loss="categorical_crossentropy")
    assert "sparse_categorical_crossentropy" in run_check("01.new_task_model", model=one_hot_loss,
                                                          x=x, y=y).message
    sigmoids = raw_photo_model(7, "sigmoid", loss="sparse_categorical_crossentropy")
    assert "softmax" in run_check("01.new_task_model", model=sigmoids, x=x, y=y).message
    wrong_class = run_check("01.new_task_model", model=right, x=x, y=np.full(5, 3))
    assert "scores 0.00" in wrong_class.message


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
def test_fake_validation_set_and_constant_models_earn_only_the_head_points() -> None:
    """A fake: 4 photos, a constant "pretrained" model. Only a correctly shaped (untrained)
    head earns points, which is what the exercise asks at that point."""
    pretrained = constant_model(5.0, (32, 32, 3))
    x, y = np.zeros((4, 32, 32, 3), dtype="float32"), np.ones(4, dtype=int)
    head = tiny_head(1, "sigmoid", "binary_crossentropy")
    points = {
        "01.frozen_base": run_check("01.frozen_base", base=pretrained).points,
        "01.head_output": run_check("01.head_output", head=head).points,
        "01.end_to_end": run_check("01.end_to_end", pretrained=pretrained, pretrained_acc=1.0,
                                   x=x, y=y).points,
        "01.end_to_end_accuracy": run_check("01.end_to_end_accuracy", pretrained=pretrained).points,
        "01.beats_pixel_baseline": run_check("01.beats_pixel_baseline", pretrained=pretrained).points,
    }
    assert points == {"01.frozen_base": 0, "01.head_output": 2, "01.end_to_end": 0,
                      "01.end_to_end_accuracy": 0, "01.beats_pixel_baseline": 0}
    stand_in = tiny_backbone(32)
    stand_in.trainable = False
    assert "is not MobileNetV2" in run_check("01.frozen_base", base=stand_in).message


@needs_mirror
def test_pixel_baseline_is_a_real_baseline() -> None:
    """The grader's own from-scratch baseline learns something, and far less than transfer."""
    from course_utils.checks import common, lesson01

    clf, pixels = lesson01.pixel_baseline()
    photos = common.held_out_images("cats_and_dogs", 32, per_class=lesson01.TEST_PER_CLASS,
                                    split="test")
    accuracy = clf.score(pixels(photos.x), photos.y)
    assert 0.5 < accuracy < 0.75, f"pixel baseline {accuracy:.3f}"
