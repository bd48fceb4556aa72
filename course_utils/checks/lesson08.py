"""Checks for lesson 08 (domain remedies): importance weights, their ESS, and hospital D.

Hospital D is built here, from PneumoniaMNIST, so the hidden check scores the deployed model on
X-rays the student never had. Keras and the lesson's functions are imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.checks.common import finite_numbers, model_accuracy, require_model
from course_utils.checks.registry import CheckFailed, lesson_checks
from course_utils.exercise_data.domain_remedies import demo_probabilities, ess_cases, pneumonia_split

register = lesson_checks(__name__)

# On hospital D's test X-rays, seeds 42-44 (smoke and laptop steps): source-only and importance
# weights reach accuracy 0.60-0.85 and balanced accuracy 0.75-0.90; AdaBN 0.48-0.55 and 0.68-0.72.
D_MIN_ACCURACY = 0.6
D_MIN_BALANCED = 0.74        # mean recall of the two classes: a one-class model scores 0.5


def _compare_weights(weights: Any, ess: Any, seed: int, n_source: int, n_target: int) -> None:
    # The lesson's own functions are the reference (imported here: the module imports Keras).
    from course_utils.taught.domain_remedies import effective_sample_size, importance_weights

    p = demo_probabilities(seed, n_source)
    got = finite_numbers(weights, "weights", n_source)
    want = importance_weights(p, n_source, n_target)
    if np.allclose(got, p / p.mean(), rtol=1e-3) or np.allclose(got, p, rtol=1e-3):
        raise CheckFailed("your weights follow p(target|x) itself; the weight is the odds "
                          "p / (1 - p), times n_source / n_target")
    if np.allclose(got / got.mean(), want, rtol=1e-3) and not np.isclose(got.mean(), 1.0, rtol=1e-3):
        raise CheckFailed(f"the weights have mean {got.mean():.3g}: scale them to mean 1 "
                          "(divide by their mean), so the loss keeps its size")
    if not np.allclose(got, want, rtol=1e-3, atol=1e-9):
        raise CheckFailed("weights differ from p / (1 - p) * n_source / n_target scaled to mean 1 "
                          f"(first three expected {np.round(want[:3], 4).tolist()}, got "
                          f"{np.round(got[:3], 4).tolist()})")
    cases = ess_cases(seed)
    got_ess = finite_numbers(ess, "ess", len(cases))
    want_ess = np.array([effective_sample_size(w) for w in cases])
    if not np.allclose(got_ess, want_ess, rtol=1e-3):
        raise CheckFailed(f"effective sample sizes {np.round(got_ess, 2).tolist()}, expected "
                          f"{np.round(want_ess, 2).tolist()}: ESS = (sum w)^2 / sum(w^2) — 10 for ten "
                          "equal weights, 1 when one example holds all the weight")


@register("importance_weights", points=2)
def importance_weights(weights: Any, ess: Any) -> None:
    """``my_weights`` on the notebook's probabilities (300 source, 100 target) and ``my_ess``."""
    _compare_weights(weights, ess, 3, 300, 100)


@register("importance_weights_hidden", points=1)
def importance_weights_hidden(weights: Any, ess: Any) -> None:
    """Hidden: the same on probabilities and weight vectors the student has not seen."""
    _compare_weights(weights, ess, 2025, 240, 60)


CANDIDATES = ("source-only", "AdaBN", "importance weights")


@register("hospital_d_decision", points=2)
def hospital_d_decision(choice: Any, val_scores: Any, shift_kind: Any) -> None:
    """The three remedies scored on validation, the best one chosen, and the shift diagnosed."""
    if not isinstance(val_scores, dict) or set(val_scores) != set(CANDIDATES):
        raise CheckFailed(f"`val_scores` should be a dict with exactly the keys {list(CANDIDATES)}")
    scores = {k: float(v) for k, v in val_scores.items()}
    if not all(0.0 <= v <= 1.0 for v in scores.values()):
        raise CheckFailed("`val_scores` should hold accuracies between 0 and 1")
    if choice not in scores:
        raise CheckFailed(f"`choice` should be one of {list(CANDIDATES)}, got {choice!r}")
    if scores[choice] < max(scores.values()):
        raise CheckFailed(f"you chose {choice!r} ({scores[choice]:.3f}) but "
                          f"{max(scores, key=scores.get)!r} scores higher on validation: deploy what "
                          "the validation split supports")
    kind = str(shift_kind).strip().lower()
    if kind not in ("scanner", "population"):
        raise CheckFailed('`shift_kind` should be "scanner" or "population"')
    if kind != "population":
        raise CheckFailed("look again: how large is the weights' ESS, and what share of hospital D's "
                          "X-rays does the source model call pneumonia, compared with hospital A's?")


def hospital_d_test() -> tuple[np.ndarray, np.ndarray]:
    """Hospital D's test X-rays (its class mix, from PneumoniaMNIST's test split): the check's own."""
    return pneumonia_split("test", seed=7)


@register("hospital_d_deployed", points=2)
def hospital_d_deployed(model: Any) -> None:
    """Hidden: the deployed model on hospital D's test X-rays, which the student never had."""
    require_model(model, "deployed")
    x, y = hospital_d_test()
    acc = model_accuracy(model, x, y)
    predicted = np.asarray(model.predict(x, verbose=0)).argmax(axis=-1)
    balanced = float(np.mean([np.mean(predicted[y == c] == c) for c in (0, 1)]))
    if acc < D_MIN_ACCURACY or balanced < D_MIN_BALANCED:
        raise CheckFailed(
            f"on hospital D's test X-rays your deployed model scores accuracy {acc:.3f} (needed "
            f"{D_MIN_ACCURACY}) and balanced accuracy {balanced:.3f} (needed {D_MIN_BALANCED}); a "
            "remedy built for one kind of shift can hurt under the other"
        )
