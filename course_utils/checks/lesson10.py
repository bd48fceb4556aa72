"""Checks for lesson 10 (text transfer): masked mean pooling, and choosing a model on validation data.

Keras and the text encoder are imported inside the check functions only, so ``check()`` stays
cheap to import.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.checks.common import as_array, require_model
from course_utils.checks.registry import CheckFailed, lesson_checks
from course_utils.exercise_data.text_transfer import pooling_case

register = lesson_checks(__name__)

OPTIONS = ("amazon", "tweets", "both")
DECISION_MARGIN = 0.03   # the chosen head may trail the best one on fresh tweets by this much
MIN_FRESH_ACCURACY = 0.75
HIDDEN_TWEETS = 300      # fresh, balanced tweets the hidden check labels itself
HIDDEN_SEED = 2024


def mean_pool_reference(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Masked mean over tokens, then L2 normalisation (NumPy)."""
    m = mask.astype("float64")[..., None]
    pooled = (hidden.astype("float64") * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def _compare_pooling(pooled: Any, seed: int) -> None:
    hidden, mask = pooling_case(seed)
    want = mean_pool_reference(hidden, mask)
    got = as_array(pooled, "pooled").astype("float64")
    if got.shape != want.shape:
        raise CheckFailed(f"expected one vector per sentence, shape {want.shape}, got {got.shape}: "
                          "average over the token axis (axis=1)")
    if not np.all(np.isfinite(got)):
        raise CheckFailed("your vectors contain NaN or infinity: divide by the number of real tokens "
                          "(the mask's sum), which is at least 1")
    plain = hidden.astype("float64").mean(axis=1)
    plain_unit = plain / np.linalg.norm(plain, axis=1, keepdims=True)
    if np.allclose(got, plain, atol=1e-3) or np.allclose(got, plain_unit, atol=1e-3):
        raise CheckFailed("you averaged the padding too: multiply by the mask and divide by the number "
                          "of real tokens, not by the sequence length")
    norms = np.linalg.norm(got, axis=1)
    if not np.allclose(norms, 1.0, atol=1e-3):
        unnormalised = want * np.linalg.norm(
            (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True), axis=1, keepdims=True)
        hint = ("the direction is right; now divide each vector by its L2 norm"
                if np.allclose(got, unnormalised, atol=1e-3) else "and check the masked average")
        raise CheckFailed(f"the vectors should have length 1 (yours: {np.round(norms, 3).tolist()}); {hint}")
    if not np.allclose(got, want, atol=1e-3):
        raise CheckFailed("unit vectors, but not the masked mean's direction: average only the real tokens "
                          "(mask = 1), then normalise")


@register("mean_pool", points=2)
def mean_pool(pooled: Any) -> None:
    """``my_mean_pool`` on ``pooling_case(7)``: masked mean, then unit length."""
    _compare_pooling(pooled, 7)


@register("mean_pool_hidden", points=1)
def mean_pool_hidden(pooled: Any) -> None:
    """Hidden: ``my_mean_pool`` on a case the student has not seen."""
    _compare_pooling(pooled, 2024)


def _head_accuracy(head: Any, x: np.ndarray, y: np.ndarray) -> float:
    p = np.asarray(head(np.asarray(x, dtype="float32"), training=False)).reshape(-1)
    return float(np.mean((p > 0.5).astype(int) == np.asarray(y).reshape(-1).astype(int)))


def _heads(**heads: Any) -> dict[str, Any]:
    out = {}
    for option in OPTIONS:
        head = heads[f"head_{option}"]
        require_model(head, f"head_{option}")
        if head.inputs[0].shape[-1] != 384 or head.outputs[0].shape[-1] != 1:
            raise CheckFailed(f"`head_{option}` should map a 384-number sentence embedding to one "
                              "sigmoid output")
        out[option] = head
    return out


@register("choose_on_validation", points=2)
def choose_on_validation(decision: Any, val_scores: Any, head_amazon: Any, head_tweets: Any,
                         head_both: Any, x_val: Any, y_val: Any) -> None:
    """The scores are the heads' validation accuracies, and the decision is the best of them."""
    heads = _heads(head_amazon=head_amazon, head_tweets=head_tweets, head_both=head_both)
    if decision not in OPTIONS:
        raise CheckFailed(f"`decision` should be one of {list(OPTIONS)}, got {decision!r}")
    if not isinstance(val_scores, dict) or set(val_scores) != set(OPTIONS):
        raise CheckFailed(f"`val_scores` should be a dict with the keys {list(OPTIONS)}")
    x, y = as_array(x_val, "x_val"), np.asarray(y_val).reshape(-1)
    for option, head in heads.items():
        real = _head_accuracy(head, x, y)
        try:
            claimed = float(val_scores[option])
        except (TypeError, ValueError) as error:
            raise CheckFailed(f"val_scores[{option!r}] should be a number (an accuracy)") from error
        if abs(claimed - real) > 0.005:
            raise CheckFailed(
                f"val_scores[{option!r}] is {claimed:.3f}, but head_{option} scores {real:.3f} on the "
                "validation tweets: score every head on x_val / y_val (never on the test tweets: a choice "
                "made on test data makes the test score an optimistic guess)")
    best = max(OPTIONS, key=lambda o: float(val_scores[o]))
    if float(val_scores[decision]) < float(val_scores[best]):
        raise CheckFailed(f"on validation, '{best}' scores {float(val_scores[best]):.3f} and your decision "
                          f"'{decision}' {float(val_scores[decision]):.3f}: ship the best on validation")


@register("decision_holds", points=2)
def decision_holds(decision: Any, head_amazon: Any, head_tweets: Any, head_both: Any) -> None:
    """Hidden: on fresh tweets the check embeds itself, the chosen head is (close to) the best."""
    import keras_hub

    from course_utils import datasets, text_encoders
    from course_utils.methods.text import balanced_sample
    from course_utils.taught.text_transfer import embed_sentences

    heads = _heads(head_amazon=head_amazon, head_tweets=head_tweets, head_both=head_both)
    if decision not in OPTIONS:
        raise CheckFailed(f"`decision` should be one of {list(OPTIONS)}, got {decision!r}")
    tweets = datasets.load_sentences("airline_tweets", verbose=False)
    fresh = tweets.take(balanced_sample(tweets.y, HIDDEN_TWEETS, np.random.default_rng(HIDDEN_SEED)))
    folder = text_encoders.preset_folder(verbose=False)
    backbone = keras_hub.models.BertBackbone.from_preset(folder)
    tokenizer = keras_hub.models.BertTokenizer.from_preset(folder, strip_accents=True)
    x = embed_sentences(backbone, tokenizer, fresh.texts, verbose=False)
    acc = {option: _head_accuracy(head, x, fresh.y) for option, head in heads.items()}
    best = max(acc, key=acc.get)
    shown = ", ".join(f"{o} {a:.3f}" for o, a in acc.items())
    if acc[decision] < acc[best] - DECISION_MARGIN:
        raise CheckFailed(f"on {HIDDEN_TWEETS} fresh tweets your heads score {shown}: '{decision}' trails "
                          f"'{best}' by more than {DECISION_MARGIN}; was the choice made on validation data?")
    if acc[decision] < MIN_FRESH_ACCURACY:
        raise CheckFailed(f"on {HIDDEN_TWEETS} fresh tweets the chosen head scores {acc[decision]:.3f} "
                          f"(< {MIN_FRESH_ACCURACY}); train it on the frozen embeddings as the notebook says")
