"""Frozen-base features, computed once and cached on disk: never pay for a frozen base twice."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from course_utils import assets


def fingerprint(model, images: np.ndarray, extra: str = "") -> str:
    """Return a key for (model architecture + weights, input images, extra text).

    The key covers the backbone, its input size, every weight value and every
    input pixel, so changing any of them computes new features, and nothing
    stale is ever reused.
    """
    h = hashlib.sha256()
    h.update(model.name.encode())
    h.update(str(model.input_shape).encode())
    h.update(str(model.output_shape).encode())
    for w in model.weights:
        h.update(np.ascontiguousarray(w.numpy()).tobytes())
    arr = np.ascontiguousarray(images)
    h.update(str((arr.shape, arr.dtype)).encode())
    h.update(arr.tobytes())
    h.update(extra.encode())
    return h.hexdigest()[:24]


def extract_features(
    model,
    images: np.ndarray,
    batch_size: int = 64,
    cache: bool = True,
    cache_dir: Path | None = None,
    verbose: bool = True,
) -> np.ndarray:
    """Run ``model.predict`` on ``images`` once and cache the result on disk.

    ``images`` are whatever the model expects (already preprocessed for a bare
    backbone). A second call with the same model weights and images loads the
    cached array instead of recomputing (``cache=False`` forces recomputing). Read-only
    cache folders (``COURSE_CACHE_READONLY``, see :func:`assets.readonly_cache_dirs`) are
    looked in too, after the writable one.
    """
    start = time.perf_counter()

    def compute() -> np.ndarray:
        return model.predict(images, batch_size=batch_size, verbose=1 if verbose else 0)

    key = f"{model.name}-{fingerprint(model, images)}"
    feats, computed = cached_array(key, compute, cache=cache, cache_dir=cache_dir)
    if verbose:
        print(f"features: computed {len(images)} in {time.perf_counter() - start:.1f} s" if computed else
              f"features: loaded {len(images)} cached feature vectors from {key}.npy")
    return feats


def cached_array(key: str, compute, cache: bool = True, cache_dir: Path | None = None
                 ) -> tuple[np.ndarray, bool]:
    """Return ``(array, computed)``: the array stored under ``key``, or ``compute()`` stored there.

    ``key`` must cover everything the array depends on (see :func:`fingerprint`); the file is
    written atomically, so an interrupted run never leaves a half array to load next time.
    """
    folder = Path(cache_dir) if cache_dir else assets.course_cache_dir() / "features"
    path = folder / f"{key}.npy"
    if cache:
        layers = [] if cache_dir else [d / "features" / path.name for d in assets.readonly_cache_dirs()]
        for found in (path, *layers):
            if found.is_file():
                return np.load(found, allow_pickle=False), False
    array = np.asarray(compute())
    if cache:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, array, allow_pickle=False)
        tmp.replace(path)
    return array, True
