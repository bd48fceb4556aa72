"""Tests for lesson 09 checks: the collapse diagnosis and the temperature chosen on validation.

The runs are built here in a second, not pretrained: a collapsed run (a projection head whose
last layer outputs a constant), the untrained run B (the seeded initial weights), and encoders
from other seeds. The checks compute the truth themselves; these tests give them right and wrong
answers and read the hints.
"""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from helpers import needs_mirror  # noqa: E402

from course_utils import seeds  # noqa: E402
from course_utils.checks import lesson09 as checks  # noqa: E402
from course_utils.checks.registry import run_check  # noqa: E402
from course_utils.exercise_data import unsupervised_transfer as exercise  # noqa: E402
from course_utils.taught.unsupervised_transfer import projection_head, small_encoder  # noqa: E402


def encoder(seed: int, dead: bool = False) -> keras.Model:
    """The lesson's encoder, initial weights of ``seed``; ``dead``: the same features for every image."""
    seeds.seed_everything(seed)
    model = small_encoder()
    if dead:
        dense = next(layer for layer in model.layers if isinstance(layer, keras.layers.Dense))
        dense.kernel.assign(np.zeros(dense.kernel.shape, "float32"))
    return model


def head(seed: int, collapsed: bool = False) -> keras.Model:
    """The lesson's projection head; ``collapsed``: a constant output (zero kernel, non-zero bias)."""
    keras.utils.set_random_seed(seed + 1000)
    model = projection_head()
    if collapsed:
        last = model.layers[-1]
        last.kernel.assign(np.zeros(last.kernel.shape, "float32"))
        last.bias.assign(np.linspace(-1, 1, last.bias.shape[0]).astype("float32"))
    return model


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[keras.Model, keras.Model]]:
    """A: collapsed projections; B: the untrained run as pretrain() makes it; C: another seed's init."""
    b = encoder(checks.RUN_SEED), projection_head()  # head drawn right after the encoder, as in pretrain
    return {"A": (encoder(7), head(7, collapsed=True)), "B": b, "C": (encoder(11), head(11))}


def artifacts(runs, **answers):
    out = {f"{kind}_{run.lower()}": model for run, pair in runs.items()
           for kind, model in zip(("encoder", "projector"), pair, strict=True)}
    return {**out, **answers}


def truth(runs, labelled, evaluation):
    spreads, probes = checks._measure_runs(runs, labelled, evaluation)
    collapsed, best = checks._truth(spreads, probes)
    return spreads, probes, collapsed, best


@needs_mirror
def test_collapse_diagnosis_accepts_the_measured_verdicts_and_explains_wrong_ones(runs) -> None:
    spreads, probes, collapsed, best = truth(runs, exercise.exercise_digits("labelled"),
                                             exercise.exercise_digits("validation"))
    assert collapsed["A"] and spreads["A"] < 0.05, spreads
    right = artifacts(runs, spreads=spreads, probe_accuracy=probes, collapsed=collapsed, transfer=best)
    assert run_check("09.collapse_diagnosis", **right).passed

    fooled = {**collapsed, "A": False}  # "its loss is almost zero, it looks best"
    outcome = run_check("09.collapse_diagnosis", **{**right, "collapsed": fooled})
    assert outcome.points == 0 and "run A" in outcome.message and "collapsed" in outcome.message
    assert "best probe accuracy" in run_check("09.collapse_diagnosis", **{**right, "transfer": "A"}).message
    wrong_spread = {**spreads, "C": spreads["C"] + 0.3}
    assert "spread" in run_check("09.collapse_diagnosis", **{**right, "spreads": wrong_spread}).message
    assert "keys" in run_check("09.collapse_diagnosis", **{**right, "probe_accuracy": {"A": 1}}).message


@needs_mirror
def test_collapse_checks_refuse_a_network_twice_another_architecture_and_a_changed_run_b(runs) -> None:
    spreads, probes, collapsed, best = truth(runs, exercise.exercise_digits("labelled"),
                                             exercise.exercise_digits("validation"))
    right = artifacts(runs, spreads=spreads, probe_accuracy=probes, collapsed=collapsed, transfer=best)
    twice = {**right, "encoder_b": right["encoder_c"]}
    assert "same network" in run_check("09.collapse_diagnosis", **twice).message
    other = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(128)])
    assert "not the lesson's" in run_check("09.collapse_diagnosis", **{**right, "encoder_c": other}).message

    hidden = {k: v for k, v in right.items() if k not in ("spreads", "probe_accuracy")}
    *_, hidden_collapsed, hidden_best = truth(runs, exercise.labelled(checks.HIDDEN_LABELLED_FROM, seed=1),
                                              exercise.digits(checks.HIDDEN_EVAL))
    hidden = {**hidden, "collapsed": hidden_collapsed, "transfer": hidden_best}
    assert run_check("09.collapse_diagnosis_hidden", **hidden).passed
    not_b = {**hidden, "encoder_b": encoder(checks.RUN_SEED + 1)}
    assert "is not run B" in run_check("09.collapse_diagnosis_hidden", **not_b).message


@pytest.fixture(scope="module")
def candidates() -> dict[str, keras.Model]:
    """Three encoders, the last one dead (constant features: a probe at chance)."""
    return {"encoder_0": encoder(1), "encoder_1": encoder(2), "encoder_2": encoder(3, dead=True)}


@needs_mirror
def test_temperature_check_wants_validation_scores_and_the_best_of_them(candidates) -> None:
    encoders = checks._candidate_encoders(candidates)
    labelled = exercise.exercise_digits("labelled")
    val = checks._probe_all(encoders, labelled, exercise.exercise_digits("validation"))
    test = checks._probe_all(encoders, labelled, exercise.exercise_digits("test"))
    chosen = max(val, key=val.get)
    assert chosen != "1.0" and val["1.0"] < 0.2, val  # the dead encoder is at chance
    right = {**candidates, "val_accuracy": val, "chosen": chosen, "test_accuracy": test[chosen]}
    assert run_check("09.temperature_on_validation", **right).passed

    on_test = {**right, "val_accuracy": test, "chosen": max(test, key=test.get)}
    if any(abs(test[k] - val[k]) > checks.ACCURACY_TOLERANCE for k in val):
        assert "*test* digits" in run_check("09.temperature_on_validation", **on_test).message
    outcome = run_check("09.temperature_on_validation", **{**right, "chosen": "1.0"})
    assert "highest validation" in outcome.message
    assert "test_accuracy" in run_check("09.temperature_on_validation",
                                        **{**right, "test_accuracy": test[chosen] + 0.1}).message
    same = {**right, "encoder_1": candidates["encoder_0"]}
    assert "same network" in run_check("09.temperature_on_validation", **same).message

    assert run_check("09.temperature_choice_holds", chosen=chosen, **candidates).passed
    outcome = run_check("09.temperature_choice_holds", chosen="1.0", **candidates)
    assert outcome.points == 0 and "did not hold" in outcome.message


def test_answers_of_the_wrong_type_get_a_hint(runs) -> None:
    """No digits needed: the answers are refused before anything is measured."""
    right = artifacts(runs, collapsed={"A": 1, "B": 0, "C": 0}, transfer="C")
    assert "True or False" in run_check("09.collapse_diagnosis_hidden", **right).message
    assert "one of" in run_check("09.collapse_diagnosis_hidden",
                                 **{**right, "collapsed": {"A": True, "B": False, "C": False},
                                    "transfer": "D"}).message
    assert "Keras model" in run_check("09.collapse_diagnosis_hidden", **{**right, "encoder_a": 3}).message
