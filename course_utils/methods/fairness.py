"""Metrics beyond accuracy: per-group and worst-group accuracy, group and class weights."""

from __future__ import annotations

import numpy as np


def group_ids(*columns: np.ndarray) -> np.ndarray:
    """Combine integer attribute columns (e.g. label and cue) into one group id per example."""
    cols = [np.asarray(c).astype(int).reshape(-1) for c in columns]
    ids = np.zeros_like(cols[0])
    for c in cols:
        ids = ids * (int(c.max()) + 1 if c.size else 1) + c
    return ids


def per_group_accuracy(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray) -> dict[int, float]:
    """Return ``{group: accuracy}`` for every group present in ``groups``."""
    y_true, y_pred, groups = (np.asarray(a).reshape(-1) for a in (y_true, y_pred, groups))
    if not (len(y_true) == len(y_pred) == len(groups)):
        raise ValueError(f"lengths differ: {len(y_true)} labels, {len(y_pred)} predictions, "
                         f"{len(groups)} groups")
    return {int(g): float(np.mean(y_true[groups == g] == y_pred[groups == g])) for g in np.unique(groups)}


def worst_group_accuracy(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray) -> float:
    """Return the lowest per-group accuracy: how the model does on the group it serves worst."""
    return min(per_group_accuracy(y_true, y_pred, groups).values())


def group_weights(groups: np.ndarray) -> np.ndarray:
    """Return per-example weights that give every group the same total weight (mean weight 1)."""
    groups = np.asarray(groups).reshape(-1)
    values, counts = np.unique(groups, return_counts=True)
    per_group = {g: len(groups) / (len(values) * c) for g, c in zip(values, counts, strict=True)}
    return np.array([per_group[g] for g in groups], dtype="float32")


def class_weights(y: np.ndarray) -> dict[int, float]:
    """Return Keras ``class_weight``: ``n / (n_classes * count)`` per class (balanced)."""
    y = np.asarray(y).reshape(-1).astype(int)
    values, counts = np.unique(y, return_counts=True)
    return {int(v): float(len(y) / (len(values) * c)) for v, c in zip(values, counts, strict=True)}


def precision_recall(y_true: np.ndarray, y_pred: np.ndarray, positive: int = 1) -> tuple[float, float]:
    """Return (precision, recall) of class ``positive``; 0.0 where undefined (nothing predicted)."""
    y_true, y_pred = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    tp = np.sum((y_pred == positive) & (y_true == positive))
    predicted, actual = np.sum(y_pred == positive), np.sum(y_true == positive)
    return (float(tp / predicted) if predicted else 0.0, float(tp / actual) if actual else 0.0)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Return the confusion matrix: row = true class, column = predicted class."""
    y_true = np.asarray(y_true).reshape(-1).astype(int)
    y_pred = np.asarray(y_pred).reshape(-1).astype(int)
    n = n_classes or int(max(y_true.max(initial=0), y_pred.max(initial=0)) + 1)
    out = np.zeros((n, n), dtype=int)
    np.add.at(out, (y_true, y_pred), 1)
    return out
