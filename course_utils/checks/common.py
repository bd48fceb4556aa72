"""What every lesson's checks share: type checks, behaviour, model introspection, and trust.

Lesson modules import from here, never from each other. Nothing here imports TensorFlow
at module level, so registering the checks stays cheap. "Behaviour" judges what a learner's
model outputs, what its loss computes and what reaches its base, on the check's own inputs
(docs/grading.md, section 2a). The last part ("Trust") holds what hidden checks use to
recompute what they trust: their own data, their own baselines, and the proof that a
pretrained base is the genuine network.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks.registry import CheckFailed


def require_model(value: Any, name: str) -> Any:
    """Return ``value`` if it is a Keras model, else raise a hint naming the variable."""
    import keras

    if not isinstance(value, keras.Model):
        raise CheckFailed(f"`{name}` should be a Keras model, got {type(value).__name__}")
    return value


def as_array(value: Any, name: str) -> np.ndarray:
    """Return ``value`` as a float array, with a hint when it is not array-like."""
    try:
        return np.asarray(value, dtype="float32")
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"`{name}` should be a NumPy array of numbers") from error


def finite_numbers(value: Any, name: str, count: int, what: str = "numbers") -> np.ndarray:
    """``value`` as ``count`` finite floats, or ``CheckFailed`` saying what is wrong with it."""
    try:
        arr = np.asarray(value, dtype="float64").reshape(-1)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"`{name}` should be {what}") from error
    if arr.size != count:
        raise CheckFailed(f"`{name}` should hold {count} numbers, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise CheckFailed(f"`{name}` contains NaN or infinity: {arr}")
    return arr


# --------------------------------------------------------------------------------------------
# Behaviour: what a model outputs, what its loss computes, what reaches its base.
#
# Checks judge what the learner's code does on the check's own inputs, not how it is written:
# a separate ``Softmax`` layer, an ``Activation`` layer or a loss passed as a function are as
# right as ``Dense(..., activation=...)`` and ``loss="..."``.


class OutputKind(enum.Enum):
    """What a model's outputs are, read from the outputs themselves."""

    PROBABILITY = "one probability per input"            # one column, every value in [0, 1]
    PROBABILITIES = "class probabilities"                 # rows >= 0 that sum to 1
    SCORES = "scores that are not probabilities (logits)"


class LossReading(enum.Enum):
    """How a compiled loss reads the model's outputs, found by evaluating it on fixed pairs."""

    PROBABILITIES = "reads the outputs as probabilities"
    LOGITS = "reads the outputs as logits (from_logits=True)"
    OTHER = "is not a cross-entropy of these labels"


def predict_outputs(model: Any, x: Any, batch: int = 32) -> np.ndarray:
    """The model's outputs on ``x`` in inference mode, as a float64 array (n, outputs)."""
    x = np.asarray(x, dtype="float32")
    out = np.asarray(model.predict(x, batch_size=batch, verbose=0), dtype="float64")
    return out.reshape(len(x), -1)


def output_kind(outputs: np.ndarray) -> OutputKind:
    """Whether ``outputs`` (n, k) are one probability, class probabilities, or other scores."""
    out = np.asarray(outputs, dtype="float64")
    if not np.all(np.isfinite(out)):
        return OutputKind.SCORES
    if out.shape[1] == 1:
        return OutputKind.PROBABILITY if np.all((out >= 0) & (out <= 1)) else OutputKind.SCORES
    if np.all(out >= -1e-6) and np.allclose(out.sum(axis=1), 1.0, atol=1e-4):
        return OutputKind.PROBABILITIES
    return OutputKind.SCORES


def feature_inputs(width: int, n: int = 24, seed: int = 2024) -> np.ndarray:
    """The check's own feature vectors for a head: non-negative, spread out, like pooled features."""
    rng = np.random.default_rng(seed)
    return (rng.gamma(0.6, 1.5, size=(n, int(width))) * rng.uniform(0.5, 3.0, size=(n, 1))).astype("float32")


