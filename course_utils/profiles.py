"""Run profiles: the sizes a lesson uses (never its code path), chosen by ``COURSE_PROFILE``."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from types import SimpleNamespace

ENV_VAR = "COURSE_PROFILE"
DEFAULT = "laptop"


@dataclass(frozen=True)
class Profile:
    """Sizes for one profile; lessons read these in their ``parameters`` cell."""

    name: str
    image_size: int
    """Side of the square images fed to the pretrained backbone, in pixels."""
    train_per_class: int
    """Labelled training images per class for the small target tasks."""
    val_per_class: int
    """Validation images per class."""
    epochs: int
    """Epochs for heads and small models trained from scratch."""
    fine_tune_epochs: int
    """Epochs for the fine-tuning phase."""
    batch_size: int
    seeds: int
    """How many seeds a lesson that reports mean and spread runs."""
    digits_per_class: int
    """Training images per class for digit tasks (MNIST, USPS, ...)."""

    def as_dict(self) -> dict:
        """Return the profile as a plain dictionary (for tables and reports)."""
        return asdict(self)


PROFILES: dict[str, Profile] = {
    # For the test suite: every lesson in well under a minute of compute.
    "smoke": Profile(
        name="smoke",
        image_size=128,
        train_per_class=20,
        val_per_class=50,
        epochs=10,
        fine_tune_epochs=2,
        batch_size=32,
        seeds=2,
        digits_per_class=50,
    ),
    # What a learner gets: every lesson in a few minutes on 2 CPU cores.
    "laptop": Profile(
        name="laptop",
        image_size=160,
        train_per_class=50,
        val_per_class=200,
        epochs=15,
        fine_tune_epochs=5,
        batch_size=32,
        seeds=3,
        digits_per_class=300,
    ),
    # For a GPU: full resolution, every image, more epochs.
    "full": Profile(
        name="full",
        image_size=224,
        train_per_class=50,
        val_per_class=500,
        epochs=30,
        fine_tune_epochs=10,
        batch_size=64,
        seeds=5,
        digits_per_class=1000,
    ),
}


def current_name() -> str:
    """Return the profile name from ``COURSE_PROFILE`` (default ``laptop``)."""
    name = os.environ.get(ENV_VAR, DEFAULT).strip().lower() or DEFAULT
    if name not in PROFILES:
        raise ValueError(
            f"{ENV_VAR}={name!r} is not a profile; choose one of {', '.join(PROFILES)}."
        )
    return name


def get_profile(name: str | None = None, **overrides: int) -> Profile:
    """Return the named profile (or the current one), with optional field overrides."""
    profile = PROFILES[name or current_name()]
    return replace(profile, **overrides) if overrides else profile


# A lesson's own sizes that differ between profiles, by lesson slug (the notebook's name without its
# number): knob -> (smoke, laptop, full). The lesson's parameters cell reads them with
# ``SIZES = profiles.lesson_sizes("text_transfer")`` and uses ``SIZES.curve_pool``; its learner sees a
# handful of knobs there, not a wall of per-profile tables. Knobs that never change with the profile
# stay in the parameters cell itself.
LESSON_SIZES: dict[str, dict[str, tuple]] = {
    "what_is_transfer_learning": {       # lesson 01
        "train_per_class": (100, 100, 500),   # labelled photos per class: few
        "val_per_class": (50, 100, 300),      # for choosing the epoch
        "max_epochs": (40, 60, 100),          # early stopping usually ends sooner
    },
    "choosing_a_model": {                # lesson 02
        "latency_batch": (8, 16, 32),         # images per timed forward pass
        "latency_repeats": (3, 3, 5),         # timed passes per model (the best one counts)
    },
    "feature_extraction": {              # lesson 03
        "pool_per_class": (20, 200, 1000),    # the few-shot curve draws from these
        "epochs": (5, 5, 10),                 # head epochs in the race
        "shots": ((1, 2, 5, 20), (1, 2, 5, 10, 50, 200), (1, 2, 5, 10, 50, 200, 1000)),  # photos per class
        "curve_seeds": (5, 10, 20),           # random draws per point of the curve
        "other_size": (96, 128, 160),         # pixels: the same photos at another size
    },
    "fine_tuning": {                     # lesson 04
        "val_per_class": (50, 100, 500),      # validation photos per class (cats vs dogs)
        "fine_tune_epochs": (2, 3, 10),       # phase 2 and the BatchNormalization runs
        "bn_photos": (40, 48, 200),           # photos in the one-pass BatchNormalization measurement
        "depth_epochs": (2, 2, 3),            # the first is not timed
        "gain_size": (96, 128, 224),          # pixels, section 6
        "gain_train": (60, 100, 300),         # photos per class (fewer if a class has fewer)
        "gain_val": (20, 30, 60),             # for choosing the epoch
        "gain_test": (50, 50, 100),           # for the reported numbers
        "gain_epochs": (6, 8, 15),            # at most; validation picks one (0: head alone)
    },
    "data_bias": {                       # lesson 05
        "seeds": (2, 3, 5),                   # >= 3 outside smoke
        "n_digits": (4000, 10000, 10000),     # Colored MNIST training digits
        "train_per_class": (40, 100, 200),    # PACS sketches per class
        "test_per_class": (50, 100, 110),
    },
    "overfitting": {                     # lesson 06
        "train_sizes": ((5, 20), (5, 20, 100), (5, 10, 20, 50, 100)),  # training photos per class
        "head_epochs": (40, 80, 150),         # full-batch epochs of the heads
        "probe_per_class": (20, 100, 200),    # cats vs dogs photos per class, each probe split
        "old_per_class": (10, 35, 100),       # unlabelled PACS photos per class to remember
    },
    "your_own_data": {                   # the capstone
        "second_per_class": (10, 40, None),   # images per class of the second folder (None: all)
        "max_per_class": (60, 300, None),     # images per class used (None: every image)
        "sample_per_class": (60, 80, 200),    # training images per class to compare the backbones
        "head_epochs": (40, 100, 200),        # a ceiling: early stopping ends sooner
        "fine_tune_epochs": (1, 3, 10),
    },
    "domain_mismatch": {
        "target_unlabelled": (1000, 3000, 7000),   # MNIST-M training digits, labels unused
        "digit_test": (600, 1800, 1800),           # MNIST and MNIST-M test digits
        "digit_steps": (100, 150, 3000),           # training steps of the digit CNN
        "digit_batch": (32, 64, 64),               # per domain
        "pacs_train": (12, 40, None),              # PACS images per class and domain (None: all)
        "pacs_val": (10, 20, None),                # validation: sketches choose a method, photos set CORAL
        "pacs_test": (12, 40, None),
        "pacs_steps": (150, 300, 1500),            # training steps of a PACS head
        "bn_images": (128, 128, 256),              # unlabelled images per domain for AdaBN
    },
    "domain_remedies": {
        "xray_steps": (100, 200, 600),        # training steps of the X-ray CNN
        "xray_batch": (32, 64, 64),
        "pacs_train": (12, 40, None),         # PACS images per class and source domain (None: all)
        "pacs_val": (10, 20, None),           # labelled sketches per class, to choose
        "pacs_test": (12, 40, None),
        "pacs_unlabelled": (40, 40, None),    # sketches per class for self-training and the reference
        "pacs_steps": (150, 300, 1500),       # training steps of a PACS head
    },
    "unsupervised_transfer": {
        "seeds": (2, 3, 5),                        # labelled draws, head initialisation, k-means
        "unlabelled": (2000, 10000, 10000),        # MNIST training digits, labels withheld
        "pretrain_epochs": (2, 5, 30),             # laptop: what the 5-minute budget holds
        "collapse_steps": (30, 80, 200),           # the positives-only demonstration
        "labels_per_class": ([10], [1, 5, 10, 50, 100], [1, 5, 10, 50, 100, 500]),
        "trained_counts": ([10], [10, 100], [1, 10, 100, 500]),   # where the (costly) trained variants run
        "pool_per_class": (20, 200, 800),          # labelled pool the draws come from
        "val_per_class": (10, 50, 100),            # labelled validation digits (steps, BatchNormalization)
        "digit_test": (300, 2000, 10000),          # MNIST test digits
        "photo_test": (15, None, None),            # PACS test photos per class to cluster (None: all)
        "min_probe_gain": (-0.05, 0.05, 0.05),     # SimCLR probe over tuned random init, 10 labels/class
    },
    "text_transfer": {
        "seeds": (3, 20, 20),                 # label draws: what a remedy recovers needs many
        "curve_sizes": ([10, 30, 100, 300], [10, 30, 100, 300, 1000], [10, 30, 100, 300, 1000, 3000]),
        "curve_pool": (450, 1500, 4500),      # SST-2 train phrases each seed draws from
        "curve_test": (300, 800, 800),        # SST-2 dev sentences scored
        "target_test": (200, 400, 500),       # test sentences per target domain, balanced
        "target_pool": (300, 500, 500),       # per target: unlabelled remedies, validation, few labels
        "n_val": (50, 100, 100),              # labelled target sentences, only for choosing a remedy
    },
    "efficient_fine_tuning": {          # lesson 11
        "text_train": (64, 160, 400),     # labelled Amazon sentences per seed
        "text_val": (50, 100, 100),       # Amazon sentences for choosing the epoch and the learning rate
        "text_test": (64, 100, 300),      # test sentences per out-of-domain set (Amazon: all 300)
        "text_epochs": (1, 2, 3),         # at most; validation chooses
        "per_class": (12, 30, 100),       # training images per class (PACS sketches, PACS photos)
        "test_per_class": (20, 30, None),  # out-of-distribution test images per class (None: all)
        "epochs": (2, 3, 10),             # image fine-tuning epochs, at most; validation chooses
    },
    "after_transfer": {
        "teacher_size": (160, 160, 224),       # pixels each model sees: the student is smaller in both
        "student_size": (128, 128, 160),
        "sketches": (40, None, None),          # PACS sketches per class, validation and test (None: all)
        "steps": (400, 400, 800),              # optimiser steps for every head, on labels or distilling
        "calibration": (200, 200, 500),        # unlabelled photos that calibrate the int8 activations
        "target_pool": (1000, 3000, 7000),     # unlabelled MNIST-M digits streamed before the test digits
        "digit_test": (600, 1800, 1800),
        "digit_steps": (100, 200, 3000),       # lesson 07's source CNN
    },
}


def lesson_sizes(lesson: str, name: str | None = None) -> SimpleNamespace:
    """This lesson's sizes in the current (or named) profile, as attributes: ``SIZES.curve_pool``.

    ``python -m course_utils run NN -p SIZES.curve_pool=500`` overrides one of them (the injected
    cell assigns the attribute).
    """
    if lesson not in LESSON_SIZES:
        raise KeyError(f"no sizes for lesson {lesson!r} in course_utils.profiles.LESSON_SIZES; "
                       f"lessons with sizes: {', '.join(sorted(LESSON_SIZES)) or 'none'}")
    index = list(PROFILES).index(name or current_name())
    table = LESSON_SIZES[lesson]
    bad = [knob for knob, values in table.items() if not (isinstance(values, tuple) and len(values) == 3)]
    if bad:
        raise ValueError(f"LESSON_SIZES[{lesson!r}]: {bad} must each be a (smoke, laptop, full) tuple")
    return SimpleNamespace(**{knob: values[index] for knob, values in table.items()})
