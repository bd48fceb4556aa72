"""What hidden checks score on, declared so that no student's kernel can see it.

A lesson's checks module lists, in ``HELD_OUT_DATA``, the data its hidden checks score on in the
check worker: an image split (:class:`HeldOutImages`) or rows of an array dataset
(:class:`HeldOutRows`). The grader shows a student's kernel the assets with those files
emptied and those rows zeroed (names, shapes and every other file unchanged, so the
exercise's own splits are exactly what they are outside the grader); only the check worker
sees them (``course_utils/grading/assets_view.py``). Inputs a hidden cell passes to the
student's code *in the kernel* are not held out: they are public by design (docs/grading.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class HeldOutImages:
    """An image dataset's split (``datasets.load_images``) a hidden check scores on."""

    dataset: str
    split: str = "test"
    domain: str | None = None

    def files(self) -> list[Path]:
        """The split's files, where this machine keeps them (nothing is downloaded)."""
        from course_utils import datasets

        return datasets.image_split_files(self.dataset, self.split, self.domain, download=False)


@dataclass(frozen=True)
class HeldOutRows:
    """Rows ``start:stop`` of an array dataset's split (``datasets.load_arrays``) a hidden check scores on.

    ``arrays`` says what is hidden: the inputs and labels (``("x", "y")``), or only the labels
    (``("y",)``: images a lesson may use unlabelled, labels only the check may see).
    """

    dataset: str
    split: str = "test"
    start: int | None = None
    stop: int | None = None
    arrays: tuple[str, ...] = ("x", "y")

    def file_rows(self) -> tuple[Path, dict[str, np.ndarray]]:
        """The ``.npz`` file and, per array in it, the rows to hide."""
        from course_utils import datasets

        path, where = datasets.array_rows(self.dataset, self.split, download=False)
        return path, {where[role][0]: where[role][1][self.start:self.stop] for role in self.arrays}


HeldOut = HeldOutImages | HeldOutRows
