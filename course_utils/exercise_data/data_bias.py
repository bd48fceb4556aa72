"""Exercise data for the lesson ``data_bias``: a rare class ("is it a 7?") and the exercise's classifier."""

from __future__ import annotations

from typing import Any

import numpy as np

RARE_DIGIT = 7


def rare_digit_data() -> dict[str, np.ndarray]:
    """Exercise 4's data: "is it a 7?" (about 10% positives) on flattened MNIST training digits.

    ``x_train`` / ``y_train`` (2,000 digits) and ``x_val`` / ``y_val`` (1,000); the test digits the
    threshold is finally judged on are the check's own.
    """
    from course_utils import datasets

    mnist = datasets.load_arrays("mnist")
    x = mnist["x_train"][:3000].reshape(3000, -1).astype("float32") / 255.0
    y = (mnist["y_train"][:3000] == RARE_DIGIT).astype(int)
    return {"x_train": x[:2000], "y_train": y[:2000], "x_val": x[2000:], "y_val": y[2000:]}


def rare_digit_classifier(data: dict[str, np.ndarray]) -> Any:
    """The exercise's model: a logistic regression on the training digits (deterministic)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=0.05, max_iter=1000).fit(data["x_train"], data["y_train"])
