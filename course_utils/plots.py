"""Plots the lessons share: learning curves side by side, image grids with labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _history_dict(history) -> dict:
    return history.history if hasattr(history, "history") else dict(history)


def _style_epoch_axis(ax, metric: str) -> None:
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _finish(fig, title: str | None):
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_histories(histories: Mapping[str, object], metrics: Sequence[str] = ("accuracy", "loss"),
                   title: str | None = None):
    """Plot train (dashed) and validation (solid) curves of several runs, one panel per metric.

    ``histories`` maps a run's name to a Keras ``History`` (or its ``.history`` dict).
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes[0], metrics, strict=True):
        for i, (name, hist) in enumerate(histories.items()):
            h = _history_dict(hist)
            color = colors[i % len(colors)]
            if metric in h:
                epochs = np.arange(1, len(h[metric]) + 1)
                ax.plot(epochs, h[metric], "--", color=color, alpha=0.7, label=f"{name} (train)")
            if f"val_{metric}" in h:
                epochs = np.arange(1, len(h[f"val_{metric}"]) + 1)
                ax.plot(epochs, h[f"val_{metric}"], "-", color=color, lw=2, label=f"{name} (val)")
        _style_epoch_axis(ax, metric)
    return _finish(fig, title)


def show_images(images, labels: Sequence[str] | None = None, ncols: int = 8, size: float = 1.6,
                title: str | None = None):
    """Show a grid of uint8 (or 0-1 float) images with optional text labels; return the figure."""
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    n = len(images)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            img = images[i]
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=8)
    return _finish(fig, title)


def plot_embedding(points, labels, class_names: Sequence[str], title: str | None = None, ax=None):
    """Scatter 2-D points (e.g. PCA of features) coloured by integer class label; return the figure."""
    import matplotlib.pyplot as plt

    points, labels = np.asarray(points), np.asarray(labels).reshape(-1)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(labels):
        raise ValueError(f"expected (N, 2) points and N labels, got {points.shape} and {labels.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4.2))
    else:
        fig = ax.figure
    for k, name in enumerate(class_names):
        sel = labels == k
        ax.scatter(points[sel, 0], points[sel, 1], s=12, alpha=0.7, label=f"{name} ({sel.sum()})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_mean_spread(x, runs: Mapping[str, object], xlabel: str, ylabel: str, logx: bool = False,
                     title: str | None = None):
    """Plot the mean of several runs per x value with a min-max band; ``runs`` maps a name to
    an (n_x, n_seeds) array (NaN where a run was skipped; an x where all of a run's values are
    NaN is left out of that run's line). Return the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.asarray(x, dtype=float)
    for name, values in runs.items():
        values = np.asarray(values, dtype=float)
        if values.ndim == 1:
            values = values[:, None]
        ran = ~np.all(np.isnan(values), axis=1)
        values = values[ran]
        mean = np.nanmean(values, axis=1)
        ax.plot(x[ran], mean, "o-", lw=2, label=name)
        ax.fill_between(x[ran], np.nanmin(values, axis=1), np.nanmax(values, axis=1), alpha=0.2)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_phases(phases: Mapping[str, object], metrics: Sequence[str] = ("accuracy", "loss"),
                title: str | None = None):
    """Plot consecutive training phases (e.g. head, then fine-tuning) as one curve per metric,
    with a vertical marker where each later phase starts. Return the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        offset = 0
        for i, (name, hist) in enumerate(phases.items()):
            h = _history_dict(hist)
            n = len(h.get(metric, h.get(f"val_{metric}", [])))
            epochs = np.arange(offset + 1, offset + n + 1)
            if i:
                ax.axvline(offset + 0.5, color="gray", ls=":", lw=1.5)
                ax.text(offset + 0.6, 0.02, f"{name} starts", transform=ax.get_xaxis_transform(),
                        fontsize=8, color="gray")
            if metric in h:
                ax.plot(epochs, h[metric], "--", color="C0", alpha=0.7,
                        label="train" if i == 0 else None)
            if f"val_{metric}" in h:
                ax.plot(epochs, h[f"val_{metric}"], "-", color="C1", lw=2,
                        label="validation" if i == 0 else None)
            offset += n
        _style_epoch_axis(ax, metric)
    return _finish(fig, title)


def plot_method_bars(runs: Mapping[str, Sequence[float]], ax=None, highlight: str | None = None,
                     title: str | None = None, xlabel: str = "accuracy"):
    """Compare methods: one horizontal bar per method at its mean over seeds, each seed a dot.

    ``runs`` maps a method name to its per-seed scores (in display order, top to bottom);
    ``highlight`` (a method name, e.g. the one chosen on validation) is drawn darker.
    Return the figure.
    """
    import matplotlib.pyplot as plt

    if not runs:
        raise ValueError("no methods to plot")
    if highlight is not None and highlight not in runs:
        raise ValueError(f"highlight {highlight!r} is not one of the methods {list(runs)}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 0.45 * len(runs) + 1))
    else:
        fig = ax.figure
    names = list(runs)
    for i, name in enumerate(names):
        values = np.asarray(runs[name], dtype=float).reshape(-1)
        ax.barh(i, values.mean(), color="tab:blue" if name == highlight else "lightsteelblue")
        ax.plot(values, np.full(len(values), i), "k.", ms=5)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def plot_reliability(probs, labels, ax=None, bins: int = 10, min_count: int = 3, label: str | None = None,
                     title: str | None = None):
    """A reliability diagram: for equal-width bins of confidence (the top probability), the bin's
    accuracy against its mean confidence, with the diagonal a calibrated model follows.

    Bins holding fewer than ``min_count`` examples are left out (their accuracy is noise). Call it
    twice on one ``ax`` to compare models or domains. Return the figure.
    """
    import matplotlib.pyplot as plt

    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    if probs.ndim != 2 or len(probs) != len(labels):
        raise ValueError(f"expected probabilities (N, classes) and N labels: {probs.shape}, {labels.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(4, 3.6))
    else:
        fig = ax.figure
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    used = [b for b in range(bins) if np.sum(which == b) >= min_count]
    ax.plot([confidence[which == b].mean() for b in used], [correct[which == b].mean() for b in used], "o-",
            label=label)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="confidence (bin mean)", ylabel="accuracy in the bin")
    if label:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def plot_confusion(cm, class_names: Sequence[str], title: str | None = None):
    """Show a confusion matrix (rows: true class, columns: predicted), counts in the cells; return the figure.

    Each row is shaded by its share of that true class, so a small class's errors stay visible.
    """
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    shares = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * n, 0.8 + 0.6 * n))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if shares[i, j] > 0.6 else "black")
    ax.set_xticks(range(n), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def show_augmentations(augment, images, n_variants: int = 5, size: float = 1.6,
                       title: str | None = None):
    """Show each photo next to ``n_variants`` random draws of ``augment`` (a Keras layer or model
    called with ``training=True``, so the random layers act). One row per photo; return the figure."""
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    x = images.astype("float32")
    draws = [np.asarray(augment(x, training=True)) for _ in range(n_variants)]
    rows, cols = len(images), n_variants + 1
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.3), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            img = images[r] if c == 0 else draws[c - 1][r]
            ax = axes[r, c]
            ax.imshow(np.clip(img, 0, 255).astype("uint8") if img.dtype != np.uint8 else img)
            ax.axis("off")
            if r == 0:
                ax.set_title("original" if c == 0 else f"draw {c}", fontsize=8)
    return _finish(fig, title)


