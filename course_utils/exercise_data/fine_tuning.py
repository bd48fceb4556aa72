"""Exercise data for the lesson ``fine_tuning``: one-output heads whose activation and loss may not pair."""

from __future__ import annotations

from typing import Any


def pairing_head(last: str, from_logits: bool | None, hidden: int = 0, style: str = "dense") -> Any:
    """A compiled one-output head: ``last`` activation via the Dense layer or an Activation layer;
    the loss as a string (``from_logits=None``) or as a BinaryCrossentropy object."""
    import keras

    layers = [keras.Input((6,))] + [keras.layers.Dense(4, activation="relu") for _ in range(hidden)]
    if style == "separate":
        layers += [keras.layers.Dense(1), keras.layers.Activation(last)]
    else:
        layers.append(keras.layers.Dense(1, activation=None if last == "linear" else last))
    model = keras.Sequential(layers)
    loss = ("binary_crossentropy" if from_logits is None
            else keras.losses.BinaryCrossentropy(from_logits=from_logits))
    model.compile(optimizer="adam", loss=loss)
    return model


def suspect_heads() -> dict[str, Any]:
    """The four heads of exercise 2, one per pairing (a colleague's, compiled, untrained)."""
    return {"A": pairing_head("sigmoid", True), "B": pairing_head("linear", None, hidden=1),
            "C": pairing_head("sigmoid", None), "D": pairing_head("linear", True, hidden=1)}
