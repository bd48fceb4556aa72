"""Plots the lessons share: learning curves side by side, image grids with labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _history_dict(history) -> dict:
    return history.history if hasattr(history, "history") else dict(history)


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
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


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
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