def photo_inputs(size: int, n: int = 4, seed: int = 2024) -> np.ndarray:
    """The check's own raw 0-255 "photos": smooth random colour fields, (n, size, size, 3) float32."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(n, 4, 4, 3))
    reps = -(-int(size) // 4)
    return np.kron(coarse, np.ones((1, reps, reps, 1)))[:, :size, :size, :].astype("float32")


def predicted_labels(outputs: np.ndarray) -> np.ndarray:
    """Class predictions from outputs of any kind (a logit above 0 or a probability above 0.5)."""
    out = np.asarray(outputs, dtype="float64")
    if out.shape[1] == 1:
        threshold = 0.5 if output_kind(out) is OutputKind.PROBABILITY else 0.0
        return (out[:, 0] > threshold).astype(int)
    return out.argmax(axis=1)


def model_accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of a classifier on (x, y), whatever its outputs (probabilities, logits); y may be one-hot."""
    labels = np.asarray(y)
    labels = labels.argmax(axis=-1) if labels.ndim > 1 and labels.shape[-1] > 1 else labels
    return float(np.mean(predicted_labels(predict_outputs(model, x)) == labels.reshape(-1).astype(int)))


def compiled_loss(model: Any, name: str) -> Callable | None:
    """The model's compiled loss as a callable ``loss(y_true, y_pred)``; None when not compiled."""
    import keras

    loss = getattr(model, "loss", None)
    if loss is None:
        return None
    if isinstance(loss, (list, tuple, dict)):
        raise CheckFailed(f"`{name}` is compiled with several losses; compile it with one")
    try:
        return keras.losses.get(loss) if isinstance(loss, str) else loss
    except (ValueError, TypeError) as error:
        raise CheckFailed(f"`{name}` is compiled with loss {loss!r}, which Keras does not know") from error


