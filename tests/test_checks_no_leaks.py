"""No visible check gives the answer away: each one, run on a wrong answer, says what is wrong in
the learner's terms without the solution's value (a number, a name, a multiple-choice letter).

Visible checks run in the learner's notebook, as often as the learner likes; their messages are
the feedback a learner iterates on. Hidden checks report after grading only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from checks_support import (  # noqa: E402
    colour_photos,
    genuine,
    identity_backbone,
    photo_model,
    red_level_head,
    reveals,
    run,
)

from course_utils import lessons  # noqa: E402
from course_utils.checks import (  # noqa: E402
    lesson01,
    lesson02,
    lesson03,
    lesson04,
    lesson05,
    lesson06,
    lesson07,
    lesson08,
    lesson09,
    lesson10,
    lesson12,
)
from course_utils.exercise_data import domain_remedies  # noqa: E402
from course_utils.exercise_data.domain_mismatch import coral_pairs, probe_reversal, reversal_cases  # noqa: E402
from course_utils.exercise_data.fine_tuning import suspect_heads  # noqa: E402

# check name -> (a wrong answer's artifacts, the solution's values that must not appear)
CASES: dict[str, Callable[[Any], tuple[dict[str, Any], list[Any]]]] = {}


def case(name: str):
    def register(build: Callable[[Any], tuple[dict[str, Any], list[Any]]]):
        CASES[name] = build
        return build
    return register


def _head(layers: list, loss: Any) -> keras.Model:
    head = keras.Sequential([keras.Input((lesson01.FEATURES,))] + layers)
    head.compile(optimizer="adam", loss=loss)
    return head


@case("01.head_output")
def _01_head(monkeypatch):
    wrong = _head([keras.layers.Dense(1)], "mse")
    return {"head": wrong}, ["binary_crossentropy", "BinaryCrossentropy", "sigmoid"]


@case("01.end_to_end")
def _01_end_to_end(monkeypatch):
    genuine(monkeypatch, lesson01)
    x, y = colour_photos(5)
    model = photo_model(identity_backbone(), red_level_head(2, "sigmoid"))
    return {"pretrained": model, "pretrained_acc": 0.6, "x": x, "y": y}, [1.0, "1.000", "1.00"]


@case("01.new_task_model")
def _01_new_task(monkeypatch):
    genuine(monkeypatch, lesson01)
    x, y = colour_photos(2, classes=7)
    model = photo_model(identity_backbone(), red_level_head(7, "softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return {"model": model, "x": x, "y": y}, ["sparse_categorical_crossentropy", "Sparse"]


@case("02.prepare_for")
def _02_prepare(monkeypatch):
    raw = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3)).astype("uint8")
    right = keras.applications.mobilenet_v2.preprocess_input(raw.astype("float32"))
    return {"raw": raw, "ours": right, "scaled": right * 0.5}, [f"{right.min():.2f}", f"{right.max():.2f}"]


@case("02.probe_features")
def _02_probe(monkeypatch):
    genuine(monkeypatch, lesson02)
    raw = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3)).astype("uint8")
    inputs = keras.Input((8, 8, 3))
    base = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs)))
    base.trainable = False
    right = base.predict(keras.applications.mobilenet.preprocess_input(raw.astype("float32")), verbose=0)
    return {"base": base, "features": right + 1.0, "raw": raw}, [f"{v:.3f}" for v in right.ravel()[:4]]


@case("02.fastest_meeting")
def _02_fastest(monkeypatch):
    right = [lesson02.reference_fastest(lesson02.KERAS_TABLE, bar) for bar in lesson02.KERAS_TABLE_BARS]
    wrong = ["xception"] * len(right)   # the most accurate row, for every bar
    return {"picks": wrong}, [name for name in right if name not in (None, "xception")]


@case("03.head_accuracy")
def _03_head(monkeypatch):
    x, y = colour_photos(5)
    head = red_level_head(2, "sigmoid")
    head.compile(optimizer="adam", loss="mse")
    return {"head": head, "val_features": x.mean(axis=(1, 2)) / 127.5 - 1, "y": y}, [
        "binary_crossentropy", "BinaryCrossentropy"]


@case("03.choose_on_validation")
def _03_choose(monkeypatch):
    rng = np.random.default_rng(1)
    y, yv = np.repeat([0, 1], 12), np.repeat([0, 1], 20)
    x, xv = rng.normal(0, 1, (24, 4)) + y[:, None], rng.normal(0, 1, (40, 4)) + yv[:, None]
    right = lesson03.probe_scores(x, y, xv, yv)
    wrong = {str(c): 0.5 for c in right}
    values = [f"{v:.3f}" for v in right.values()] + [f"{v:.2f}" for v in right.values()]
    return {"val_scores": wrong, "best_C": 0.001, "train_features": x, "train_y": y, "val_features": xv,
            "val_y": yv}, values


@case("04.unfrozen_top")
def _04_unfrozen(monkeypatch):
    genuine(monkeypatch, lesson04)
    base = identity_backbone()
    model = photo_model(base, red_level_head(2, "sigmoid"))
    base.trainable = True
    for layer in base.layers[:10]:
        layer.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-5),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    return {"model": model}, ["from_logits=False)", "binary_crossentropy"]


@case("04.logits_loss")
def _04_logits(monkeypatch):
    head = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
    head.compile(optimizer="adam", loss="binary_crossentropy")
    return {"logit_head": head}, ["from_logits=True)", "BinaryCrossentropy("]


@case("04.pairing_problem")
def _04_pairing(monkeypatch):
    truth = [lesson04.reference_pairing(h) for h in suspect_heads().values()]
    wrong = ["ok"] * 4
    named = [f"{name}: {t}" for name, t in zip("ABCD", truth, strict=True)]
    return {"answers": wrong}, ["double sigmoid", "logits read as probabilities", *named, "head A", "head B"]


@case("05.group_weights")
def _05_group(monkeypatch):
    return {"weights": np.ones(4)}, ["0.667", "0.6666", "[0.6"]


@case("05.class_weights")
def _05_class(monkeypatch):
    y = lesson05.IMBALANCED_Y
    return {"class_weight": {0: 0.1, 1: 0.9}, "y": y}, ["5.000", "5.0", "0.556", "0.5556"]


@case("05.pick_threshold")
def _05_threshold(monkeypatch):
    p, y = lesson05.validation_probabilities()
    right = lesson05.reference_threshold(p, y, lesson05.MIN_RECALL)
    return {"threshold": 0.5}, [f"{right:g}", f"{right:.2f}"]


@case("06.choose_remedy")
def _06_remedy(monkeypatch):
    truth = {"none": 0.771, "dropout 0.5": 0.903, "weight decay 1e-2": 0.782, "dropout + weight decay": 0.881}
    monkeypatch.setattr(lesson06, "remedy_score", lambda size, name, seed: truth[name])
    on_training = {name: [1.0, 1.0, 1.0] for name in truth}
    return {"val_scores": on_training, "choice": "none", "image_size": 128}, [
        *(f"{v:.3f}" for v in truth.values()), *(f"{v:.2f}" for v in truth.values()), "dropout 0.5'"]


@case("06.early_stopping")
def _06_early(monkeypatch):
    return {"config": {"monitor": "loss", "patience": 0, "restore_best_weights": False}}, [
        "val_loss", "restore_best_weights=True", "patience=10"]


@case("07.coral_loss")
def _07_coral(monkeypatch):
    right = [lesson07.coral_reference(a, b) for a, b in coral_pairs(7)]
    wrong = [0.0, 0.0] + [v * 1.3 + 0.01 for v in right[2:]]
    return {"values": wrong}, [f"{v:.5f}" for v in right[2:]] + [f"{v:.3f}" for v in right[2:]] + ["1.3"]


@case("07.shift_diagnosis")
def _07_shift(monkeypatch):
    rng = np.random.default_rng(2)
    same = rng.uniform(0, 100, (2000, 4, 4, 1)).astype("float32")
    target = rng.uniform(150, 255, (1200, 4, 4, 1)).astype("float32")
    monkeypatch.setattr(lesson07, "mnist_test_rgb32", lambda start, stop: (same[start:stop], None))
    monkeypatch.setattr(lesson07, "exercise_xt", lambda count: target[:count])
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                              keras.layers.Rescaling(1 / 255)])
    right = [lesson07.fair_pad_reference(model, same[:1000], same[1000:]),
             lesson07.fair_pad_reference(model, same, target)]
    return {"cause": "a", "pad_same": 0.45, "pad_target": 1.2, "feature_model": model, "n_target": 1200}, [
        *(f"{v:.2f}" for v in right), '"b"', "'b'", "cause"]


class _Passthrough(keras.layers.Layer):
    def __init__(self, lam=1.0, **kwargs):
        super().__init__(**kwargs)

    def call(self, x):
        return x * 1.0


@case("07.gradient_reversal")
def _07_reversal(monkeypatch):
    expected = [-lam * up for lam, _, up in reversal_cases(7)]
    values = [f"{v:.3f}" for g in expected for v in g.ravel()[:3]]
    return {"probe": probe_reversal(_Passthrough, seed=7)}, values


@case("08.importance_weights")
def _08_weights(monkeypatch):
    from course_utils.taught.domain_remedies import effective_sample_size, importance_weights

    p = domain_remedies.demo_probabilities(3)
    right = importance_weights(p, 300, 100)
    cases = domain_remedies.ess_cases(3)
    wrong_ess = [float(len(w)) for w in cases]
    values = [f"{v:.4f}" for v in right[:3]] + [f"{effective_sample_size(w):.2f}" for w in cases[2:]]
    return {"weights": right, "ess": wrong_ess}, values


@case("08.hospital_d_decision")
def _08_decision(monkeypatch):
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(40, int), np.ones(10, int)]
    x = rng.uniform(0, 100, (50, 2, 2, 1)).astype("float32")
    monkeypatch.setattr(lesson08, "hospital_d", lambda split: (x, y))
    model = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    right = float(np.mean(model.predict(x, verbose=0).argmax(1) == y))
    scores = {name: 0.99 for name in lesson08.CANDIDATES}
    return {"val_scores": scores, "choice": "AdaBN", "shift_kind": "scanner", "source_only": model,
            "adabn": model, "weighted": model}, [f"{right:.3f}", f"{right:.2f}", "population"]


_SPREADS = {"A": 0.012, "B": 0.934, "C": 0.871}
_PROBES = {"A": 0.214, "B": 0.512, "C": 0.733}


@case("09.collapse_diagnosis")
def _09_collapse(monkeypatch):
    monkeypatch.setattr(lesson09, "_run_models", lambda artifacts: {run: (None, None) for run in "ABC"})
    monkeypatch.setattr(lesson09, "_measure_runs", lambda models, draw, evaluation: (_SPREADS, _PROBES))
    monkeypatch.setattr(lesson09, "exercise_digits", lambda split: None)
    models = {f"{part}_{run}": None for part in ("encoder", "projector") for run in "abc"}
    wrong = {"spreads": {"A": 0.9, "B": 0.9, "C": 0.9}, "probe_accuracy": _PROBES,
             "collapsed": {"A": False, "B": False, "C": False}, "transfer": "A"}
    values = [f"{v:.3f}" for v in _SPREADS.values()] + [f"{v:.2f}" for v in _SPREADS.values()]
    return {**wrong, **models}, [*values, "transfer run C", "'C'"]


@case("09.temperature_on_validation")
def _09_temperature(monkeypatch):
    val = {"0.05": 0.612, "0.2": 0.774, "1.0": 0.105}
    test = {"0.05": 0.633, "0.2": 0.791, "1.0": 0.101}
    monkeypatch.setattr(lesson09, "_candidate_encoders", lambda artifacts: {})
    monkeypatch.setattr(lesson09, "exercise_digits", lambda split: split)
    monkeypatch.setattr(lesson09, "_probe_all", lambda encoders, draw, evaluation:
                        test if evaluation == "test" else val)
    artifacts = {"val_accuracy": val, "chosen": "0.2", "test_accuracy": 0.5,
                 "encoder_0": None, "encoder_1": None, "encoder_2": None}
    return artifacts, ["0.791", "0.79", "0.774"]


@case("09.train_step")
def _09_train_step(monkeypatch):
    from course_utils.exercise_data.unsupervised_transfer import probe_train_step
    from course_utils.taught.unsupervised_transfer import SimCLR

    right = probe_train_step(SimCLR, seed=7)
    wrong = {**right, "loss": right["loss"] + 1.0}
    return {"probe": wrong}, [f"{right['loss']:.3f}", f"{right['loss']:.2f}"]


@case("10.mean_pool")
def _10_pool(monkeypatch):
    from course_utils.exercise_data.text_transfer import pooling_case

    hidden, mask = pooling_case(7)
    right = lesson10.mean_pool_reference(hidden, mask)
    return {"pooled": hidden.mean(axis=1)}, [f"{v:.3f}" for v in right.ravel()[:6]]


@case("10.choose_on_validation")
def _10_choose(monkeypatch):
    from course_utils.taught import text_transfer

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 384)).astype("float32")
    y = (x[:, 0] > 0).astype(int)
    monkeypatch.setattr(lesson10, "validation_labels", lambda count: y)
    heads = {}
    for name, sign in (("amazon", 0.3), ("tweets", -1.0), ("both", 1.0)):
        model = text_transfer.make_head(384)
        kernel = np.zeros((384, 1), "float32")
        kernel[0, 0] = 10 * sign
        model.layers[-1].set_weights([kernel, np.full(1, 0.4, "float32")])
        heads[f"head_{name}"] = model
    right = {name[5:]: lesson10._head_accuracy(h, x, y) for name, h in heads.items()}
    made_up = {"amazon": 0.9, "tweets": 0.95, "both": 0.91}
    return {"decision": "tweets", "val_scores": made_up, "x_val": x, "y_val": y, **heads}, [
        *(f"{v:.3f}" for v in right.values()), *(f"{v:.2f}" for v in right.values())]


CAPSTONE = lessons.find("your_own_data")   # the last lesson: its number changes as lessons are added
capstone = importlib.import_module(CAPSTONE.checks)


@case(f"{CAPSTONE.number}.audit")
def _11_audit(monkeypatch):
    unusable, leaked = ["broken_3.jpg", "notes.txt"], ["ant_17.jpg"]
    monkeypatch.setattr(capstone, "rebuilt_folder", lambda: None)
    monkeypatch.setattr(capstone, "_truth", lambda folder: (unusable, leaked))
    return {"unusable": ["notes.txt"], "leaked": []}, ["broken_3", "ant_17"]


@case(f"{CAPSTONE.number}.raw_pixels")
def _11_raw(monkeypatch):
    genuine(monkeypatch, capstone)
    model = photo_model(identity_backbone(32), red_level_head(2, "softmax"), "unit")
    return {"model": model, "backbone": "mobilenet_v2"}, ["Rescaling(1 / 127.5", "offset=-1", "127.5"]


@case("01.frozen_base")
def _01_frozen(monkeypatch):
    genuine(monkeypatch, lesson01)
    return {"base": identity_backbone()}, ["trainable = False", ".trainable=False"]


@case("03.frozen_features")
def _03_frozen(monkeypatch):
    genuine(monkeypatch, lesson03)
    return {"base": identity_backbone(), "train_features": np.zeros((4, 3)), "n_images": 4}, [
        "trainable = False"]


@case("03.augmentation_inside")
def _03_augmentation(monkeypatch):
    genuine(monkeypatch, lesson03)
    model = photo_model(identity_backbone(), red_level_head(2, "sigmoid"), functional=True)
    return {"model": model}, ['RandomFlip("horizontal")', "RandomRotation(0.1)", "Rescaling(1 / 127.5"]


@case("05.debiased_colored_mnist")
def _05_debiased(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (40, 14, 14, 2)).astype("float32")
    y = np.repeat([0, 1], 20)
    model = keras.Sequential([keras.Input((14, 14, 2)), keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.layers[-1].set_weights([np.zeros((392, 1)), np.full(1, 5.0)])
    return {"model": model, "x": x, "y": y}, ["Dense(64", "L2(1e-3)", "2e-3", "patience=5"]


@case("06.head_regularised")
def _06_head(monkeypatch):
    head = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, activation="sigmoid")])
    return {"head": head}, ["Dropout(0.5)", "L2(1e-3)"]


@case("06.unfreeze_top")
def _06_unfreeze(monkeypatch):
    inputs = keras.Input((8, 8, 3))
    x = inputs
    for _ in range(3):
        x = keras.layers.BatchNormalization()(keras.layers.Conv2D(4, 3, padding="same")(x))
    model = keras.Model(inputs, x)
    for layer in model.layers[:-3]:
        layer.trainable = False
    return {"model": model, "n": 3}, ["layers[:-n]", "model.trainable = True"]


@case("07.adabn_statistics")
def _07_adabn(monkeypatch):
    features = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization()])
    copy = keras.models.clone_model(features)
    copy.set_weights(features.get_weights())
    x = np.random.default_rng(0).normal(3, 2, (32, 4)).astype("float32")
    return {"adapted": copy, "source": features, "x": x}, ["moving_mean.assign(", "acts.mean("]


@case("12.distillation_loss")
def _12_kd(monkeypatch):
    from course_utils.exercise_data.after_transfer import logit_cases

    right = [lesson12.reference_kd_loss(*c) for c in logit_cases(3)]
    return {"losses": [v * 1.5 for v in right]}, [f"{v:.4f}" for v in right] + [f"{v:.3f}" for v in right]


@case("12.threshold_rule")
def _12_rule(monkeypatch):
    from course_utils.exercise_data.after_transfer import confidence_cases

    right = [lesson12.reference_threshold(*c) for c in confidence_cases(3)]
    return {"thresholds": [0.0] * len(right)}, [f"{v:.4f}" for v in right if np.isfinite(v)]


@case("12.abstention_decision")
def _12_decision(monkeypatch):
    rng = np.random.default_rng(0)

    def rows(n, skill):
        confidence = rng.uniform(0.5, 1.0, n)
        return np.column_stack([confidence, rng.uniform(0, 1, n) < confidence ** skill])

    validation, photos, sketches = rows(300, 0.3), rows(300, 0.3), rows(300, 3.0)
    right = lesson12.reference_threshold(validation[:, 0], validation[:, 1] > 0.5, lesson12.TARGET)
    answered = photos[:, 0] >= right
    values = [f"{right:.4f}", f"{answered.mean():.3f}", f"{photos[answered, 1].mean():.3f}"]
    return {"threshold": 0.5, "validation": validation, "photos": photos, "sketches": sketches,
            "report": {}, "answer_sketches": True}, values


@case(f"{lessons.find('your_own_data').number}.head_on_new_folder")
def _capstone_head(monkeypatch):
    module = importlib.import_module(lessons.find("your_own_data").checks)
    genuine(monkeypatch, module)
    return {"backbone": "mobilenet_v2", "base": identity_backbone(32), "head": red_level_head(2, "softmax"),
            "val_features": np.zeros((4, 3)), "val_labels": np.zeros(4)}, ["trainable = False"]


EFFICIENT = lessons.find("efficient_fine_tuning")
efficient_checks = importlib.import_module(EFFICIENT.checks)


@case(f"{EFFICIENT.number}.merge")
def _11_merge(monkeypatch):
    from course_utils.exercise_data.efficient_fine_tuning import merge_case

    kernel, a, b, alpha, rank = merge_case(efficient_checks.VISIBLE_CASE)
    right = kernel + alpha / rank * (a @ b)
    return {"merged": kernel + a @ b}, [*(f"{v:.3f}" for v in right.ravel()[:6]), f"{alpha / rank:g}"]


@case(f"{EFFICIENT.number}.wise_choice")
def _11_wise_choice(monkeypatch):
    from course_utils.exercise_data.efficient_fine_tuning import ALPHAS

    x = np.random.default_rng(0).normal(size=(40, 4, 4, 3)).astype("float32")
    models = []
    for shift in (0, 3):
        keras.utils.set_random_seed(1)
        inputs = keras.Input((4, 4, 3))
        top = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(8, 1),
                                keras.layers.GlobalAveragePooling2D()])
        model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax", name="head")(top(inputs)))
        kernel, bias = model.get_layer("head").get_weights()
        model.get_layer("head").set_weights([np.roll(kernel, shift, axis=1), np.roll(bias, shift)])
        models.append(model)
    probe, tuned = models
    y = np.argmax(probe(x), 1)               # the probe end is right on every photo, the tuned end on none
    monkeypatch.setattr(efficient_checks, "_photos", lambda size, split, per_class, seed: (x, y))
    start, end = probe.get_weights(), tuned.get_weights()
    mixes = [efficient_checks._mix(keras.models.clone_model(tuned), start, end, a) for a in ALPHAS]
    scores = [float(np.mean(np.argmax(m(x), 1) == y)) for m in mixes]
    best = ALPHAS[int(np.argmax(scores))]
    worst = ALPHAS[int(np.argmin(scores))]
    return ({"val_scores": scores, "alpha": worst, "probe_model": probe, "tuned_model": tuned,
             "image_size": 128, "per_class": 10}, [f"alpha {best}", f"alpha = {best}", f"{best} is"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_wrong_answer_is_told_what_is_wrong_not_the_answer(monkeypatch, name):
    artifacts, solution_values = CASES[name](monkeypatch)
    outcome = run(name, **artifacts)
    assert outcome.points < outcome.max_points, outcome
    assert outcome.message, "a wrong answer gets a hint"
    assert not reveals(outcome.message, solution_values), outcome.message


def test_every_visible_check_is_covered():
    """Every check a learner runs in an exercise notebook has a case above (a new lesson adds its own)."""
    import json

    from course_utils.grading.notebook import parse_check_call

    visible = set()
    for lesson in lessons.all_lessons():
        if lesson.solution is None:
            continue
        for cell in json.loads(lesson.solution.read_text())["cells"]:
            if "check" in cell.get("metadata", {}).get("tags", []):
                call = parse_check_call("".join(cell["source"]))
                if call is not None:
                    visible.add(call.name)
    assert visible, "no visible checks found"
    assert not sorted(visible - set(CASES)), sorted(visible - set(CASES))
