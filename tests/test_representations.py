"""course_utils.methods.representations: per-class draws, linear probes, clustering scores."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.methods import representations as rep


def blobs(n_per_class=40, separation=6.0, seed=0, dims=5):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dims)) * separation
    x = np.concatenate([c + rng.normal(size=(n_per_class, dims)) for c in centres])
    return x, np.repeat(np.arange(3), n_per_class)


def test_sample_per_class_is_balanced_seeded_and_without_replacement() -> None:
    y = np.repeat([0, 1, 2], [5, 8, 3])
    idx = rep.sample_per_class(y, 3, seed=1)
    assert np.bincount(y[idx]).tolist() == [3, 3, 3] and len(set(idx)) == 9
    assert np.array_equal(idx, rep.sample_per_class(y, 3, seed=1))
    with pytest.raises(ValueError, match="class 2 has 3 examples"):
        rep.sample_per_class(y, 4, seed=0)


def test_linear_probe_separates_blobs_and_is_chance_on_noise() -> None:
    x, y = blobs()
    idx = rep.sample_per_class(y, 5, seed=0)
    assert rep.linear_probe_accuracy(x[idx], y[idx], x, y) > 0.95
    noise = np.random.default_rng(1).normal(size=x.shape)
    assert rep.linear_probe_accuracy(noise[idx], y[idx], noise, y) < 0.6


def test_linear_probe_standardises_on_the_training_draw_only() -> None:
    """Shifting and scaling only the test features must change the result (no refit on test)."""
    x, y = blobs(separation=2.0)
    idx = rep.sample_per_class(y, 5, seed=0)
    same = rep.linear_probe_accuracy(x[idx], y[idx], x, y)
    shifted = rep.linear_probe_accuracy(x[idx], y[idx], x * 3 + 10, y)
    assert shifted < same


def test_cluster_scores_high_for_clusters_and_near_zero_for_noise() -> None:
    x, y = blobs()
    good = rep.cluster_scores(x, y, seed=0)
    assert good["NMI"] > 0.9 and good["ARI"] > 0.9
    noise = rep.cluster_scores(np.random.default_rng(2).normal(size=(120, 64)), y, seed=0)
    assert noise["NMI"] < 0.1 and abs(noise["ARI"]) < 0.1
    assert rep.cluster_scores(x, y, seed=3) == rep.cluster_scores(x, y, seed=3)
    with pytest.raises(ValueError, match="labels"):
        rep.cluster_scores(x, y[:-1])