def _per_example(loss: Callable, y: np.ndarray, pred: np.ndarray) -> np.ndarray | None:
    """The loss of every (label, prediction) pair on its own (so any reduction gives the same)."""
    import warnings

    values = []
    for i in range(len(y)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = np.asarray(loss(y[i:i + 1], pred[i:i + 1]), dtype="float64")
        except Exception:  # a loss that cannot take these labels is not the right one
            return None
        if value.size == 0 or not np.all(np.isfinite(value)):
            return None
        values.append(float(value.mean()))
    return np.asarray(values)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _binary_references(y: np.ndarray, p: np.ndarray) -> list[np.ndarray]:
    """Binary cross-entropy of probabilities ``p``, and its focal variant (gamma 2)."""
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    p_true = y * p + (1 - y) * (1 - p)
    return [bce, (1 - p_true) ** 2 * bce]


# Fixed pairs on which every loss is evaluated: labels, probabilities, logits.
_BINARY_Y = np.array([1, 0, 1, 0, 1, 0], dtype="float32").reshape(-1, 1)
_BINARY_P = np.array([0.8, 0.3, 0.4, 0.9, 0.55, 0.05], dtype="float32").reshape(-1, 1)
_BINARY_Z = np.array([2.0, -1.0, -0.3, 1.5, 0.2, -2.5], dtype="float32").reshape(-1, 1)


def _class_pairs(classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(classes)
    y = (np.arange(8) * 3 + 1) % classes
    z = rng.normal(0.0, 1.5, size=(8, classes)).astype("float32")
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return y.astype("int64"), (e / e.sum(axis=1, keepdims=True)).astype("float32"), z


def loss_reading(loss: Callable, classes: int) -> LossReading:
    """How ``loss`` reads a model's outputs, for integer labels and ``classes`` outputs (1 = binary)."""
    if classes == 1:
        y, p, z = _BINARY_Y, _BINARY_P, _BINARY_Z
        yy, pp = y.astype("float64"), p.astype("float64")
        on_p, on_z = _per_example(loss, y, p), _per_example(loss, y, z)
        if on_p is not None and any(np.allclose(on_p, r[:, 0], rtol=1e-3, atol=1e-5)
                                    for r in _binary_references(yy, pp)):
            return LossReading.PROBABILITIES
        if on_z is not None and any(np.allclose(on_z, r[:, 0], rtol=1e-3, atol=1e-5)
                                    for r in _binary_references(yy, _sigmoid(z.astype("float64")))):
            return LossReading.LOGITS
        return LossReading.OTHER
    y, p, z = _class_pairs(classes)
    rows = np.arange(len(y))
    on_p, on_z = _per_example(loss, y, p), _per_example(loss, y, z)
    if on_p is not None and np.allclose(on_p, -np.log(p.astype("float64")[rows, y]), rtol=1e-3, atol=1e-5):
        return LossReading.PROBABILITIES
    zz = z.astype("float64")
    log_softmax = zz - zz.max(axis=1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(axis=1, keepdims=True))
    if on_z is not None and np.allclose(on_z, -log_softmax[rows, y], rtol=1e-3, atol=1e-5):
        return LossReading.LOGITS
    return LossReading.OTHER


def require_matching_loss(model: Any, name: str, kind: OutputKind, classes: int) -> None:
    """Fail unless ``model``'s compiled loss is the cross-entropy of integer labels that fits ``kind``.

    The loss is evaluated on fixed (label, output) pairs and compared with the right values, so a
    string, a function or a loss object all count, and a probability output paired with
    ``from_logits=True`` (or a logit output without it) fails whatever the layers look like.
    """
    loss = compiled_loss(model, name)
    if loss is None:
        raise CheckFailed(f"`{name}` is not compiled: call {name}.compile(optimizer=..., loss=...)")
    reading = loss_reading(loss, classes)
    labels = "0 or 1" if classes <= 2 else f"0-{classes - 1}"
    if reading is LossReading.OTHER:
        raise CheckFailed(f"`{name}`'s loss does not compute the cross-entropy of integer labels "
                          f"({labels}) against its {classes} output(s); pick the loss that matches "
                          "one output per class and integer labels")
    if kind is OutputKind.SCORES and reading is LossReading.PROBABILITIES:
        raise CheckFailed(f"`{name}` outputs logits (its outputs are not probabilities), but its loss reads "
                          "them as probabilities (from_logits=False): the loss and the model's last step "
                          "do not match")
    if kind is not OutputKind.SCORES and reading is LossReading.LOGITS:
        raise CheckFailed(f"`{name}` already outputs probabilities, but its loss reads them as logits "
                          "(from_logits=True) and squashes them a second time: the loss and the model's "
                          "last step do not match")


def recorded_input(model: Any, layer: Any, x: np.ndarray, training: bool = False) -> np.ndarray:
    """What reaches ``layer`` (nested anywhere in ``model``) when ``model`` runs eagerly on ``x``."""
    seen: list[np.ndarray] = []
    original = layer.call

    def record(*args: Any, **kwargs: Any) -> Any:
        seen.append(np.asarray(args[0] if args else next(iter(kwargs.values())), dtype="float64"))
        return original(*args, **kwargs)

    layer.call = record
    try:
        model(np.asarray(x, dtype="float32"), training=training)
    finally:
        del layer.call
    if not seen:
        raise CheckFailed("the pretrained base inside the model never ran on the check's photos")
    return seen[0]


def first_convolution(base: Any) -> Any:
    """The first convolution of a backbone: what it receives is the preprocessed image."""
    for layer in flat_layers(base, is_base=lambda _layer: False):
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and len(kernel.shape) == 4:
            return layer
    raise CheckFailed("no convolution found in the base")


def require_preprocessed_once(model: Any, base: Any, backbone: str, size: int, name: str) -> None:
    """Fail unless raw 0-255 photos reach ``base`` preprocessed once the way ``backbone`` expects.

    Run on the check's own photos: any layer that computes the right values counts
    (``Rescaling``, ``Normalization``, a ``Lambda`` of ``preprocess_input``...).
    """
    from course_utils import backbones

    raw = photo_inputs(size)
    got = recorded_input(model, first_convolution(base), raw)
    want = np.asarray(backbones.preprocess(backbone, raw), dtype="float64")
    if got.shape == want.shape and np.allclose(got, want, atol=2e-3):
        return
    if got.shape == want.shape and np.allclose(got, raw, atol=1e-3):
        what = "the raw 0-255 pixels, unchanged"
    elif got.shape == want.shape and np.allclose(got, raw / 255.0, atol=1e-3):
        what = "pixels scaled to [0, 1]"
    elif got.shape == want.shape and np.allclose(
            got, np.asarray(backbones.preprocess(backbone, want, check=False), "float64"), atol=2e-3):
        what = "pixels preprocessed twice"
    else:
        what = f"values from {got.min():.2f} to {got.max():.2f}"
    raise CheckFailed(f"fed raw 0-255 photos, the base inside `{name}` receives {what}; {backbone} "
                      "expects its own preprocess_input applied once, inside the model, before the base")


def is_backbone(layer: Any) -> bool:
    """Whether a layer is a pretrained backbone (a nested model with many layers)."""
    import keras

    return isinstance(layer, keras.Model) and len(layer.layers) > 20


def flat_layers(model: Any, is_base=is_backbone) -> list:
    """Layers in call order, opening nested Sequential/functional models except the base."""
    import keras

    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model) and not is_base(layer):
            out.extend(flat_layers(layer, is_base))
        else:
            out.append(layer)
    return out


def batchnorm_layers(model: Any) -> list:
    """The model's BatchNormalization layers in order, nested models included."""
    from course_utils.methods.adaptation import batchnorm_layers as find

    return find(model)


# --------------------------------------------------------------------------------------------
# Trust: what a hidden check recomputes itself instead of taking from the student's kernel.
#
# Everything a check receives was produced by the student's kernel and may be anything the
# student chose (a model, an array, a "validation set"). Hidden checks therefore load their
# own data (``held_out_images``), compute their own baselines (``majority_accuracy``, or a
# model the check trains itself), and verify that a pretrained base really is the network
# the lesson loads (``require_imagenet_backbone``) or the architecture it builds
# (``require_same_architecture``) before trusting what it computes.

HELD_OUT_SEED = 2024  # the seed of the checks' own samples (lessons use 42)


def held_out_images(dataset: str, image_size: int, per_class: int = 20, split: str = "validation",
                    seed: int = HELD_OUT_SEED) -> Any:
    """The check's own labelled photos (``datasets.load_images``), never the student's arrays."""
    from course_utils import datasets

    return datasets.load_images(dataset, split, int(image_size), per_class=per_class, seed=seed,
                                verbose=False)


def majority_accuracy(y: Any) -> float:
    """Accuracy of always predicting the most frequent label: the floor any real model must beat."""
    labels = np.asarray(y).reshape(-1)
    if labels.size == 0:
        return 0.0
    _, counts = np.unique(labels, return_counts=True)
    return float(counts.max() / labels.size)


def require_image_size(value: Any, name: str = "image_size", low: int = 32, high: int = 320) -> int:
    """``value`` as an int pixel size in [low, high]: a student's number never sets a check's cost."""
    try:
        size = int(value)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"`{name}` should be an image size in pixels, got {value!r}") from error
    if not low <= size <= high:
        raise CheckFailed(f"`{name}` = {size} px is outside {low}..{high}; use the lesson's IMAGE_SIZE")
    return size


