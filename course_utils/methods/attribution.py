"""Where a model looks: Grad-CAM and occlusion maps, and how much of a map falls in a region."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def grad_cam(conv_model, head, images: np.ndarray, target: np.ndarray | int | None = None) -> np.ndarray:
    """Return Grad-CAM maps (N, H, W) in [0, 1] for a model split as ``head(mean_pool(conv_model(x)))``.

    ``conv_model`` maps preprocessed images to the last convolutional feature maps
    (N, h, w, k); ``head`` maps the average-pooled features to probabilities (one
    sigmoid unit or a softmax). ``target`` is the class to explain per image (default:
    the predicted class). Each map is ReLU(sum_k alpha_k A_k) with alpha_k the spatial
    mean of d score / d A_k (Selvaraju et al. 2017), upsampled to the image size and
    divided by its maximum.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(np.asarray(images, dtype="float32"))
    with tf.GradientTape() as tape:
        maps = conv_model(x, training=False)
        tape.watch(maps)
        probs = head(tf.reduce_mean(maps, axis=(1, 2)), training=False)
        if probs.shape[-1] == 1:
            p = probs[:, 0]
            probs = tf.stack([1.0 - p, p], axis=-1)
        if target is None:
            target = tf.argmax(probs, axis=-1)
        target = tf.broadcast_to(tf.cast(target, tf.int32), [tf.shape(probs)[0]])
        score = tf.gather(probs, target, axis=1, batch_dims=1)
    grads = tape.gradient(score, maps)
    alpha = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(alpha * maps, axis=-1, keepdims=True))
    cam = tf.image.resize(cam, x.shape[1:3], method="bilinear")[..., 0].numpy()
    peak = cam.reshape(len(cam), -1).max(axis=1).reshape(-1, 1, 1)
    return np.where(peak > 0, cam / np.maximum(peak, 1e-12), 0.0).astype("float32")


def occlusion_map(predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray, target: np.ndarray | int,
                  patch: int, stride: int | None = None, fill: float = 0.0) -> np.ndarray:
    """Return occlusion maps (N, H, W): how much the target class's probability drops when a patch is hidden.

    ``predict`` maps a batch of images to probabilities (N, classes) or (N, 1) for a
    sigmoid. Each ``patch`` x ``patch`` square (moved by ``stride``) is set to ``fill``;
    a pixel's value is the mean drop over the patches that cover it (Zeiler & Fergus 2014).
    """
    images = np.asarray(images, dtype="float32")
    n, h, w = images.shape[:3]
    stride = stride or patch
    target = np.broadcast_to(np.asarray(target, dtype=int), (n,))

    def score(batch: np.ndarray, t: np.ndarray) -> np.ndarray:
        p = np.asarray(predict(batch))
        p = np.concatenate([1 - p, p], axis=-1) if p.ndim == 2 and p.shape[-1] == 1 else p.reshape(len(p), -1)
        return p[np.arange(len(p)), t]

    base = score(images, target)
    rows, cols = range(0, max(h - patch, 0) + 1, stride), range(0, max(w - patch, 0) + 1, stride)
    spots = [(i, j) for i in rows for j in cols]
    out, cover = np.zeros((n, h, w), dtype="float32"), np.zeros((h, w), dtype="float32")
    for i, j in spots:
        occluded = images.copy()
        occluded[:, i:i + patch, j:j + patch] = fill
        drop = base - score(occluded, target)
        out[:, i:i + patch, j:j + patch] += drop[:, None, None]
        cover[i:i + patch, j:j + patch] += 1
    return out / np.maximum(cover, 1)


def mass_in_region(maps: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Return, per map, the share of its positive mass that falls inside the boolean ``region``."""
    maps = np.clip(np.asarray(maps, dtype="float64"), 0, None)
    total = maps.reshape(len(maps), -1).sum(axis=1)
    inside = maps[:, np.asarray(region, dtype=bool)].sum(axis=1)
    return np.where(total > 0, inside / np.maximum(total, 1e-12), 0.0)
