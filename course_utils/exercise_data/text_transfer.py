"""Exercise data for the lesson ``text_transfer``: token vectors with padding to pool."""

from __future__ import annotations

import numpy as np


def pooling_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Token vectors (batch, seq, d) and a padding mask of varied lengths; padding holds large values.

    Whatever sits at padded positions must not reach the pooled vector, so the padding here is
    deliberately far from the real tokens: averaging it in is an unmistakable mistake.
    """
    rng = np.random.default_rng(seed)
    batch, seq, dim = 6, 9, 8
    lengths = rng.integers(1, seq + 1, size=batch)
    lengths[0] = seq                                   # one sentence without padding
    mask = np.arange(seq)[None, :] < lengths[:, None]
    hidden = rng.normal(size=(batch, seq, dim)).astype("float32")
    hidden[~mask] = 50.0 + rng.normal(size=(int((~mask).sum()), dim))
    return hidden, mask
