"""Small objects for the checks' unit tests: learners' answers in seconds, no notebook run.

Each lesson's test file builds a correct answer written differently from the solution and the
plausible mistakes a learner makes, out of these parts, and calls the check on them. Where a check
loads its own data (held-out photos, digits, X-rays), the tests hand it a small stand-in through
``monkeypatch``; where it proves that a base holds the ImageNet weights, ``genuine`` accepts the
small stand-in (the proof itself is tested with the mirror in ``test_checks_lesson01.py``).
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from course_utils.checks import common
from course_utils.checks.registry import CheckOutcome, run_check
from course_utils.grading.artifacts import capture_source, load_artifacts


def captured(tmp_path: Path, **values: object) -> dict[str, object]:
    """Round-trip values through the grader's capture code and loader, as grading does."""
    outdir = tmp_path / f"capture{len(list(tmp_path.glob('capture*')))}"
    source = capture_source("00.test", {name: name for name in values}, outdir)
    exec(source, dict(values))  # noqa: S102 - the grader-generated capture code
    loaded, problems = load_artifacts(outdir, list(values))
    assert not problems, problems
    return loaded


def identity_backbone(size: int = 8, name: str = "tiny_base") -> keras.Model:
    """A stand-in base with more than 20 layers (so checks count it as a backbone) that passes each
    pixel through unchanged and averages: its 3 features are the photo's mean colour."""
    inputs = keras.Input((size, size, 3))
    x = inputs
    for _ in range(21):
        x = keras.layers.Conv2D(3, 1)(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name=name)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([np.eye(3).reshape(1, 1, 3, 3), np.zeros(3)])
    return model


LEVELS = np.linspace(20, 235, 7)  # the red level of each class's photos (class 0 darkest)


def colour_photos(per_class: int, classes: int = 2, size: int = 8, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Raw 0-255 photos whose class is their red level (2 classes: dark red = 0, bright red = 1)."""
    rng = np.random.default_rng(seed)
    levels = LEVELS[[0, -1]] if classes == 2 else LEVELS[:classes]
    y = np.repeat(np.arange(classes), per_class)
    x = rng.uniform(0, 255, size=(len(y), size, size, 3))
    x[..., 0] = levels[y][:, None, None] + rng.normal(0, 4, size=(len(y), size, size))
    return np.clip(x, 0, 255).astype("float32"), y


def red_level_head(classes: int, output: str, width: int = 3) -> keras.Model:
    """A trained-looking head on mean colours scaled to [-1, 1]: it reads the red level.

    ``output``: "sigmoid" / "softmax" (in the Dense layer), "logits", "separate-sigmoid" /
    "separate-softmax" (a Dense layer, then an Activation or Softmax layer).
    """
    levels = (LEVELS[[0, -1]] if classes == 2 else LEVELS[:classes]) / 127.5 - 1
    units = 1 if classes == 2 and "softmax" not in output else classes
    if units == 1:
        kernel, bias = np.zeros((width, 1)), np.zeros(1)
        kernel[0, 0] = 8.0
        bias[0] = -8.0 * levels.mean()
    else:  # tangent lines of -(x - level)^2: the nearest level wins
        kernel = np.zeros((width, units))
        kernel[0] = 8.0 * 2 * levels
        bias = -8.0 * levels**2
    activation = output if output in ("sigmoid", "softmax") else None
    layers: list[Any] = [keras.Input((width,)), keras.layers.Dense(units, activation=activation)]
    if output == "separate-sigmoid":
        layers.append(keras.layers.Activation("sigmoid"))
    elif output == "separate-softmax":
        layers.append(keras.layers.Softmax())
    head = keras.Sequential(layers)
    head.layers[0].set_weights([kernel, bias])
    return head


def photo_model(base: keras.Model, head: keras.Model, preprocess: Any = "rescaling",
                functional: bool = False) -> keras.Model:
    """Raw photos -> preprocessing -> frozen base -> head, as a Sequential or a functional model.

    ``preprocess``: "rescaling" (the lesson's layer), "normalization" (the same map written as
    ``Normalization``), "unit" (a mistake: [0, 1]), None (a mistake: raw pixels), or a layer.
    """
    layers = {"rescaling": keras.layers.Rescaling(1 / 127.5, offset=-1),
              "normalization": keras.layers.Normalization(mean=127.5, variance=127.5**2),
              "unit": keras.layers.Rescaling(1 / 255.0), None: None}
    layer = layers[preprocess] if isinstance(preprocess, (str, type(None))) else preprocess
    base.trainable = False
    size = base.input_shape[1]
    if functional:
        inputs = keras.Input((size, size, 3))
        x = layer(inputs) if layer is not None else inputs
        return keras.Model(inputs, head(base(x, training=False)))
    return keras.Sequential([keras.Input((size, size, 3))] + ([layer] if layer is not None else [])
                            + [base, head])


def genuine(monkeypatch: Any, *modules: types.ModuleType) -> None:
    """Let the stand-in bases pass the ImageNet-weights proof in ``modules`` (tested on its own)."""
    def accept(model: Any, backbone: str, name: str = "base", trained_layers_may_differ: bool = False) -> Any:
        try:
            return common.find_backbone(model, name)
        except common.CheckFailed:
            return model

    for module in modules:
        monkeypatch.setattr(module, "require_imagenet_backbone", accept)


def full(outcome: CheckOutcome) -> bool:
    """Whether the check gave full points (and printed why not)."""
    assert outcome.max_points > 0, outcome
    if outcome.points < outcome.max_points:
        print(outcome.summary())
    return outcome.points == outcome.max_points


def fails(outcome: CheckOutcome, *hints: str) -> bool:
    """Whether the check gave no points, with every hint in its message."""
    print(outcome.summary())
    return outcome.points == 0 and all(h in outcome.message for h in hints)


def reveals(message: str, values: Iterable[Any]) -> list[str]:
    """The expected values (numbers, names) that appear in a check's message."""
    found = []
    for value in values:
        texts = {str(value)}
        if isinstance(value, float):
            texts |= {f"{value:.2f}", f"{value:.3f}", f"{value:g}", f"{value:.1%}", f"{value:.0%}"}
        found += [t for t in texts if t and t in message]
    return found


def run(name: str, **artifacts: Any) -> CheckOutcome:
    """``run_check`` (re-exported so tests read as the notebook does)."""
    return run_check(name, **artifacts)