def _block_name(layer_name: str) -> str:
    """The block a MobileNet-style layer belongs to: ``block_13_expand`` -> ``block_13``."""
    parts = layer_name.split("_")
    if parts[0] == "block" and len(parts) > 1:
        return f"block_{parts[1]}"
    if layer_name.startswith("expanded_conv"):
        return "block_0"
    return layer_name.replace("bn_", "").replace("_bn", "")


def layer_states(model) -> list[tuple[str, str, str]]:
    """``(layer name, block, state)`` for every layer with weights, in order; state is one of
    ``trainable``, ``frozen``, ``BatchNorm frozen``, ``BatchNorm trainable``."""
    out = []
    for layer in model.layers:
        if not layer.weights:
            continue
        is_bn = type(layer).__name__ == "BatchNormalization"
        state = ("BatchNorm " if is_bn else "") + ("trainable" if layer.trainable else "frozen")
        out.append((layer.name, _block_name(layer.name), state))
    return out


STATE_COLORS = {"trainable": "tab:orange", "frozen": "lightsteelblue",
                "BatchNorm frozen": "tab:blue", "BatchNorm trainable": "tab:red"}


def plot_trainable_layers(model, title: str | None = None, ax=None):
    """Draw a model's layers with weights as a strip, one bar per layer, coloured by whether it
    trains (``layer_states``); block names label where each block starts. Return the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    states = layer_states(model)
    if not states:
        raise ValueError(f"{model.name} has no layers with weights")
    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 1.9))
    else:
        fig = ax.figure
    ax.bar(range(len(states)), 1.0, width=1.0, color=[STATE_COLORS[s] for _, _, s in states],
           edgecolor="white", linewidth=0.3)
    starts = [i for i, (_, block, _) in enumerate(states) if i == 0 or block != states[i - 1][1]]
    ax.set_xticks(starts, [states[i][1].replace("block_", "b") for i in starts], fontsize=7,
                  rotation=90)
    ax.set_yticks([])
    ax.set_xlim(-0.5, len(states) - 0.5)
    present = [s for s in STATE_COLORS if any(state == s for _, _, state in states)]
    counts = {s: sum(state == s for _, _, state in states) for s in present}
    ax.legend(handles=[Patch(color=STATE_COLORS[s], label=f"{s} ({counts[s]})") for s in present],
              fontsize=7, ncol=len(present), loc="lower center", bbox_to_anchor=(0.5, 1.0),
              frameon=False)
    if title:
        ax.set_title(title, fontsize=9, pad=22)
    fig.tight_layout()
    return fig
