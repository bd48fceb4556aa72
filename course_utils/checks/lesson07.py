"""Checks for lesson 07 (domain mismatch): the CORAL loss, AdaBN and a shift diagnosis.

Keras is imported inside the check functions only, so ``check()`` stays cheap to import.
No pretrained base here (a digit CNN trained in the lesson). The hidden checks use their
own feature pairs and their own MNIST-M test digits, and trust the source-only baseline
only after checking it themselves: it must classify the check's own MNIST digits, and the
AdaBN model must be that same network with only its BatchNormalization statistics changed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.checks.common import batchnorm_layers, finite_numbers, flat_layers, require_model
from course_utils.checks.registry import CheckFailed, lesson_checks
from course_utils.exercise_data.domain_mismatch import coral_pairs, mnist_test_rgb32

register = lesson_checks(__name__)

ADABN_MIN_GAIN = 0.03
MIN_SOURCE_ACCURACY = 0.8    # the source-only baseline must really classify source digits
SAME_DOMAIN_MAX_PAD = 0.5    # two random samples of one held-out domain
TARGET_MIN_PAD = 1.0         # MNIST vs MNIST-M with a source-only CNN's features


def coral_reference(source: np.ndarray, target: np.ndarray) -> float:
    """The CORAL loss ``||C_s - C_t||_F^2 / (4 d^2)`` with unbiased covariances (NumPy)."""
    d = source.shape[1]
    diff = np.cov(source, rowvar=False) - np.cov(target, rowvar=False)
    return float(np.sum(diff**2) / (4.0 * d * d))


def _compare_coral(values: Any, seed: int, name: str) -> None:
    pairs = coral_pairs(seed)
    got = finite_numbers(values, name, len(pairs), what="a list of numbers (one CORAL loss per pair)")
    want = np.array([coral_reference(s, t) for s, t in pairs])
    if abs(got[0]) > 1e-6:
        raise CheckFailed(f"the loss of a batch against itself should be 0, got {got[0]:.4g}")
    if abs(got[1]) > 1e-4:
        raise CheckFailed(
            f"shifting every target feature by +3 gave {got[1]:.4g}; CORAL compares covariances, "
            "so centre each batch (subtract its mean over axis 0) before the product"
        )
    ratio = got[2:] / want[2:]
    if np.allclose(ratio, ratio[0], rtol=0.02) and not np.isclose(ratio[0], 1.0, rtol=0.02):
        raise CheckFailed(
            f"your values are {ratio[0]:.3g} times the expected ones: divide the squared Frobenius "
            "norm by 4 d^2 (d = number of features), and the covariance by (n - 1)"
        )
    if not np.allclose(got, want, rtol=0.02, atol=1e-6):
        raise CheckFailed(
            f"expected {np.round(want, 5).tolist()}, got {np.round(got, 5).tolist()}; "
            "C = centred^T centred / (n - 1) per batch, loss = sum((C_s - C_t)^2) / (4 d^2)"
        )


@register("coral_loss", points=2)
def coral_loss(values: Any) -> None:
    """``my_coral`` on the notebook's pairs: 0 for equal batches, mean-shift invariant, exact."""
    _compare_coral(values, 7, "values")


@register("coral_loss_hidden", points=1)
def coral_loss_hidden(values: Any) -> None:
    """Hidden: ``my_coral`` on pairs the student has not seen."""
    _compare_coral(values, 2024, "values")


@register("adabn_statistics", points=2)
def adabn_statistics(adapted: Any, source: Any, x: Any) -> None:
    """Every BN layer's moving mean/variance equal the statistics of its inputs on the target."""
    import keras

    require_model(adapted, "adapted")
    require_model(source, "source")
    bns, source_bns = batchnorm_layers(adapted), batchnorm_layers(source)
    if not bns or len(bns) != len(source_bns):
        raise CheckFailed(
            f"`adapted` has {len(bns)} BatchNormalization layers, the source features "
            f"{len(source_bns)}; adapt a copy of the feature extractor (clone_model + set_weights)"
        )
    x = np.asarray(x, dtype="float32")
    for i, (bn, src) in enumerate(zip(bns, source_bns, strict=True)):
        for w_new, w_old in zip((bn.gamma, bn.beta), (src.gamma, src.beta), strict=True):
            if not np.allclose(np.asarray(w_new), np.asarray(w_old)):
                raise CheckFailed(f"BN layer {i} changed its learned gamma/beta: AdaBN replaces "
                                  "only moving_mean and moving_variance")
        acts = np.asarray(keras.Model(adapted.inputs, bn.input).predict(x, verbose=0), dtype="float64")
        axes = tuple(range(acts.ndim - 1))
        mean, var = acts.mean(axis=axes), acts.var(axis=axes)
        got_mean = np.asarray(bn.moving_mean, dtype="float64")
        got_var = np.asarray(bn.moving_variance, dtype="float64")
        mean_err = np.max(np.abs(got_mean - mean) / (np.sqrt(var) + 1e-3))
        var_err = np.max(np.abs(got_var - var) / (var + 1e-3))
        if mean_err > 0.05 or var_err > 0.1:
            same_as_source = np.allclose(got_mean, np.asarray(src.moving_mean))
            hint = ("it still holds the source statistics" if same_as_source else
                    "run the target images up to this layer (keras.Model(adapted.inputs, bn.input)) "
                    "with the earlier BN layers already adapted, then assign their mean and variance "
                    "over all axes but the last")
            raise CheckFailed(f"BN layer {i}: moving_mean/moving_variance do not match the target "
                              f"statistics of its inputs; {hint}")


