"""Measuring ``keras.applications`` backbones: parameters, weight files, latency (lesson 02).

Size and speed do not depend on the weight values, so every architecture is
measured built with ``weights=None``: those whose ImageNet weights are not at
hand offline still get a row, marked as such.
"""

from __future__ import annotations

import enum
import gc
import logging
import time
from collections.abc import Iterable

import numpy as np

from course_utils import assets, backbones

KERAS_TABLE_SOURCE = "https://keras.io/api/applications/"
# "Size (MB)" of the weight file *with* the 1000-class head, from the Keras table above.
# The alpha < 1 MobileNets and the MobileNetV3s have no row there.
PUBLISHED_SIZE_MB: dict[str, float] = {
    "mobilenet_v2": 14,
    "mobilenet": 16,
    "efficientnet_b0": 29,
    "resnet50": 98,
    "vgg16": 528,
    "inception_v3": 92,
    "xception": 88,
}
# One sentence per architecture family: what its design changed (paper, year).
FAMILIES: dict[str, str] = {
    "VGG": "VGG (Simonyan & Zisserman, 2014): a plain stack of 3x3 convolutions and max-pooling, "
           "deep for its time; most of its 138 M weights sit in the three fully connected layers "
           "of its top.",
    "ResNet": "ResNet (He et al., 2015): residual blocks add each block's input to its output "
              "(skip connections), which lets networks of 50 and more layers train.",
    "Inception": "Inception (Szegedy et al., 2015 for v3): modules run 1x1, 3x3 and 5x5 "
                 "convolutions side by side, factorised into cheaper ones (e.g. 3x3 as 1x3 then 3x1).",
    "Xception": "Xception (Chollet, 2017): Inception taken to the extreme, every convolution split "
                "into a per-channel (depthwise) one and a 1x1 one.",
    "MobileNet": "MobileNet (Howard et al., 2017; V2 Sandler et al., 2018; V3 Howard et al., 2019): "
                 "depthwise-separable convolutions for phones, V2 adds inverted residual blocks, V3 "
                 "a searched design; the width multiplier alpha thins every layer.",
    "EfficientNet": "EfficientNet (Tan & Le, 2019): a searched base network scaled up in depth, "
                    "width and input resolution together, with one coefficient.",
}
FAMILY_OF: dict[str, str] = {
    "mobilenet_v2": "MobileNet", "mobilenet_v2_035": "MobileNet", "mobilenet": "MobileNet",
    "mobilenet_025": "MobileNet", "mobilenet_v3_small": "MobileNet",
    "mobilenet_v3_large": "MobileNet", "efficientnet_b0": "EfficientNet", "resnet50": "ResNet",
    "vgg16": "VGG", "inception_v3": "Inception", "xception": "Xception",
}


class Clock(enum.Enum):
    """What a timed forward pass is measured with."""

    WALL = "wall"
    """``time.perf_counter``: the latency a user waits for. Other programs on the machine add to it."""
    CPU = "cpu"
    """``time.process_time``: CPU seconds of this process, all its threads: the work the pass costs,
    which other programs barely change. For speed *claims* on a shared machine (a CI runner, a
    workshop laptop running other things): under load, best-of-few wall-time ratios of the same
    models swing by a factor of two, CPU-time ratios by a few percent (measured: VGG16 / ResNet50,
    best of 2 passes, three other busy processes on 2 cores: wall 1.88-3.94, CPU 2.13-2.65)."""


def measure_latencies(models: dict, image_size: int | None = None, batch: int = 8, repeats: int = 5,
                      warmup: int = 2, seed: int = 0, clock: Clock = Clock.WALL) -> dict[str, float]:
    """Return each model's best of ``repeats`` timed forward passes of one batch, in ms per image.

    Random 0-255 pixels are fed through ``model.predict_on_batch`` after ``warmup``
    untimed passes (the first call traces the graph and is much slower). The
    models take turns pass by pass, so a busy moment on the machine hits all of
    them alike, and the minimum, not the mean, is reported: other programs can
    only add time, so the fastest pass is the least disturbed one.
    ``image_size`` defaults to each model's own input size. ``clock`` says what is timed: wall time
    (the default) or this process's CPU time (:class:`Clock`).
    """
    if batch < 1 or repeats < 1 or warmup < 0:
        raise ValueError("batch and repeats must be >= 1 and warmup >= 0")
    rng = np.random.default_rng(seed)
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)  # each new model traces predict once: TF warns, harmlessly
    try:
        return _timed_turns(models, image_size, batch, repeats, warmup, rng, clock)
    finally:
        tf_logger.setLevel(level)