def find_backbone(model: Any, name: str = "model") -> Any:
    """The pretrained base: ``model`` itself if it is one, else the first backbone nested in it."""
    require_model(model, name)
    if len(model.layers) > 20 and not any(is_backbone(layer) for layer in model.layers):
        return model
    stack = list(model.layers)
    while stack:
        layer = stack.pop(0)
        if is_backbone(layer):
            return layer
        if hasattr(layer, "layers"):
            stack = list(layer.layers) + stack
    raise CheckFailed(f"no pretrained base (a Keras model with many layers) inside `{name}`")


@functools.lru_cache(maxsize=8)
def _weight_file_arrays(path: str) -> dict[str, tuple[np.ndarray, ...]]:
    """Layer name -> weight arrays of a Keras (legacy HDF5) weight file, read once per process."""
    import h5py

    def text(value: Any) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    arrays: dict[str, tuple[np.ndarray, ...]] = {}
    with h5py.File(path, "r") as handle:
        root = handle["model_weights"] if "model_weights" in handle else handle
        for layer in (text(n) for n in root.attrs["layer_names"]):
            group = root[layer]
            arrays[layer] = tuple(np.asarray(group[text(w)]) for w in group.attrs["weight_names"])
    return arrays


def imagenet_weights(backbone: str, image_size: int = 224, include_top: bool = False
                     ) -> dict[str, tuple[np.ndarray, ...]]:
    """Per layer name, the ImageNet weights the course loads for ``backbone`` at ``image_size``.

    The file is the one ``backbones.load_backbone`` uses (mirror, then cache, then download;
    a default-size fallback where Keras ships one file per size), read directly with h5py.
    """
    from course_utils import backbones

    path, _, _ = backbones.resolve_weights(backbone, int(image_size), include_top)
    return _weight_file_arrays(str(path))