def source_digits(count: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """The check's own MNIST test digits as the lesson feeds them: the last ``count``, 32x32x3."""
    return mnist_test_rgb32(-count, None)


def _require_only_statistics_changed(adapted: Any, source: Any) -> None:
    """``adapted`` is ``source``'s network with equal learned weights; only BN statistics may differ."""
    import keras

    a_layers, s_layers = flat_layers(adapted), flat_layers(source)
    if [type(x).__name__ for x in a_layers] != [type(x).__name__ for x in s_layers]:
        raise CheckFailed("`adapted_model` is not the source model's network: AdaBN keeps the layers "
                          "and the classifier, and changes only the BatchNormalization statistics")
    for a, s in zip(a_layers, s_layers, strict=True):
        if isinstance(a, keras.layers.BatchNormalization):
            pairs = [(a.gamma, s.gamma), (a.beta, s.beta)]
        else:
            pairs = list(zip(a.weights, s.weights, strict=True))
        if not all(np.allclose(np.asarray(x), np.asarray(y)) for x, y in pairs):
            raise CheckFailed(f"layer {a.name!r} of `adapted_model` has other learned weights than the "
                              "source model's: AdaBN changes only moving_mean and moving_variance")


@register("adabn_improves", points=2)
def adabn_improves(adapted_model: Any, source_model: Any) -> None:
    """Hidden: on MNIST-M test digits loaded here, the AdaBN model beats the source-only one.

    The baseline is checked first: the source model classifies the check's own MNIST digits
    (>= 0.8), and the AdaBN model is the same network with only its BN statistics changed.
    """
    from course_utils import datasets

    require_model(adapted_model, "adapted_model")
    require_model(source_model, "source_model")
    _require_only_statistics_changed(adapted_model, source_model)
    xs, ys = source_digits()
    source_acc = float(np.mean(np.argmax(source_model.predict(xs, verbose=0), axis=1) == ys))
    if source_acc < MIN_SOURCE_ACCURACY:
        raise CheckFailed(f"the source-only model scores {source_acc:.2f} on 600 MNIST test digits "
                          f"(< {MIN_SOURCE_ACCURACY}): it is not a trained digit classifier, so it is no "
                          "baseline; keep the lesson's source_model")
    d = datasets.load_arrays("mnist_m")
    x, y = d["x_test"][-600:].astype("float32"), d["y_test"][-600:]
    accs = [float(np.mean(np.argmax(m.predict(x, verbose=0), axis=1) == y))
            for m in (adapted_model, source_model)]
    if accs[0] < accs[1] + ADABN_MIN_GAIN:
        raise CheckFailed(
            f"on 600 MNIST-M test digits your AdaBN model scores {accs[0]:.3f}, the source-only "
            f"model {accs[1]:.3f}; expected a gain of at least {ADABN_MIN_GAIN}. Re-estimate the "
            "statistics on the *target* images, and keep the trained classifier on top"
        )


def _pad_value(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"`{name}` should be a number (a proxy A-distance)") from error
    if not np.isfinite(number) or not 0.0 <= number <= 2.0:
        raise CheckFailed(f"`{name}` = {number}: a proxy A-distance lies between 0 and 2")
    return number


@register("shift_diagnosis", points=2)
def shift_diagnosis(cause: Any, pad_same: Any, pad_target: Any) -> None:
    """The right cause (class composition), no shift within MNIST and a large one to MNIST-M."""
    same, target = _pad_value(pad_same, "pad_same"), _pad_value(pad_target, "pad_target")
    if same > SAME_DOMAIN_MAX_PAD:
        raise CheckFailed(
            f"pad_same = {same:.2f} for two halves of one domain; draw `n` random rows of each set "
            "(rng.choice(len(a), n, replace=False)) instead of taking the first rows"
        )
    if target < TARGET_MIN_PAD:
        raise CheckFailed(f"pad_target = {target:.2f}: MNIST vs MNIST-M should be far apart (> "
                          f"{TARGET_MIN_PAD}); compare mnist_test with xt")
    answer = str(cause).strip().lower().strip("\"'()")
    if answer not in ("a", "b", "c"):
        raise CheckFailed('`cause` should be one letter: "a", "b" or "c"')
    if answer != "b":
        raise CheckFailed(
            "not that one: measure fair_pad(features, xs, mnist_test) — training and test digits "
            "drawn at random look alike. What do the first rows of `xs` hold?"
        )


@register("fair_pad_hidden", points=1)
def fair_pad_hidden(values: Any) -> None:
    """Hidden: ``fair_pad`` on the check's own pairs: one domain sorted by class, then MNIST vs MNIST-M.

    The first must show no shift and the second a large one, so a function that returns a
    fixed number, or compares first rows, fails one of them.
    """
    try:
        same, target = list(values)
    except (TypeError, ValueError) as error:
        raise CheckFailed("expected two proxy A-distances (the check's two pairs)") from error
    same, target = _pad_value(same, "fair_pad(sorted pair)"), _pad_value(target, "fair_pad(shifted pair)")
    if same > SAME_DOMAIN_MAX_PAD:
        raise CheckFailed(
            f"on two sets of one domain (one sorted by class) your fair_pad gives {same:.2f}; "
            "it should draw random rows of each set, not the first ones"
        )
    if target < TARGET_MIN_PAD:
        raise CheckFailed(
            f"on held-out MNIST vs MNIST-M digits your fair_pad gives {target:.2f} (expected > "
            f"{TARGET_MIN_PAD}): it should measure the features of the rows it draws"
        )
