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