def require_imagenet_backbone(model: Any, backbone: str, name: str = "base",
                              trained_layers_may_differ: bool = False) -> Any:
    """Fail unless ``model`` is (or contains) ``backbone`` holding the ImageNet weights; return it.

    Every weight tensor of every layer in the course's weight file is compared, by layer
    name, with the student's base: a randomly initialised network, another architecture,
    a look-alike with a few layers, or weights changed since loading all fail, with a hint.
    With ``trained_layers_may_differ`` (fine-tuning), layers that are trainable may hold
    trained weights, but every frozen layer must still match, and at least half of the
    layers must be frozen.
    """
    from course_utils import backbones

    try:
        base = find_backbone(model, name)
    except CheckFailed:  # a small stand-in: compared as it is, it fails below with "is not ..."
        base = model
    constructor = backbones.get(backbone).constructor
    shape = base.input_shape
    size = int(shape[1]) if len(shape) == 4 and shape[1] else 224
    reference = {layer: arrays for layer, arrays in imagenet_weights(backbone, size).items() if arrays}
    fix = (f"build it with backbones.load_backbone({backbone!r}, IMAGE_SIZE, pooling='avg') "
           f"(keras.applications.{constructor} with weights='imagenet')")
    compared = 0
    for layer_name, arrays in reference.items():
        try:
            layer = base.get_layer(layer_name)
        except ValueError:
            raise CheckFailed(f"`{name}` is not {constructor}: it has no layer {layer_name!r}; "
                              f"{fix}") from None
        weights = [np.asarray(w) for w in layer.weights]
        if [w.shape for w in weights] != [a.shape for a in arrays]:
            raise CheckFailed(f"`{name}`'s layer {layer_name!r} has weights of shapes "
                              f"{[w.shape for w in weights]}, the ImageNet {constructor} "
                              f"{[a.shape for a in arrays]}; {fix}")
        if trained_layers_may_differ and layer.trainable:
            continue
        compared += 1
        if not all(np.allclose(w, a, rtol=1e-5, atol=1e-6) for w, a in zip(weights, arrays, strict=True)):
            state = "frozen " if trained_layers_may_differ else ""
            raise CheckFailed(f"`{name}`'s {state}layer {layer_name!r} does not hold the ImageNet "
                              f"weights of {constructor} (random initialisation, weights=None, or "
                              f"changed since loading?); {fix}")
    if trained_layers_may_differ and compared < len(reference) / 2:
        raise CheckFailed(f"only {compared} of the {len(reference)} layers of `{name}` with weights are "
                          "frozen; keep the bottom of the pretrained base frozen")
    return base