def _timed_turns(models: dict, image_size: int | None, batch: int, repeats: int, warmup: int,
                 rng: np.random.Generator, clock: Clock) -> dict[str, float]:
    """The body of :func:`measure_latencies`: the models take turns, pass by pass."""
    inputs = {}
    for name, model in models.items():
        shape = model.input_shape
        size = image_size or shape[1]
        if size is None:
            raise ValueError(f"model {name!r} has no fixed input size: pass image_size")
        inputs[name] = rng.uniform(0, 255, (batch, size, size, shape[-1] or 3)).astype("float32")
    for _ in range(warmup):
        for name, model in models.items():
            model.predict_on_batch(inputs[name])
    now = time.process_time if clock is Clock.CPU else time.perf_counter
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = now()
            model.predict_on_batch(inputs[name])
            times[name].append(now() - start)
    return {name: float(min(t) / batch * 1000) for name, t in times.items()}


def measure_latency(model, image_size: int | None = None, batch: int = 8, repeats: int = 5,
                    warmup: int = 2, seed: int = 0) -> float:
    """Return one model's best forward-pass time in ms per image (see :func:`measure_latencies`)."""
    return measure_latencies({"model": model}, image_size, batch, repeats, warmup, seed)["model"]


def locate_weights(name: str, image_size: int = 224, include_top: bool = False
                   ) -> assets.Located | None:
    """Return where backbone ``name``'s ImageNet weights are found offline (mirror/cache), or None.

    Like :func:`backbones.load_backbone`, a missing per-size MobileNet file falls
    back to the 224-px file, which loads into a model of any size.
    """
    spec = backbones.get(name)
    found = assets.locate(spec.weights_asset(image_size, include_top))
    if found is None and spec.size_specific:
        found = assets.locate(spec.weights_asset(spec.default_size, include_top))
    return found


def backbone_row(name: str, image_size: int = 128, batch: int = 8, repeats: int = 3) -> dict:
    """Build backbone ``name`` (no top, average pooling, ``weights=None``) and measure one row.

    Keys: name, family, constructor, params, weights_offline, weights_file, weights_mb (size
    of the located no-top file, None when not offline), published_mb, published_top1,
    latency_ms (per image at ``image_size``), image_size.
    """
    spec = backbones.get(name)
    model = backbones.load_backbone(name, image_size, weights=None, pooling="avg", verbose=False)
    found = locate_weights(name, image_size)
    row = {
        "name": name,
        "family": FAMILY_OF.get(name, spec.constructor),
        "constructor": spec.constructor + (f"(alpha={spec.kwargs['alpha']})" if "alpha" in spec.kwargs
                                           else ""),
        "params": int(model.count_params()),
        "weights_offline": found is not None,
        "weights_file": found.path.name if found else None,
        "weights_mb": round(found.path.stat().st_size / 1e6, 1) if found else None,
        "published_mb": PUBLISHED_SIZE_MB.get(name),
        "published_top1": spec.published_top1,
        "latency_ms": measure_latency(model, image_size, batch=batch, repeats=repeats),
        "image_size": image_size,
    }
    del model
    gc.collect()
    return row


def compare_backbones(names: Iterable[str] | None = None, image_size: int = 128, batch: int = 8,
                      repeats: int = 3, verbose: bool = True) -> list[dict]:
    """Return one :func:`backbone_row` per backbone (default: all of ``backbones.BACKBONES``)."""
    names = list(names) if names is not None else list(backbones.BACKBONES)
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)  # each new model re-traces predict: TF warns, harmlessly
    rows = []
    try:
        for name in names:
            start = time.perf_counter()
            rows.append(backbone_row(name, image_size, batch=batch, repeats=repeats))
            if verbose:
                print(f"{name:20s} {rows[-1]['latency_ms']:7.1f} ms/image  "
                      f"(built and measured in {time.perf_counter() - start:.1f} s)")
    finally:
        tf_logger.setLevel(level)
    return rows

