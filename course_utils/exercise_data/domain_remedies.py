"""Exercise data for the lesson ``domain_remedies``: domain-classifier outputs, weight vectors, hospitals.

Hospitals A and D are built from PneumoniaMNIST: A is the labelled training hospital of the lesson;
D's X-rays (its unlabelled pool and a labelled validation set) come from another hospital. A
hospital may differ in its patients (the class mix) or its scanner (the images' contrast);
what differs at D is what the exercise asks you to find out from the data, so its description
is stored encoded below. The test X-rays a check scores the deployed model on are the check's own.
"""

from __future__ import annotations

import base64
import json

import numpy as np

HOSPITAL_A_SHARE = 0.6       # as in the lesson: hospital A's share of the training X-rays
SPLIT_SEED = 42              # the lesson's patient order
# Hospital D: its patients' class mix and its scanner's contrast, encoded so that reading this file
# does not answer the exercise (the data does).
_HOSPITAL_D = "eyJwbmV1bW9uaWFfc2hhcmUiOiAwLjIsICJjb250cmFzdCI6IDEuMH0="


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


def site_description(encoded: str) -> dict[str, float]:
    """A hospital's description: ``pneumonia_share`` (its class mix) and ``contrast`` (its scanner)."""
    return json.loads(base64.b64decode(encoded))


def draw_site(x: np.ndarray, y: np.ndarray, site: dict[str, float],
              seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The X-rays a hospital described by ``site`` sends: its class mix drawn from (x, y) with ``seed``,
    seen through its scanner (contrast around mid-grey; 1 leaves the images as they are)."""
    from course_utils.taught.domain_remedies import with_prevalence

    x, y = with_prevalence(x, y, site["pneumonia_share"], seed=seed)
    if site["contrast"] != 1.0:
        x = np.clip(127.5 + site["contrast"] * (x - 127.5), 0.0, 255.0).astype("float32")
    return x, y


def hospital_d(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Hospital D's X-rays: ``"pool"`` (its unlabelled images; the labels are for tests only) or
    ``"validation"`` (labelled). Real images; what changed is for the student to find out."""
    from course_utils import datasets

    site = site_description(_HOSPITAL_D)
    if split == "pool":
        x, y = training_xrays()
        n_a = int(HOSPITAL_A_SHARE * len(x))
        return draw_site(x[n_a:], y[n_a:], site, seed=5)
    if split != "validation":
        raise ValueError(f"split must be 'pool' or 'validation', not {split!r}")
    d = datasets.load_arrays("pneumonia")
    return draw_site(d["x_val"][..., None].astype("float32"), d["y_val"].astype("int32"), site, seed=6)
