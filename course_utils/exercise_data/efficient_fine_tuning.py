"""Exercise data for the lesson ``efficient_fine_tuning``: LoRA adapters to merge; a photo task to tune.

- :func:`merge_case`: the frozen kernel of a layer and a trained adapter ``(A, B)`` with its
  ``alpha`` and ``rank``, in the shapes Keras' own LoRA layers give them (``Dense``: a 2-D
  kernel; ``Conv2D``: a 4-D one, ``A`` carrying the kernel's leading axes);
- :func:`photo_task`: MobileNetV2 with its ImageNet classifier cut at ``FINE_TUNE_FROM``, and the
  cached bottom maps of a few PACS photos per class (train and validation: the test photos are
  held out for the hidden check).
"""

from __future__ import annotations

import numpy as np

FINE_TUNE_FROM = "block_16_expand"
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the WiSE-FT mixes the exercise compares
SHAPES = {"dense": (24, 10), "conv": (3, 3, 6, 5)}  # kernel shapes: (in, out), (h, w, in, out)


def merge_case(seed: int, kind: str = "dense") -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int]:
    """``(kernel, a, b, alpha, rank)`` of a LoRA layer of ``kind`` ("dense" or "conv").

    ``a`` has the kernel's shape with the last axis replaced by ``rank``; ``b`` is
    ``(rank, out)``. ``alpha`` differs from ``rank``, as it often does in practice.
    """
    if kind not in SHAPES:
        raise ValueError(f"kind must be one of {sorted(SHAPES)}, not {kind!r}")
    rng = np.random.default_rng(seed)
    shape = SHAPES[kind]
    rank = int(rng.integers(2, 5))
    alpha = float(rng.choice([1.0, 8.0, 16.0]))
    kernel = rng.normal(size=shape).astype("float32")
    a = rng.normal(scale=0.5, size=(*shape[:-1], rank)).astype("float32")
    b = rng.normal(scale=0.5, size=(rank, shape[-1])).astype("float32")
    return kernel, a, b, alpha, rank


def photo_task(image_size: int, per_class: int, seed: int = 0, verbose: bool = False) -> dict:
    """The pieces of a small photo task on MobileNetV2's cached bottom, ready to fine-tune its top.

    Returns ``{"top", "maps", "labels", "class_names"}``: ``top`` is the network above
    ``FINE_TUNE_FROM`` (BatchNormalization frozen, the rest trainable), ``maps[split]`` the bottom's
    outputs for ``per_class`` PACS photos per class of ``train`` and ``validation``. The ``test``
    photos are not loaded: the grader holds them out (``checks.lesson11.HELD_OUT_DATA``).
    """
    import keras

    from course_utils import datasets, features
    from course_utils.methods import efficient

    base, _, _ = efficient.imagenet_classifier(image_size, verbose=verbose)
    bottom, top = efficient.split_at(base, FINE_TUNE_FROM)
    for layer in top.layers:
        layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
    maps, labels, names = {}, {}, None
    for split in ("train", "validation"):
        images = datasets.load_images("pacs", split, image_size, per_class=per_class, seed=seed,
                                      domain="photo", verbose=verbose)
        maps[split] = features.extract_features(bottom, images.x, preprocess="mobilenet_v2", verbose=verbose)
        labels[split], names = images.y, images.class_names
    return {"top": top, "maps": maps, "labels": labels, "class_names": names}

