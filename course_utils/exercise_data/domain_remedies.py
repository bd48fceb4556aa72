"""Exercise data for the lesson ``domain_remedies``: domain-classifier outputs, weight vectors, hospitals.

Hospitals A and D are built from PneumoniaMNIST as in the lesson: A is the labelled training
hospital; D's X-rays (its unlabelled pool and a labelled validation set) come from a hospital
whose patients differ. The test X-rays a check scores the deployed model on are the check's own.
"""

from __future__ import annotations

import numpy as np

HOSPITAL_A_SHARE = 0.6       # as in the lesson: hospital A's share of the training X-rays
SPLIT_SEED = 42              # the lesson's patient order
D_PNEUMONIA = 0.2            # hospital D's class mix


def demo_probabilities(seed: int, n: int = 300) -> np.ndarray:
    """Domain-classifier outputs p(target | x) for ``n`` source examples, some near 0 and 1."""
    rng = np.random.default_rng(seed)
    return 1.0 / (1.0 + np.exp(-rng.normal(-1.0, 1.5, n)))


def ess_cases(seed: int) -> list[np.ndarray]:
    """Weight vectors to compute an effective sample size of: equal, one-hot, and random."""
    rng = np.random.default_rng(seed)
    return [np.ones(10), np.r_[5.0, np.zeros(9)], rng.exponential(1.0, 50), rng.lognormal(0, 2, 200)]


def training_xrays() -> tuple[np.ndarray, np.ndarray]:
    """PneumoniaMNIST's training X-rays in the lesson's patient order: (n, 28, 28, 1) float 0-255, labels."""
    from course_utils import datasets

    d = datasets.load_arrays("pneumonia")
    order = np.random.default_rng(SPLIT_SEED).permutation(len(d["y_train"]))
    return d["x_train"][order][..., None].astype("float32"), d["y_train"][order].astype("int32")


def hospital_a() -> tuple[np.ndarray, np.ndarray]:
    """Hospital A's labelled X-rays, as in the lesson: (n, 28, 28, 1) float 0-255 and labels, half
    of them pneumonia."""
    from course_utils.taught.domain_remedies import with_prevalence

    x, y = training_xrays()
    n_a = int(HOSPITAL_A_SHARE * len(x))
    return with_prevalence(x[:n_a], y[:n_a], 0.5, seed=0)


def hospital_d(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Hospital D's X-rays: ``"pool"`` (its unlabelled images; the labels are for tests only) or
    ``"validation"``. Real images; what changed is for the student to find out."""
    from course_utils.taught.domain_remedies import with_prevalence

    if split == "pool":
        x, y = training_xrays()
        n_a = int(HOSPITAL_A_SHARE * len(x))
        return with_prevalence(x[n_a:], y[n_a:], D_PNEUMONIA, seed=5)
    if split != "validation":
        raise ValueError(f"split must be 'pool' or 'validation', not {split!r}")
    return pneumonia_split("val", seed=6)


def pneumonia_split(key: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """PneumoniaMNIST's ``key`` split (``val``, ``test``) with hospital D's class mix, drawn with ``seed``."""
    from course_utils import datasets
    from course_utils.taught.domain_remedies import with_prevalence

    d = datasets.load_arrays("pneumonia")
    x, y = d[f"x_{key}"][..., None].astype("float32"), d[f"y_{key}"].astype("int32")
    return with_prevalence(x, y, D_PNEUMONIA, seed=seed)
