"""Lesson 10's checks on learners' answers: right ones written differently from the solution earn
full points, plausible mistakes lose theirs (scores taken on the test tweets among them)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from checks_support import captured, fails, full, run  # noqa: E402

from course_utils.checks import lesson10  # noqa: E402
from course_utils.exercise_data.text_transfer import pooling_case  # noqa: E402
from course_utils.taught import text_transfer as taught10  # noqa: E402


def pool_einsum(hidden, mask):
    """Right, written another way: einsum over the tokens, integer mask, norm via keras.ops."""
    m = np.asarray(mask).astype(int)
    summed = np.einsum("btd,bt->bd", np.asarray(hidden, dtype="float64"), m)
    pooled = summed / m.sum(axis=1, keepdims=True)
    return np.asarray(keras.ops.normalize(pooled, axis=-1))


def pool_all_tokens(hidden, mask):
    """Mistake: the padding is averaged in."""
    pooled = np.asarray(hidden).mean(axis=1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def pool_unnormalised(hidden, mask):
    """Mistake: the masked mean, not scaled to length 1."""
    m = np.asarray(mask, dtype="float64")[..., None]
    return (np.asarray(hidden) * m).sum(axis=1) / m.sum(axis=1)


def pool_divide_by_length(hidden, mask):
    """Mistake: padding zeroed, but divided by the sequence length."""
    m = np.asarray(mask, dtype="float64")[..., None]
    pooled = (np.asarray(hidden) * m).sum(axis=1) / np.asarray(hidden).shape[1]
    return pooled


def test_mean_pool_accepts_another_way_of_writing_it():
    assert full(run("10.mean_pool", pooled=pool_einsum(*pooling_case(7))))
    assert full(run("10.mean_pool_hidden", pooled=pool_einsum(*pooling_case(2024))))


@pytest.mark.parametrize(("pool", "hint"), [(pool_all_tokens, "padding"), (pool_unnormalised, "L2 norm"),
                                            (pool_divide_by_length, "length 1")])
def test_mean_pool_mistakes(pool, hint):
    assert fails(run("10.mean_pool", pooled=pool(*pooling_case(7))), hint)
    assert fails(run("10.mean_pool_hidden", pooled=pool(*pooling_case(2024))))


def head(sign: float, bias: float = 0.0) -> keras.Model:
    model = taught10.make_head(384)
    kernel = np.zeros((384, 1), "float32")
    kernel[0, 0] = 10 * sign
    model.layers[-1].set_weights([kernel, np.full(1, bias, "float32")])
    return model


@pytest.fixture
def tweets(monkeypatch):
    """Validation and fresh tweets, small: the class is the sign of the first number."""
    rng = np.random.default_rng(0)
    x_val = rng.normal(size=(60, 384)).astype("float32")
    y_val = (x_val[:, 0] > 0).astype(int)
    x_fresh = rng.normal(size=(80, 384)).astype("float32")
    monkeypatch.setattr(lesson10, "validation_labels", lambda count: y_val)
    monkeypatch.setattr(lesson10, "fresh_tweets", lambda: (x_fresh, (x_fresh[:, 0] > 0).astype(int)))
    heads = {"head_amazon": head(0.2, 0.5), "head_tweets": head(-1.0), "head_both": head(1.0)}
    return x_val, y_val, heads


def test_choose_on_validation_accepts_scores_measured_another_way(tmp_path, tweets):
    from sklearn.metrics import accuracy_score

    x_val, y_val, heads = tweets
    scores = {name[5:]: float(accuracy_score(y_val, (h.predict(x_val, verbose=0)[:, 0] > 0.5).astype(int)))
              for name, h in heads.items()}
    decision = max(scores, key=scores.get)
    artifacts = captured(tmp_path, val_scores=scores, decision=decision, x_val=x_val, y_val=y_val, **heads)
    assert full(run("10.choose_on_validation", **artifacts))
    assert full(run("10.decision_holds", decision=decision, **{k: artifacts[k] for k in heads}))


def test_choose_on_validation_mistakes(tweets):
    x_val, y_val, heads = tweets
    right = {name[5:]: lesson10._head_accuracy(h, x_val, y_val) for name, h in heads.items()}
    on_test = {"amazon": 0.9, "tweets": 0.95, "both": 0.9}      # numbers from other tweets
    assert fails(run("10.choose_on_validation", val_scores=on_test, decision="tweets", x_val=x_val,
                     y_val=y_val, **heads), "not head_")
    other_labels = np.roll(y_val, 7)                               # the test tweets' labels passed as y_val
    assert fails(run("10.choose_on_validation", val_scores=right, decision="both", x_val=x_val,
                     y_val=other_labels, **heads), "validation tweets")
    assert fails(run("10.choose_on_validation", val_scores=right, decision="amazon", x_val=x_val, y_val=y_val,
                     **heads), "your own val_scores")


def test_decision_holds_fails_a_choice_that_trails(tweets):
    _, _, heads = tweets
    assert fails(run("10.decision_holds", decision="tweets", **heads), "trails")
