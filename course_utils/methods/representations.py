"""Scoring a representation with few labels or none: per-class draws, linear probes, clustering.

Lesson 09 pretrains encoders without labels and then asks two questions of their features:
how well does a linear classifier do with a handful of labels per class (:func:`sample_per_class`,
:func:`linear_probe_accuracy`), and how well do the features cluster with no labels at all
(:func:`cluster_scores`: k-means scored against withheld labels by NMI and ARI). scikit-learn does
the fitting; these functions fix the protocol (standardisation fitted on the labelled draw only,
one seeded k-means per seed) so every method in the lesson is scored the same way.
"""

from __future__ import annotations

import numpy as np


def sample_per_class(y, n_per_class: int, seed: int, classes=None) -> np.ndarray:
    """Indices of ``n_per_class`` examples of every class of ``y``, drawn without replacement.

    Raises a clear error when a class has fewer than ``n_per_class`` examples.
    """
    y = np.asarray(y).reshape(-1)
    rng = np.random.default_rng(seed)
    classes = np.unique(y) if classes is None else np.asarray(classes)
    chosen = []
    for c in classes:
        members = np.flatnonzero(y == c)
        if len(members) < n_per_class:
            raise ValueError(f"class {c} has {len(members)} examples, fewer than the "
                             f"{n_per_class} per class asked for; use a larger pool or fewer labels")
        chosen.append(rng.choice(members, n_per_class, replace=False))
    return np.concatenate(chosen)


def linear_probe_accuracy(train_features, train_y, test_features, test_y, c: float = 1.0) -> float:
    """Test accuracy of a logistic regression on frozen features (the *linear probe*).

    Features are standardised with the mean and spread of the labelled training draw only (the
    test features never influence the fit). ``c`` is scikit-learn's inverse regularisation.
    """
    from sklearn.linear_model import LogisticRegression

    f_train = np.asarray(train_features, dtype="float64").reshape(len(train_features), -1)
    f_test = np.asarray(test_features, dtype="float64").reshape(len(test_features), -1)
    mean, std = f_train.mean(axis=0), f_train.std(axis=0) + 1e-6
    clf = LogisticRegression(C=c, max_iter=3000)
    clf.fit((f_train - mean) / std, np.asarray(train_y).reshape(-1))
    return float(clf.score((f_test - mean) / std, np.asarray(test_y).reshape(-1)))


def cluster_scores(features, labels, n_clusters: int | None = None, seed: int = 0,
                   pca_dims: int | None = 50) -> dict[str, float]:
    """k-means on ``features`` (no labels used), scored against the withheld ``labels``.

    The features are standardised and, when they have more than ``pca_dims`` dimensions,
    reduced by PCA first (k-means distances are dominated by noise in thousands of dimensions).
    Returns ``{"NMI": ..., "ARI": ...}``: normalised mutual information (0 = clusters say nothing
    about the labels, 1 = the same partition) and the adjusted Rand index (0 = chance level).
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    from sklearn.preprocessing import StandardScaler

    f = np.asarray(features, dtype="float64").reshape(len(features), -1)
    labels = np.asarray(labels).reshape(-1)
    if len(f) != len(labels):
        raise ValueError(f"{len(f)} feature vectors but {len(labels)} labels")
    k = n_clusters or len(np.unique(labels))
    f = StandardScaler().fit_transform(f)
    if pca_dims and f.shape[1] > pca_dims:
        f = PCA(n_components=min(pca_dims, len(f) - 1), random_state=seed).fit_transform(f)
    assigned = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(f)
    return {"NMI": float(normalized_mutual_info_score(labels, assigned)),
            "ARI": float(adjusted_rand_score(labels, assigned))}
