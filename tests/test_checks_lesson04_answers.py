"""Lesson 04's checks on learners' answers: right ones written differently from the solution earn
full points, plausible mistakes lose theirs (a sigmoid head with from_logits=True among them)."""

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
    run,
)

from course_utils.checks import lesson04  # noqa: E402
from course_utils.exercise_data.fine_tuning import suspect_heads  # noqa: E402


def bn_base(size: int = 8) -> keras.Model:
    """A stand-in MobileNetV2 with BatchNormalization: 11 convolution + BN pairs, pooled."""
    inputs = keras.Input((size, size, 3))
    x = inputs
    for _ in range(11):
        x = keras.layers.Conv2D(3, 1)(x)
        x = keras.layers.BatchNormalization()(x)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name="tiny_base")


def unfreeze_by_index(base: keras.Model, start: int = 10, freeze_bn: bool = True) -> None:
    """Another way of writing the recipe: slices for the bottom, a type check for BatchNormalization."""
    base.trainable = True
    for layer in base.layers[:start]:
        layer.trainable = False
    if freeze_bn:
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False


def fine_tune_model(base, head, preprocess=None, functional=True, optimizer=None, loss="binary_crossentropy"):
    preprocess = preprocess or keras.layers.Normalization(mean=127.5, variance=127.5**2)
    if functional:
        inputs = keras.Input((8, 8, 3))
        model = keras.Model(inputs, head(base(preprocess(inputs), training=False)))
    else:
        model = keras.Sequential([keras.Input((8, 8, 3)), preprocess, base, head])
    model.compile(optimizer=optimizer or keras.optimizers.SGD(1e-5), loss=loss)
    return model


def test_unfrozen_top_accepts_the_recipe_written_differently(tmp_path, monkeypatch):
    genuine(monkeypatch, lesson04)
    base = bn_base()
    unfreeze_by_index(base)
    head = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1), keras.layers.Activation("sigmoid")])
    model = fine_tune_model(base, head, functional=False, loss=keras.losses.BinaryCrossentropy())
    assert full(run("04.unfrozen_top", **captured(tmp_path, model=model)))
    assert full(run("04.bn_stays_put", **captured(tmp_path, model=model)))


@pytest.mark.parametrize(("change", "hint"), [
    ({"loss": keras.losses.BinaryCrossentropy(from_logits=True)}, "from_logits"),   # the case
    ({"optimizer": keras.optimizers.Adam(1e-3)}, "too high"),
    ({"preprocess": keras.layers.Rescaling(1 / 255.0)}, "[0, 1]"),
    ({"freeze_bn": False}, "BatchNormalization"),
])
def test_unfrozen_top_mistakes(monkeypatch, change, hint):
    genuine(monkeypatch, lesson04)
    base = bn_base()
    unfreeze_by_index(base, freeze_bn=change.pop("freeze_bn", True))
    head = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    assert fails(run("04.unfrozen_top", model=fine_tune_model(base, head, **change)), hint)


def test_bn_stays_put_catches_trainable_batchnormalization(monkeypatch):
    genuine(monkeypatch, lesson04)
    base = bn_base()
    unfreeze_by_index(base, freeze_bn=False)
    head = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model = fine_tune_model(base, head)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    assert fails(run("04.bn_stays_put", model=model), "moving statistics")


def test_fine_tuned_accuracy_reads_logits_and_fails_wrong_preprocessing(monkeypatch):
    genuine(monkeypatch, lesson04)
    x, y = colour_photos(10, seed=4)
    monkeypatch.setattr(lesson04, "held_out_images",
                        lambda *a, **k: type("P", (), {"x": x, "y": y, "__len__": lambda s: len(y)})())
    logits = fine_tune_model(identity_backbone(), red_level_head(2, "logits"),
                             loss=keras.losses.BinaryCrossentropy(from_logits=True))
    assert full(run("04.fine_tuned_accuracy", model=logits))
    unit = fine_tune_model(identity_backbone(), red_level_head(2, "sigmoid"),
                           keras.layers.Rescaling(1 / 255.0))
    assert fails(run("04.fine_tuned_accuracy", model=unit), "held-out test photos")


def logit_head() -> keras.Model:
    return keras.Sequential([keras.Input((12,)), keras.layers.Dropout(0.2), keras.layers.Dense(1)])


@pytest.mark.parametrize("loss", [
    lambda y, z: keras.losses.binary_crossentropy(y, z, from_logits=True),   # a function
    keras.losses.BinaryFocalCrossentropy(from_logits=True),
    keras.losses.BinaryCrossentropy(from_logits=True, reduction="sum"),
])
def test_logits_loss_accepts_losses_written_differently(loss):
    head = logit_head()
    head.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
    assert full(run("04.logits_loss", logit_head=head))


def test_logits_loss_mistakes():
    head = logit_head()
    head.compile(optimizer="adam", loss="binary_crossentropy")
    assert fails(run("04.logits_loss", logit_head=head), "logits")
    sigmoid = keras.Sequential([keras.Input((12,)), keras.layers.Dense(1, activation="sigmoid")])
    sigmoid.compile(optimizer="adam", loss="binary_crossentropy")   # "fixed" by changing the head
    assert fails(run("04.logits_loss", logit_head=sigmoid), "outputs probabilities")


def pairing_alt(model):
    """Right, written another way: read the configs, not the attributes."""
    last = model.layers[-1].get_config()
    activation = last.get("activation") or "linear"
    loss = model.loss
    from_logits = False if isinstance(loss, str) else bool(loss.get_config().get("from_logits", False))
    if activation == "sigmoid":
        return "double sigmoid" if from_logits else "ok"
    return "ok" if from_logits else "logits read as probabilities"


def pairing_ignores_from_logits(model):
    """Mistake: a sigmoid output is always fine."""
    activation = getattr(model.layers[-1], "activation", None)
    return "ok" if getattr(activation, "__name__", "linear") == "sigmoid" else "logits read as probabilities"


def pairing_second_to_last(model):
    """Mistake: reads the Dense layer before a separate Activation layer."""
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1]
    from_logits = bool(getattr(model.loss, "from_logits", False))
    if dense.activation.__name__ == "sigmoid":
        return "double sigmoid" if from_logits else "ok"
    return "ok" if from_logits else "logits read as probabilities"


def diagnoses(function):
    return ([function(h) for h in suspect_heads().values()],
            [function(h) for h in lesson04.unseen_pairing_heads()])


def test_pairing_problem_accepts_another_way_of_writing_it():
    visible, hidden = diagnoses(pairing_alt)
    assert full(run("04.pairing_problem", answers=visible))
    assert full(run("04.pairing_problem_unseen", answers=hidden))


def test_pairing_problem_mistakes():
    visible, hidden = diagnoses(pairing_ignores_from_logits)
    assert fails(run("04.pairing_problem", answers=visible), "from_logits")
    assert fails(run("04.pairing_problem_unseen", answers=hidden))
    visible, hidden = diagnoses(pairing_second_to_last)
    assert full(run("04.pairing_problem", answers=visible))     # the suspects have no Activation layer
    assert fails(run("04.pairing_problem_unseen", answers=hidden), "Activation layer")


def test_the_reference_diagnosis_follows_behaviour():
    truth = {"A": "double sigmoid", "B": "logits read as probabilities", "C": "ok", "D": "ok"}
    assert {name: lesson04.reference_pairing(h) for name, h in suspect_heads().items()} == truth
    _ = np
