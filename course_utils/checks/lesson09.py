"""Checks for lesson 09 (unsupervised transfer): diagnose collapse, choose a temperature on validation,
write a contrastive training step.

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
from course_utils.checks.held_out import HeldOutRows
from course_utils.checks.registry import CheckFailed, lesson_checks
from course_utils.exercise_data.unsupervised_transfer import (
    RUNS,
    TEMPERATURES,
    digits,
    exercise_digits,
    labelled,
    train_step_case,
)

register = lesson_checks(__name__)
# What the hidden checks score on: hidden from the student's kernel (checks/held_out.py).
HELD_OUT_DATA = (HeldOutRows("mnist", "train", 6000, 8000, arrays=("y",)),
                 HeldOutRows("mnist", "test", 7000, 8000))

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
    """The spreads and probe accuracies are measured right (recomputed here), and verdicts are given.

    Whether the verdicts are right is the hidden ``09.collapse_diagnosis_hidden``'s to say: told
    here, they would be handed out (three yes/no verdicts and a choice of three).
    """
    models = _run_models(locals())
    got_spreads = _numbers(spreads, "spreads", list(RUNS))
    got_probes = _numbers(probe_accuracy, "probe_accuracy", list(RUNS))
    _verdicts(collapsed, transfer)
    want_spreads, want_probes = _measure_runs(models, exercise_digits("labelled"),
                                              exercise_digits("validation"))
    for run in RUNS:
        if abs(got_spreads[run] - want_spreads[run]) > SPREAD_TOLERANCE:
            raise CheckFailed(
                f"run {run}: your spread ({got_spreads[run]:.3f}) is not what the check measures. Take "
                "embedding_spread of the run's projections, projector(encoder(x_val)), on the validation "
                "digits")
        if abs(got_probes[run] - want_probes[run]) > ACCURACY_TOLERANCE:
            raise CheckFailed(
                f"run {run}: your probe accuracy ({got_probes[run]:.3f}) is not what the check measures. "
                "Fit the linear probe on the encoder's features of the labelled digits and score it on "
                "the validation digits")


@register("collapse_diagnosis_hidden", points=2)
def collapse_diagnosis_hidden(collapsed: Any, transfer: Any, encoder_a: Any, projector_a: Any,
                              encoder_b: Any, projector_b: Any, encoder_c: Any, projector_c: Any) -> None:
    """Hidden: run B is what pretrain() gives (rebuilt here), and the verdicts hold on digits and
    labels the notebook never used."""
    models = _run_models(locals())
    verdicts, choice = _verdicts(collapsed, transfer)
    _require_untrained_b(models["B"][0])
    truth, best = _truth(*_measure_runs(models, labelled(HIDDEN_LABELLED_FROM, seed=1), digits(HIDDEN_EVAL)))
    wrong = sum(verdicts[run] != truth[run] for run in RUNS)
    if wrong:
        raise CheckFailed(f"{wrong} of your three collapse verdicts do not hold on other digits: collapse "
                          "means the projections all point the same way (a spread far below a healthy "
                          "run's); a low training loss does not rule it out")
    if choice != best:
        raise CheckFailed("on other digits, the run you would transfer is not the one with the best probe "
                          "accuracy among the runs that did not collapse: a spread that looks healthy is "
                          "necessary, not sufficient")


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
    """Candidates scored on the validation digits (recomputed here), the best of them chosen, and the
    chosen encoder's test accuracy reported as measured."""
    keys = [str(t) for t in TEMPERATURES]
    encoders = _candidate_encoders(locals())
    got = _numbers(val_accuracy, "val_accuracy", keys)
    if str(chosen) not in keys:
        raise CheckFailed(f"`chosen` should be one of {keys} (a key of val_accuracy), got {chosen!r}")
    chosen = str(chosen)
    draw = exercise_digits("labelled")
    want_val = _probe_all(encoders, draw, exercise_digits("validation"))
    want_test = _probe_all(encoders, draw, exercise_digits("test"))
    for t in keys:
        if abs(got[t] - want_val[t]) > ACCURACY_TOLERANCE:
            on_test = all(abs(got[k] - want_test[k]) <= ACCURACY_TOLERANCE for k in keys)
            raise CheckFailed(
                "your accuracies match the *test* digits: choosing on the test split makes the reported "
                "test accuracy optimistic. Score the candidates on x_val, y_val" if on_test else
                f"temperature {t}: your validation accuracy ({got[t]:.3f}) is not what the check measures; "
                "fit the probe on the labelled digits, score it on x_val")
    if got[chosen] < max(got.values()):
        raise CheckFailed(f"`chosen` is {chosen}, which is not the temperature with the highest validation "
                          "accuracy in your own val_accuracy")
    try:
        reported = float(test_accuracy)
    except (TypeError, ValueError):
        raise CheckFailed(f"`test_accuracy` should be a number, got {test_accuracy!r}") from None
    if abs(reported - want_test[chosen]) > ACCURACY_TOLERANCE:
        raise CheckFailed(f"`test_accuracy` ({reported:.3f}) is not the chosen encoder's probe accuracy on "
                          "the test digits: fit the probe on the labelled digits, score it on x_test once")


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
            f"on new digits temperature {chosen} is clearly behind the best candidate: the choice did not "
            "hold up. Choose by validation accuracy")


