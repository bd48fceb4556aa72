"""What every lesson's checks share: type checks, model introspection, accuracy, and trust.

Lesson modules import from here, never from each other. Nothing here imports TensorFlow
at module level, so registering the checks stays cheap. The second half (after "Trust")
holds what hidden checks use to recompute what they trust: their own data, their own
baselines, and the proof that a pretrained base is the genuine network.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from course_utils.checks.registry import CheckFailed

BINARY_LOSSES = {"binary_crossentropy", "binarycrossentropy", "binary_focal_crossentropy"}
CATEGORICAL_LOSSES = {
    "categorical_crossentropy",
    "categoricalcrossentropy",
    "sparse_categorical_crossentropy",
    "sparsecategoricalcrossentropy",
}


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


def loss_name(model: Any) -> tuple[str | None, bool]:
    """Return the compiled loss as a normalised name (None if not compiled) and from_logits."""
    loss = getattr(model, "loss", None)
    if loss is None:
        return None, False
    if isinstance(loss, str):
        return loss.lower(), False
    name = getattr(loss, "name", None) or type(loss).__name__
    return str(name).lower(), bool(getattr(loss, "from_logits", False))


def activation_name(layer: Any) -> str:
    """Name of a layer's activation function ('linear' when it has none)."""
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "linear") if activation is not None else "linear"


def model_accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of a binary (one sigmoid unit) or softmax model on (x, y); y may be one-hot."""
    probabilities = np.asarray(model.predict(x, verbose=0))
    if probabilities.ndim == 1 or probabilities.shape[-1] == 1:
        predicted = (probabilities.reshape(-1) > 0.5).astype(int)
    else:
        predicted = probabilities.argmax(axis=-1)
    labels = np.asarray(y)
    labels = labels.argmax(axis=-1) if labels.ndim > 1 and labels.shape[-1] > 1 else labels
    return float(np.mean(predicted == labels.reshape(-1).astype(int)))


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
