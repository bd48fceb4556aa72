"""Reading image folders (``root/<class>/<image>``) robustly: bad files are skipped and reported.

Why not only ``keras.utils.image_dataset_from_directory``: one undecodable file stops
iteration with ``InvalidArgumentError: Unknown image file format`` naming no file (measured
with Keras 3.15), and nothing reports what was skipped. The course promises that nothing is
lost silently, so this reader names every file it skips and why, converts
grayscale/CMYK/alpha/palette images to RGB, and names an empty or missing class folder.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class ImageFolderError(ValueError):
    """An image folder cannot be used as it is: no classes, an empty class, mismatched classes."""


@dataclass
class FolderReport:
    """What happened while reading an image folder: counts, skipped and converted files."""

    root: Path
    class_names: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    converted: list[tuple[str, str]] = field(default_factory=list)  # (path, original mode)

    def summary(self) -> str:
        """Return a short human-readable summary, listing every skipped file."""
        total = sum(self.counts.values())
        lines = [f"{self.root}: {total} images in {len(self.class_names)} classes "
                 + ", ".join(f"{c}={n}" for c, n in self.counts.items())]
        if self.converted:
            modes = sorted({m for _, m in self.converted})
            lines.append(f"  converted {len(self.converted)} images to RGB (from {', '.join(modes)})")
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)} files that are not readable images:")
            lines += [f"    - {p}: {why}" for p, why in self.skipped]
        return "\n".join(lines)


def list_classes(root: Path, class_names: list[str] | None = None) -> list[str]:
    """Return the class folder names under ``root``, checking them against ``class_names``."""
    root = Path(root)
    if not root.is_dir():
        raise ImageFolderError(f"image folder {root} does not exist")
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise ImageFolderError(f"{root} has no class folders; expected {root}/<class>/<image files>")
    if class_names is not None and sorted(class_names) != found:
        raise ImageFolderError(
            f"inconsistent class names in {root}: found folders {found}, expected {sorted(class_names)}"
        )
    for name in found:
        if not any(p.is_file() for p in (root / name).iterdir()):
            raise ImageFolderError(f"class folder {root / name} is empty; add images or remove it")
    return list(class_names) if class_names is not None else found


def read_image(path: Path, image_size: int | tuple[int, int] | None) -> tuple[np.ndarray, str]:
    """Decode one image as RGB uint8 (resized when ``image_size`` is given); return it and its mode.

    Grayscale, palette, CMYK and alpha images are converted to RGB (alpha is
    composited on white). Raises ``ValueError`` with a reason for unreadable files.
    """
    path = Path(path)
    data = path.read_bytes()
    if not data:
        raise ValueError("empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        img = Image.open(io.BytesIO(data))
        img.load()
    except UnidentifiedImageError:
        raise ValueError("not an image file") from None
    except Exception as exc:  # truncated or corrupt data
        raise ValueError(f"corrupt image ({type(exc).__name__}: {exc})") from None
    mode = img.mode
    if mode in ("RGBA", "LA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba).convert("RGB")
    elif mode != "RGB":
        img = img.convert("RGB")
    if image_size is not None:
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        img = img.resize(size[::-1], Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8), mode


def load_image_folder(
    root: Path,
    image_size: int | None,
    class_names: list[str] | None = None,
    per_class: int | None = None,
    seed: int = 0,
    files: dict[str, list[Path]] | None = None,
    verbose: bool = True,
) -> tuple[np.ndarray, np.ndarray, FolderReport]:
    """Read ``root/<class>/*`` into ``(images uint8 [N,H,W,3], labels int32, report)``.

    ``per_class`` takes a fixed, seeded sample of that many readable images per
    class (a bad file in the sample is reported and replaced by the next one).
    ``files`` restricts reading to given files per class (used for seeded splits).
    Unreadable, zero-byte and non-image files are skipped and listed in the report.
    """
    root = Path(root)
    class_names = list_classes(root, class_names)
    report = FolderReport(root=root, class_names=class_names)
    images, labels = [], []
    for label, name in enumerate(class_names):
        candidates = files[name] if files is not None else sorted(
            p for p in (root / name).iterdir() if p.is_file() and not p.name.startswith(".")
        )
        if per_class is not None:
            order = np.random.default_rng(seed + label).permutation(len(candidates))
            candidates = [candidates[i] for i in order]
        taken = 0
        for path in candidates:
            if per_class is not None and taken >= per_class:
                break
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                report.skipped.append((str(path), f"not an image file (extension {path.suffix!r})"))
                continue
            try:
                array, mode = read_image(path, image_size)
            except (ValueError, OSError) as exc:
                report.skipped.append((str(path), str(exc)))
                continue
            if mode != "RGB":
                report.converted.append((str(path), mode))
            images.append(array)
            labels.append(label)
            taken += 1
        if taken == 0:
            raise ImageFolderError(f"class folder {root / name} has no readable images")
        report.counts[name] = taken
    if verbose and (report.skipped or report.converted):
        print(report.summary())
    x = np.stack(images) if image_size is not None else np.array(images, dtype=object)
    return x, np.asarray(labels, dtype=np.int32), report
