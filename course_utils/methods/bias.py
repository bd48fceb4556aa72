"""Datasets with a built-in shortcut: Colored MNIST and a visible cue stamped onto real photos."""

from __future__ import annotations

import numpy as np

COLORS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 60, 230)}


def colored_mnist(digits: np.ndarray, labels: np.ndarray, color_flip: float, label_noise: float = 0.25,
                  seed: int = 0) -> dict[str, np.ndarray]:
    """Build one Colored MNIST environment (Arjovsky et al. 2019) from MNIST digits.

    The label is ``digit < 5`` flipped with probability ``label_noise``; the colour
    (0 red, 1 green) equals the label flipped with probability ``color_flip``. Digits
    are downsampled to 14x14 and put in the red or the green channel. Returns ``x``
    (N, 14, 14, 2) float32 in [0, 1], ``y`` (the noisy label), ``color`` and ``digit``.
    """
    rng = np.random.default_rng(seed)
    digits = np.asarray(digits)[:, ::2, ::2].astype("float32") / 255.0
    digit = np.asarray(labels).astype(int)
    n = len(digit)
    y = (digit < 5).astype(int) ^ (rng.random(n) < label_noise)
    color = y ^ (rng.random(n) < color_flip)
    x = np.zeros(digits.shape + (2,), dtype="float32")
    x[np.arange(n), :, :, color] = digits
    return {"x": x, "y": y.astype("int32"), "color": color.astype("int32"), "digit": digit}


def colored_to_rgb(x: np.ndarray) -> np.ndarray:
    """Show two-channel Colored MNIST images as uint8 RGB (channel 0 red, channel 1 green)."""
    x = np.asarray(x)
    rgb = np.zeros(x.shape[:-1] + (3,), dtype="float32")
    rgb[..., 0], rgb[..., 1] = x[..., 0], x[..., 1]
    return (rgb * 255).round().astype(np.uint8)


def cue_assignment(y: np.ndarray, agree: float, cue_class: int = 1, seed: int = 0) -> np.ndarray:
    """Return a 0/1 mask: the cue is on with probability ``agree`` for ``cue_class``, else ``1 - agree``.

    ``agree=0.95`` makes the cue co-occur with ``cue_class`` in 95% of its images and
    with the other classes in 5%; ``agree=0.5`` makes it independent of the label.
    """
    y = np.asarray(y)
    p = np.where(y == cue_class, agree, 1.0 - agree)
    return (np.random.default_rng(seed).random(len(y)) < p).astype("int32")


def add_border(images: np.ndarray, mask: np.ndarray | None = None, width: float = 0.08,
               color: tuple[int, int, int] | str = "red") -> np.ndarray:
    """Return a copy of uint8 images with a solid coloured frame on those where ``mask`` is 1.

    ``width`` is the frame's thickness as a fraction of the image side.
    """
    out = np.array(images, copy=True)
    mask = np.ones(len(out), dtype=bool) if mask is None else np.asarray(mask).astype(bool)
    rgb = np.asarray(COLORS[color] if isinstance(color, str) else color, dtype=out.dtype)
    side = out.shape[1]
    w = max(1, int(round(width * side)))
    sel = out[mask]
    sel[:, :w], sel[:, -w:], sel[:, :, :w], sel[:, :, -w:] = rgb, rgb, rgb, rgb
    out[mask] = sel
    return out


def add_tag(images: np.ndarray, mask: np.ndarray | None = None, size: float = 0.25,
            color: tuple[int, int, int] | str = "red") -> np.ndarray:
    """Return a copy of uint8 images with a solid square "tag" in the bottom-left corner where ``mask`` is 1.

    Like the photographer's tag that sat in one corner of many horse photos of PASCAL VOC and
    that a classifier learned instead of horses (Lapuschkin et al. 2019, "Clever Hans").
    ``size`` is the tag's side as a fraction of the image side.
    """
    out = np.array(images, copy=True)
    mask = np.ones(len(out), dtype=bool) if mask is None else np.asarray(mask).astype(bool)
    rgb = np.asarray(COLORS[color] if isinstance(color, str) else color, dtype=out.dtype)
    region = tag_region(out.shape[1], size)
    sel = out[mask]
    sel[:, region] = rgb
    out[mask] = sel
    return out


def tag_region(side: int, size: float = 0.25) -> np.ndarray:
    """Return a boolean (side, side) mask of the square :func:`add_tag` paints."""
    s = max(1, int(round(size * side)))
    region = np.zeros((side, side), dtype=bool)
    region[-s:, :s] = True
    return region


def border_region(side: int, width: float = 0.08) -> np.ndarray:
    """Return a boolean (side, side) mask of the frame :func:`add_border` paints."""
    w = max(1, int(round(width * side)))
    region = np.zeros((side, side), dtype=bool)
    region[:w], region[-w:], region[:, :w], region[:, -w:] = True, True, True, True
    return region
