"""Tests for lesson 10 checks: masked mean pooling hints and the validation-based decision."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils.checks.lesson10 import mean_pool_reference  # noqa: E402
from course_utils.checks.registry import run_check  # noqa: E402
from course_utils.exercise_data.text_transfer import pooling_case  # noqa: E402
from course_utils.taught import text_transfer as taught10  # noqa: E402


def test_mean_pool_checks_accept_the_lesson_and_explain_mistakes() -> None:
    hidden, mask = pooling_case(7)
    lesson = np.asarray(taught10.mean_pool(hidden, mask))
    lesson = lesson / np.linalg.norm(lesson, axis=1, keepdims=True)
    assert run_check("10.mean_pool", pooled=lesson).passed
    assert run_check("10.mean_pool_hidden", pooled=mean_pool_reference(*pooling_case(2024))).passed
    assert not run_check("10.mean_pool_hidden", pooled=lesson).passed
    plain = hidden.mean(axis=1)
    plain = plain / np.linalg.norm(plain, axis=1, keepdims=True)
    assert "padding" in run_check("10.mean_pool", pooled=plain).message
    unnormalised = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    assert "L2 norm" in run_check("10.mean_pool", pooled=unnormalised).message
    assert "shape" in run_check("10.mean_pool", pooled=lesson[:, :3]).message


def _head(sign: float) -> keras.Model:
    head = taught10.make_head(384)
    kernel = np.zeros((384, 1), "float32")
    kernel[0, 0] = 10 * sign
    head.layers[-1].set_weights([kernel, np.zeros(1, "float32")])
    return head


def test_choose_on_validation_wants_real_validation_scores_and_their_best() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 384)).astype("float32")
    y = (x[:, 0] > 0).astype(int)
    heads = {"head_amazon": _head(1.0), "head_tweets": _head(-1.0), "head_both": _head(1.0)}
    scores = {"amazon": 1.0, "tweets": 0.0, "both": 1.0}
    ok = run_check("10.choose_on_validation", decision="amazon", val_scores=scores, x_val=x, y_val=y, **heads)
    assert ok.passed, ok.message
    wrong = run_check("10.choose_on_validation", decision="tweets", val_scores=scores, x_val=x, y_val=y,
                      **heads)
    assert "ship the best on validation" in wrong.message
    made_up = run_check("10.choose_on_validation", decision="tweets", val_scores={**scores, "tweets": 1.0},
                        x_val=x, y_val=y, **heads)
    assert "validation tweets" in made_up.message
    assert "one of" in run_check("10.choose_on_validation", decision="gpt", val_scores=scores, x_val=x,
                                 y_val=y, **heads).message
    assert "Keras model" in run_check("10.choose_on_validation", decision="amazon", val_scores=scores,
                                      x_val=x, y_val=y, head_amazon=3, head_tweets=heads["head_tweets"],
                                      head_both=heads["head_both"]).message
