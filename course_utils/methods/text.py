"""Lesson 10's helpers around a text encoder: padding, padding cost, rewound heads, shares.

What the lesson teaches (WordPiece ids with ``[CLS]``/``[SEP]``, length-grouped batches, mean
pooling, the heads, importance weights and self-training) is in the lesson's ``# @save`` cells
(:mod:`course_utils.taught.text_transfer`); this module holds the plumbing those cells use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def pad_batch(id_lists: Sequence[Sequence[int]], length: int | None = None, pad_id: int = 0
              ) -> tuple[np.ndarray, np.ndarray]:
    """Pack token-id lists into ``(token_ids, padding_mask)`` arrays of one length.

    ``length`` defaults to the longest list (what a length-grouped batch needs); a fixed
    ``length`` pads every list to it (lists longer than it are an error: cut them first).
    """
    longest = max((len(ids) for ids in id_lists), default=0)
    length = longest if length is None else int(length)
    if longest > length:
        raise ValueError(f"a sequence has {longest} tokens, more than the padded length {length}")
    token_ids = np.full((len(id_lists), length), pad_id, dtype="int32")
    mask = np.zeros((len(id_lists), length), dtype=bool)
    for row, ids in enumerate(id_lists):
        token_ids[row, :len(ids)] = ids
        mask[row, :len(ids)] = True
    return token_ids, mask


def padded_positions(lengths: Sequence[int], batches: Sequence[np.ndarray], fixed: int | None = None
                     ) -> int:
    """Token positions the encoder computes for ``batches`` (index arrays into ``lengths``).

    Each batch costs ``batch size x its padded length``: the longest sentence in it, or ``fixed``.
    The transformer's work grows with this number (attention even faster), padding included.
    """
    lengths = np.asarray(lengths)
    return int(sum(len(b) * (fixed if fixed is not None else int(lengths[b].max())) for b in batches))


def fixed_batches(n: int, batch_size: int) -> list[np.ndarray]:
    """Index batches in the original order (no grouping by length)."""
    return [np.arange(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def balanced_sample(y: np.ndarray, n: int, rng: np.random.Generator,
                    pool: np.ndarray | None = None) -> np.ndarray:
    """Draw ``n`` indices (half per class, the odd one negative) from ``pool`` (default: all)."""
    y = np.asarray(y)
    pool = np.arange(len(y)) if pool is None else np.asarray(pool)
    picked = []
    for c, count in ((0, n - n // 2), (1, n // 2)):
        members = pool[y[pool] == c]
        if len(members) < count:
            raise ValueError(f"class {c} has {len(members)} examples in the pool, {count} needed")
        picked.append(rng.choice(members, count, replace=False))
    return np.sort(np.concatenate(picked))


def binary_accuracy(probabilities, y) -> float:
    """Accuracy of sigmoid outputs (threshold 0.5) against 0/1 labels."""
    p = np.asarray(probabilities, dtype="float64").reshape(-1)
    return float(np.mean((p > 0.5).astype(int) == np.asarray(y).reshape(-1).astype(int)))


def share_recovered(source_only: float, method: float, oracle: float) -> float:
    """The share of the source-only -> oracle gap a method closes (0: none, 1: all of it).

    Raises ``ValueError`` when the oracle does not beat source-only (there is no gap to close).
    """
    gap = oracle - source_only
    if gap <= 0:
        raise ValueError(f"no gap to recover: oracle {oracle:.3f} <= source-only {source_only:.3f}")
    return (method - source_only) / gap


_HEADS: dict = {}   # (make_head, input size, l2, epochs) -> (compiled head, its initial weights)


def fit_rewound(make_head: Callable, x: np.ndarray, y: np.ndarray, *, l2: float, epochs: int,
                sample_weight: np.ndarray | None = None, seed: int = 0):
    """Train a fresh ``make_head(dim, l2=..., steps_per_execution=epochs)`` on ``(x, y)``, full batch.

    Lesson 10 trains thousands of small heads; building and tracing each one anew would cost more
    than training it. So one head is compiled per ``(make_head, input size, l2, epochs)`` and
    rewound (:func:`course_utils.methods.training.rewind`: initial weights, zeroed optimizer) before
    every run, and the data is one batch repeated ``epochs`` times, fitted as one epoch with
    ``steps_per_execution=epochs``: every step runs inside one traced call. Returns the head, which
    the next call with the same key rewinds and retrains: use it (predict, score) before that call.
    """
    import tensorflow as tf

    from course_utils import seeds
    from course_utils.methods.training import rewind

    key = (make_head, x.shape[1], l2, epochs)
    if key not in _HEADS:
        seeds.seed_everything(seed)
        head = make_head(x.shape[1], l2=l2, steps_per_execution=epochs)
        _HEADS[key] = (head, head.get_weights())
    head, initial = _HEADS[key]
    rewind(head, initial)
    w = np.ones(len(x), "float32") if sample_weight is None else np.asarray(sample_weight, "float32")
    batch = tf.data.Dataset.from_tensors((np.asarray(x, "float32"), np.asarray(y, "float32"), w))
    head.fit(batch.repeat(epochs), epochs=1, shuffle=False, verbose=0)
    return head