def require_same_architecture(model: Any, reference: Any, name: str = "model") -> None:
    """Fail unless ``model`` has ``reference``'s layers: the same names, types and weight shapes.

    Input layers are skipped: Keras numbers their default names per process.
    """
    require_model(model, name)

    def signature(m: Any) -> list[tuple[str, str, list[tuple[int, ...]]]]:
        return [(layer.name, type(layer).__name__, [tuple(w.shape) for w in layer.weights])
                for layer in m.layers if type(layer).__name__ != "InputLayer"]

    got, want = signature(model), signature(reference)
    if got != want:
        where = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
                     min(len(got), len(want)))
        found = got[where][:2] if where < len(got) else "nothing"
        expected = want[where][:2] if where < len(want) else "nothing"
        raise CheckFailed(f"`{name}` is not the network the check expects: layer {where} is "
                          f"{found}, expected {expected} ({len(got)} layers, expected {len(want)})")


MIN_FOLLOW = 0.8  # share of predictions that must follow the base's features when they are swapped
FOLLOW_IMAGES = 64  # images the swap is tried on
FOLLOW_BATCH = 16


def _feature_layer(model: Any, backbone: str, name: str) -> Any:
    """The layer whose output is the pretrained base's features inside ``model``.

    The nested base itself, or, when the base's layers were built into ``model`` directly,
    the last of ``model``'s layers that holds the backbone's ImageNet weights.
    """
    base = find_backbone(model, name)
    if base is not model:
        return base
    shape = model.input_shape
    size = int(shape[1]) if len(shape) == 4 and shape[1] else 224
    names = {layer for layer, arrays in imagenet_weights(backbone, size).items() if arrays}
    inside = [layer for layer in model.layers if layer.name in names]
    if not inside:
        raise CheckFailed(f"no layer of `{name}` holds the pretrained {backbone} weights")
    return inside[-1]


def _predicted_labels(model: Any, x: np.ndarray) -> np.ndarray:
    """Class predicted per image, in batches of FOLLOW_BATCH (one sigmoid unit or a softmax)."""
    outputs = [np.asarray(model(x[i:i + FOLLOW_BATCH], training=False))
               for i in range(0, len(x), FOLLOW_BATCH)]
    out = np.concatenate(outputs).reshape(len(x), -1)
    return (out[:, 0] > 0.5).astype(int) if out.shape[1] == 1 else out.argmax(axis=1)


def require_backbone_drives_predictions(model: Any, x: Any, backbone: str, name: str = "model",
                                        min_follow: float = MIN_FOLLOW) -> None:
    """Fail unless ``model``'s predictions on images ``x`` come from the pretrained base inside it.

    :func:`require_imagenet_backbone` shows that the genuine base is *in* the model, not that
    the model *uses* it: a model can multiply the base's output by zero and answer from the
    raw pixels. Here the base's output is rolled by one image within each batch (image ``i``
    gets image ``i - 1``'s features, nothing else changes): a model that decides from the base
    then predicts for image ``i`` what it predicted for image ``i - 1``. Of the images whose own
    prediction differs from their neighbour's, at least ``min_follow`` must follow it (a model
    that predicts one class for all leaves nothing to compare; other checks fail it).
    """
    images = np.asarray(x, dtype="float32")[:FOLLOW_IMAGES]
    layer = _feature_layer(model, backbone, name)
    plain = _predicted_labels(model, images)
    original = layer.call

    def rolled(*args: Any, **kwargs: Any) -> Any:
        import keras

        return keras.ops.roll(original(*args, **kwargs), 1, axis=0)

    layer.call = rolled
    try:
        swapped = _predicted_labels(model, images)
    finally:
        del layer.call
    donor = np.array([start + (i - start - 1) % min(FOLLOW_BATCH, len(images) - start)
                      for start in range(0, len(images), FOLLOW_BATCH)
                      for i in range(start, min(start + FOLLOW_BATCH, len(images)))])
    differ = plain != plain[donor]
    if differ.sum() < 4:
        return
    follow = float(np.mean(swapped[differ] == plain[donor][differ]))
    if follow < min_follow:
        raise CheckFailed(f"`{name}`'s predictions do not come from the pretrained base inside it: when the "
                          "base's features of two photos are swapped, its answers mostly stay with the "
                          "photos. Build it as photos -> preprocessing -> the frozen base -> your head, "
                          "with nothing that reaches the head around the base")
