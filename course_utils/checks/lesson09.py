"""Checks for lesson 09 (unsupervised transfer): diagnose collapse, choose a temperature on validation.

Every check recomputes what it trusts: the embeddings' spread and the linear-probe accuracies
of the student's encoders, on digits and labelled draws the check loads itself (the hidden
checks on digits the notebook never touches). The models are the student's: a check verifies
that they have the lesson's architecture (``small_encoder``, ``projection_head``) and that the
runs it compares are different networks, and the diagnosis check rebuilds run B itself (it was
trained with a learning rate of 0, so it must still hold the seeded initial weights). What
stays trusted is that runs A and C are what ``pretrain`` returned; handing over other trained
networks is measured as given. Keras and scikit-learn are imported inside the functions only,
so ``check()`` stays cheap to import.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.checks.common import require_model
from course_utils.checks.registry import CheckFailed, lesson_checks
from course_utils.exercise_data.unsupervised_transfer import (
    RUNS,
    TEMPERATURES,
    digits,
    exercise_digits,
    labelled,
)

register = lesson_checks(__name__)

RUN_SEED = 42
"""The seed of the exercise's ``pretrain`` (its parameters cell)."""
# Index ranges into MNIST the notebook never touches (the exercise's: exercise_data).
HIDDEN_LABELLED_FROM = ("x_train", 6000, 8000)
HIDDEN_EVAL = ("x_test", 7000, 8000)
SPREAD_TOLERANCE = 0.05
ACCURACY_TOLERANCE = 0.02
CHOICE_TOLERANCE = 0.03


def _outputs(model: Any, x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(model(x[i:i + 256], training=False))
                           for i in range(0, len(x), 256)]).reshape(len(x), -1)


def _spread(z: np.ndarray) -> float:
    z = np.asarray(z, dtype="float64")
    z = z / (np.linalg.norm(z, axis=1, keepdims=True) + 1e-12)
    return float(z.std(axis=0).mean() * np.sqrt(z.shape[1]))


