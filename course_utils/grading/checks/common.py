"""What every lesson's checks share: friendly type checks, model introspection, accuracy.

Lesson modules import from here, never from each other. Nothing here imports TensorFlow
at module level, so registering the checks stays cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.grading.registry import CheckFailed

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