def nt_xent_reference(z1: np.ndarray, z2: np.ndarray, temperature: float) -> float:
    """NT-Xent (SimCLR's loss) in NumPy: each of the 2N projections picks its partner among the others."""
    z = np.concatenate([z1, z2]).astype("float64")
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z1)
    logits = z @ z.T / temperature
    np.fill_diagonal(logits, -np.inf)
    partner = np.r_[np.arange(n, 2 * n), np.arange(n)]
    log_softmax = logits - logits.max(axis=1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(axis=1, keepdims=True))
    return float(-np.mean(log_softmax[np.arange(2 * n), partner]))


def _project(views: np.ndarray, encoder: list[np.ndarray], projector: list[np.ndarray]) -> np.ndarray:
    """The probe's parts in NumPy: flatten, a tanh dense layer, a linear dense layer."""
    h = np.tanh(views.reshape(len(views), -1).astype("float64") @ encoder[0] + encoder[1])
    return h @ projector[0] + projector[1]


def _compare_train_step(probe: Any, seed: int) -> None:
    case = train_step_case(seed)
    n = len(case["images"])
    if not isinstance(probe, dict) or not {"views", "loss", "encoder", "projector"} <= set(probe):
        raise CheckFailed("pass probe_train_step(YourModel, seed=...) as it returns it")
    try:
        parts = [np.asarray(v, dtype="float64") for v in probe["views"]]
        views = np.concatenate(parts) if parts else np.zeros((0,))
    except ValueError as error:
        raise CheckFailed("the augmenter's outputs have different shapes") from error
    if views.shape[:1] != (2 * n,) or views.shape[1:] != case["images"].shape[1:]:
        raise CheckFailed(f"train_step should draw two augmented views of each of the {n} images (call "
                          f"self.augment in training mode); the augmenter produced {views.shape[0]} images")
    if np.allclose(views[:n], views[n:]):
        raise CheckFailed("both views of each image are the same: call self.augment with training=True, "
                          "once per view, so each view is a new random draw")
    if not np.allclose(views, np.concatenate([case["images"]] * 2), atol=0.6):
        raise CheckFailed("the views are not augmentations of the batch train_step received")
    if probe["loss"] is None or not np.isfinite(probe["loss"]):
        raise CheckFailed("train_step should return {'loss': ...}, the batch's contrastive loss")
    z = _project(views, case["encoder"], case["projector"])
    want = nt_xent_reference(z[:n], z[n:], case["temperature"])
    if abs(probe["loss"] - want) > 1e-3 * (1 + abs(want)):
        hint = ""
        if abs(probe["loss"] - nt_xent_reference(z[:n], z[n:], 0.2)) <= 1e-3 * (1 + abs(want)):
            hint = " (it is NT-Xent at temperature 0.2: use the model's own self.temperature)"
        raise CheckFailed("the loss train_step returns is not NT-Xent between the projections of the two "
                          "views (projector(encoder(view)), both in training mode), at the model's "
                          f"temperature{hint}")
    after = {part: [np.asarray(w, dtype="float64") for w in probe[part]]
             for part in ("encoder", "projector")}
    for part in ("encoder", "projector"):
        if all(np.allclose(a, b) for a, b in zip(after[part], case[part], strict=True)):
            raise CheckFailed(f"the {part}'s weights did not move: take the gradient of the loss with "
                              "respect to the trainable weights of both the encoder and the projection head, "
                              "and apply it with self.optimizer")
    z_after = _project(views, after["encoder"], after["projector"])
    if nt_xent_reference(z_after[:n], z_after[n:], case["temperature"]) >= want:
        raise CheckFailed("after your step the loss on the same views is higher, not lower: apply the "
                          "gradient of the loss (the optimizer minimises), not its negative")


@register("train_step", points=2)
def train_step(probe: Any) -> None:
    """The learner's contrastive ``train_step``, run by ``probe_train_step`` on a fixed batch: two views,
    NT-Xent of their projections at the model's temperature, the encoder and the head moved downhill."""
    _compare_train_step(probe, 7)


@register("train_step_hidden", points=1)
def train_step_hidden(probe: Any) -> None:
    """Hidden: the same on another batch, other shapes and a lower temperature."""
    _compare_train_step(probe, 2024)