def _probe(f_train: np.ndarray, y_train: np.ndarray, f_eval: np.ndarray, y_eval: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression

    mean, std = f_train.mean(axis=0), f_train.std(axis=0) + 1e-6
    clf = LogisticRegression(C=1.0, max_iter=3000).fit((f_train - mean) / std, y_train)
    return float(clf.score((f_eval - mean) / std, y_eval))


def _numbers(value: Any, name: str, keys: list[str]) -> dict[str, float]:
    if not isinstance(value, dict) or sorted(map(str, value)) != sorted(keys):
        raise CheckFailed(f"`{name}` should be a dict with the keys {keys}, got "
                          f"{sorted(map(str, value)) if isinstance(value, dict) else type(value).__name__}")
    out = {}
    for k in keys:
        try:
            out[k] = float(value[k])
        except (TypeError, ValueError):
            raise CheckFailed(f"`{name}[{k!r}]` should be a number, got {value[k]!r}") from None
        if not np.isfinite(out[k]):
            raise CheckFailed(f"`{name}[{k!r}]` is {out[k]}")
    return out


def _layer_signature(model: Any) -> list[tuple[str, list[tuple[int, ...]]]]:
    """Layer types and weight shapes in order (names differ: Keras numbers them per process)."""
    return [(type(layer).__name__, [tuple(w.shape) for w in layer.weights])
            for layer in model.layers if type(layer).__name__ != "InputLayer"]


def _require_like(model: Any, reference: Any, name: str, what: str) -> Any:
    require_model(model, name)
    if _layer_signature(model) != _layer_signature(reference):
        raise CheckFailed(f"`{name}` is not the lesson's {what}: its layers are "
                          f"{[t for t, _ in _layer_signature(model)]}; pass the run's own "
                          f"`.model.encoder` / `.model.projector` from pretrain()")
    return model


def _encoder(model: Any, name: str) -> Any:
    from course_utils.taught.unsupervised_transfer import small_encoder

    require_model(model, name)
    if tuple(model.input_shape[1:]) != (28, 28, 1):
        raise CheckFailed(f"`{name}` should take 28x28x1 digits, its input is {model.input_shape}")
    return _require_like(model, small_encoder(), name, "small_encoder()")


def _require_distinct(models: dict[str, Any], what: str) -> None:
    """Fail when two of ``models`` hold the same weights (one network handed over twice)."""
    seen: dict[bytes, str] = {}
    for key, model in models.items():
        digest = b"".join(np.asarray(w, dtype="float32").tobytes()[:4096] for w in model.trainable_weights)
        if digest in seen:
            raise CheckFailed(f"{what} {seen[digest]} and {key} are the same network; pass each "
                              "run's own model")
        seen[digest] = key


def _require_untrained_b(encoder: Any) -> None:
    """Run B (learning rate 0) must hold the initial weights ``pretrain`` draws with RUN_SEED."""
    from course_utils import seeds
    from course_utils.taught.unsupervised_transfer import small_encoder

    seeds.seed_everything(RUN_SEED)
    reference = small_encoder()
    for got, want in zip(encoder.trainable_weights, reference.trainable_weights, strict=True):
        if not np.allclose(np.asarray(got), np.asarray(want), atol=1e-6):
            raise CheckFailed(f"`encoder_b` is not run B as pretrain(**colleague_runs()['B']) gives it "
                              f"with seed {RUN_SEED}: pass runs['B'].model.encoder, unchanged")


def _measure_runs(models: dict[str, tuple[Any, Any]], draw, evaluation) -> tuple[dict, dict]:
    x_lab, y_lab = draw
    x_eval, y_eval = evaluation
    spreads, probes = {}, {}
    for run, (encoder, projector) in models.items():
        h_eval = _outputs(encoder, x_eval)
        spreads[run] = _spread(_outputs(projector, h_eval))
        probes[run] = _probe(_outputs(encoder, x_lab), y_lab, h_eval, y_eval)
    return spreads, probes


def _truth(spreads: dict[str, float], probes: dict[str, float]) -> tuple[dict[str, bool], str]:
    top = max(spreads.values())
    collapsed = {run: s < 0.25 * top for run, s in spreads.items()}
    usable = [run for run in probes if not collapsed[run]]
    return collapsed, max(usable, key=probes.get)


def _run_models(artifacts: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    from course_utils.taught.unsupervised_transfer import projection_head

    models = {}
    for run in RUNS:
        enc, proj = f"encoder_{run.lower()}", f"projector_{run.lower()}"
        models[run] = (_encoder(artifacts[enc], enc),
                       _require_like(artifacts[proj], projection_head(), proj, "projection_head()"))
    _require_distinct({run: m[0] for run, m in models.items()}, "runs")
    return models


def _verdicts(collapsed: Any, transfer: Any) -> tuple[dict[str, bool], str]:
    if not isinstance(collapsed, dict) or sorted(map(str, collapsed)) != list(RUNS):
        raise CheckFailed(f"`collapsed` should be a dict with the keys {list(RUNS)} and True/False values")
    if not all(isinstance(v, bool) for v in collapsed.values()):
        raise CheckFailed("`collapsed` should hold True or False for every run")
    if transfer not in RUNS:
        raise CheckFailed(f"`transfer` should be the name of one run, one of {list(RUNS)}, got {transfer!r}")
    return {str(k): v for k, v in collapsed.items()}, transfer


@register("collapse_diagnosis", points=2)
def collapse_diagnosis(spreads: Any, probe_accuracy: Any, collapsed: Any, transfer: Any,
                       encoder_a: Any, projector_a: Any, encoder_b: Any, projector_b: Any,
                       encoder_c: Any, projector_c: Any) -> None:
    """The spreads and probe accuracies are measured right, and the verdicts follow from them."""
    models = _run_models(locals())
    got_spreads = _numbers(spreads, "spreads", list(RUNS))
    got_probes = _numbers(probe_accuracy, "probe_accuracy", list(RUNS))
    verdicts, choice = _verdicts(collapsed, transfer)
    want_spreads, want_probes = _measure_runs(models, exercise_digits("labelled"),
                                              exercise_digits("validation"))
    for run in RUNS:
        if abs(got_spreads[run] - want_spreads[run]) > SPREAD_TOLERANCE:
            raise CheckFailed(
                f"run {run}: your spread is {got_spreads[run]:.3f}, measured here {want_spreads[run]:.3f}. "
                "Take embedding_spread of the run's projections, projector(encoder(x_val)), on the "
                "validation digits")
        if abs(got_probes[run] - want_probes[run]) > ACCURACY_TOLERANCE:
            raise CheckFailed(
                f"run {run}: your probe accuracy is {got_probes[run]:.3f}, measured here "
                f"{want_probes[run]:.3f}. Fit the linear probe on the encoder's features of the "
                "labelled digits and score it on the validation digits")
    truth, best = _truth(want_spreads, want_probes)
    for run in RUNS:
        if verdicts[run] != truth[run]:
            raise CheckFailed(
                f"run {run} (spread {want_spreads[run]:.2f}) is {'not ' if not truth[run] else ''}collapsed: "
                "collapse means the projections all point the same way, a spread far below a healthy "
                "run's (near 0). A low training loss does not rule it out; it is a symptom")
    if choice != best:
        raise CheckFailed(
            f"transfer run {best}: it has the best probe accuracy among the runs that did not collapse "
            f"({want_probes[best]:.3f} vs {want_probes[choice]:.3f} for run {choice}). A spread that "
            "looks healthy is necessary, not sufficient")


@register("collapse_diagnosis_hidden", points=1)
def collapse_diagnosis_hidden(collapsed: Any, transfer: Any, encoder_a: Any, projector_a: Any,
                              encoder_b: Any, projector_b: Any, encoder_c: Any, projector_c: Any) -> None:
    """Hidden: run B is what pretrain() gives (rebuilt here), and the verdicts hold on digits and
    labels the notebook never used."""
    models = _run_models(locals())
    verdicts, choice = _verdicts(collapsed, transfer)
    _require_untrained_b(models["B"][0])
    spreads, probes = _measure_runs(models, labelled(HIDDEN_LABELLED_FROM, seed=1),
                                    digits(HIDDEN_EVAL))
    truth, best = _truth(spreads, probes)
    if verdicts != truth or choice != best:
        raise CheckFailed(
            f"on other digits the diagnosis is collapsed={truth}, transfer {best!r}; yours is "
            f"collapsed={verdicts}, transfer {choice!r}. Measure every run the same way before deciding")


def _candidate_encoders(artifacts: dict[str, Any]) -> dict[str, Any]:
    encoders = {str(t): _encoder(artifacts[f"encoder_{i}"], f"encoder_{i}")
                for i, t in enumerate(TEMPERATURES)}
    _require_distinct(encoders, "the encoders of temperatures")
    return encoders


def _probe_all(encoders: dict[str, Any], draw, evaluation) -> dict[str, float]:
    (x_lab, y_lab), (x_eval, y_eval) = draw, evaluation
    return {t: _probe(_outputs(e, x_lab), y_lab, _outputs(e, x_eval), y_eval) for t, e in encoders.items()}


@register("temperature_on_validation", points=2)
def temperature_on_validation(val_accuracy: Any, chosen: Any, test_accuracy: Any,
                              encoder_0: Any, encoder_1: Any, encoder_2: Any) -> None:
    """Candidates scored on the validation digits, the best one chosen, its test accuracy reported."""
    keys = [str(t) for t in TEMPERATURES]
    encoders = _candidate_encoders(locals())
    got = _numbers(val_accuracy, "val_accuracy", keys)
    if str(chosen) not in keys:
        raise CheckFailed(f"`chosen` should be one of {keys} (a key of val_accuracy), got {chosen!r}")
    chosen = str(chosen)
    if got[chosen] < max(got.values()):
        raise CheckFailed(f"`chosen` should be the temperature with the highest validation accuracy, "
                          f"{max(got, key=got.get)}, not {chosen}")
    draw = exercise_digits("labelled")
    want_val = _probe_all(encoders, draw, exercise_digits("validation"))
    want_test = _probe_all(encoders, draw, exercise_digits("test"))
    for t in keys:
        if abs(got[t] - want_val[t]) > ACCURACY_TOLERANCE:
            on_test = all(abs(got[k] - want_test[k]) <= ACCURACY_TOLERANCE for k in keys)
            raise CheckFailed(
                "your accuracies match the *test* digits: choosing on the test split makes the reported "
                "test accuracy optimistic. Score the candidates on x_val, y_val" if on_test else
                f"temperature {t}: your validation accuracy is {got[t]:.3f}, measured here "
                f"{want_val[t]:.3f}; fit the probe on the labelled digits, score it on x_val")
    try:
        reported = float(test_accuracy)
    except (TypeError, ValueError):
        raise CheckFailed(f"`test_accuracy` should be a number, got {test_accuracy!r}") from None
    if abs(reported - want_test[chosen]) > ACCURACY_TOLERANCE:
        raise CheckFailed(f"`test_accuracy` should be the chosen encoder's ({chosen}) probe accuracy on "
                          f"the test digits, {want_test[chosen]:.3f}; you reported {reported:.3f}")


@register("temperature_choice_holds", points=2)
def temperature_choice_holds(chosen: Any, encoder_0: Any, encoder_1: Any, encoder_2: Any) -> None:
    """Hidden: on digits the notebook never saw, the chosen temperature is (about) the best one."""
    keys = [str(t) for t in TEMPERATURES]
    if str(chosen) not in keys:
        raise CheckFailed(f"`chosen` should be one of {keys}, got {chosen!r}")
    encoders = _candidate_encoders(locals())
    scores = _probe_all(encoders, labelled(HIDDEN_LABELLED_FROM, seed=1), digits(HIDDEN_EVAL))
    best = max(scores, key=scores.get)
    if scores[str(chosen)] < scores[best] - CHOICE_TOLERANCE:
        raise CheckFailed(
            f"on new digits temperature {chosen} scores {scores[str(chosen)]:.3f} and {best} scores "
            f"{scores[best]:.3f}: the choice did not hold up. Choose by validation accuracy")
