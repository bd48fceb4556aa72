"""Exercise data for the lesson ``after_transfer``: logits to distil, confidences to abstain on, and the
small student's features of PACS photos and sketches.

``logit_cases`` and ``confidence_cases`` are drawn from a seed, so a check can ask for the same cases a
student's function answered, or for new ones the student never saw. NumPy only at import time.
"""

from __future__ import annotations

import numpy as np

STUDENT = "mobilenet_v2_035"   # the lesson's student backbone


def logit_cases(seed: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(teacher logits, student logits, temperature) triples to compute a distillation loss on.

    Batches of 1 to 16 examples over 2 to 10 classes, logits from nearly flat to very peaked,
    temperatures from 1 (no softening) to 8.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for temperature in (1.0, 2.0, 4.0, 8.0, float(rng.uniform(1.5, 6.0))):
        n, classes = int(rng.integers(1, 17)), int(rng.integers(2, 11))
        scale = float(rng.choice([0.3, 1.0, 2.0]))   # Keras clips probabilities at 1e-7: stay above
        teacher = rng.normal(0.0, scale, (n, classes)).astype("float32")
        student = (0.5 * teacher + rng.normal(0.0, scale, (n, classes))).astype("float32")
        cases.append((teacher, student, temperature))
    return cases


def confidence_cases(seed: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(confidence, correct, target) triples to choose an abstention threshold on.

    Confident answers are right more often; some confidences repeat exactly (ties, as rounded
    probabilities give), and in the last case the most confident answers are wrong, so no threshold
    reaches its target.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for n, target, decimals in [(200, 0.9, 2), (500, 0.95, 3), (50, 0.8, 1), (300, 0.97, 2), (120, 0.99, 2)]:
        confidence = np.round(rng.uniform(0.3, 1.0, n), decimals)
        correct = rng.uniform(0.0, 1.0, n) < confidence ** 1.5
        cases.append((confidence, correct, target))
    confidence, correct, _ = cases[-1]
    correct[confidence == confidence.max()] = False
    return cases


def student_features(domain: str, split: str, per_class: int | None = None, size: int = 128
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) of PACS ``domain`` images of ``split`` through the lesson's student backbone
    (ImageNet MobileNetV2 at width 0.35, frozen, average-pooled), cached like every lesson's features."""
    from course_utils import backbones, datasets, features

    images = datasets.load_images("pacs", split, size, per_class=per_class, seed=0, domain=domain,
                                  verbose=False)
    base = backbones.load_backbone(STUDENT, size, pooling="avg", verbose=False)
    return features.extract_features(base, images.x, preprocess="mobilenet_v2", verbose=False), images.y
