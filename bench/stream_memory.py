"""Benchmark: streaming a folder far larger than memory through ``tf.data``, peak memory measured.

Generates ``--n`` small JPEG files (two classes, ``--source-px`` pixels square; generated
because only the count matters here, and said so), then reads the whole folder once at
``--size`` px through ``images.image_stream`` (the ``tf.data`` pipeline lesson 13 fine-tunes
from), batch by batch, the way ``model.fit`` would. The resident memory (RSS) of the process
is sampled every batch; printed: RSS before the stream, the highest RSS during it, and what the
same folder would take as one uint8 array (``images.load_image_folder``). ``--max-growth-mb``
makes it exit with status 1 when the stream grows RSS by more than that (the test suite runs a
small version).

Usage (from the repository root)::

    python bench/stream_memory.py --n 20000 --size 224
    python bench/stream_memory.py --n 3000 --size 224 --max-growth-mb 300
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psutil  # noqa: E402
from PIL import Image  # noqa: E402


def make_folder(root: Path, n: int, px: int) -> None:
    """Write ``n`` JPEGs of ``px`` x ``px`` under ``root/{a,b}/``: smooth gradients plus noise."""
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True, exist_ok=True)
    ramp = np.linspace(0, 255, px, dtype=np.float32)

    def one(i: int) -> None:
        rng = np.random.default_rng(i)
        base = (ramp[None, :, None] * rng.uniform(0.3, 1.0, 3)) + rng.normal(0, 20, (px, px, 3))
        img = np.clip(base if i % 2 else base[:, ::-1], 0, 255).astype(np.uint8)
        Image.fromarray(img).save(root / ("a" if i % 2 else "b") / f"{i:06d}.jpg", quality=85)

    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        list(pool.map(one, range(n)))


def rss_mb() -> float:
    """Resident memory of this process now, in MB."""
    return psutil.Process().memory_info().rss / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="images in the generated folder")
    parser.add_argument("--size", type=int, default=224, help="side the stream resizes to, px")
    parser.add_argument("--source-px", type=int, default=48, help="side of the generated JPEGs, px")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--folder", type=Path, default=None, help="reuse or create the folder here")
    parser.add_argument("--max-growth-mb", type=float, default=None,
                        help="exit 1 when the stream grows RSS by more than this")
    args = parser.parse_args()

    import tensorflow as tf  # noqa: F401  (imported before the baseline: its own memory is not the stream's)

    from course_utils import images

    folder = args.folder or Path(tempfile.mkdtemp(prefix="stream-memory-"))
    start = time.perf_counter()
    if not any(folder.glob("*/*.jpg")):
        make_folder(folder, args.n, args.source_px)
    print(f"folder: {folder} ({args.n} JPEGs of {args.source_px} px, generated in "
          f"{time.perf_counter() - start:.1f} s)")

    listing = images.list_image_files(folder)
    stream = images.image_stream(listing, args.size, args.batch, shuffle=True, seed=0)
    before = rss_mb()
    peak, seen, checksum = before, 0, 0
    cpu0, start = os.times(), time.perf_counter()
    for x, _ in stream:
        seen += int(x.shape[0])
        checksum += int(x[:, 0, 0, 0].numpy().sum())  # touch the pixels
        peak = max(peak, rss_mb())
    seconds = time.perf_counter() - start
    cpu1 = os.times()
    cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    as_array_mb = len(listing) * args.size * args.size * 3 / 2**20
    lifetime_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"streamed {seen} images at {args.size} px through tf.data in {seconds:.1f} s "
          f"({seen / seconds:.0f} images/s, {cpu:.1f} CPU s, load average {os.getloadavg()[0]:.1f})")
    print(f"RSS before the stream {before:.0f} MB, highest during it {peak:.0f} MB "
          f"(+{peak - before:.0f} MB; process lifetime peak {lifetime_peak:.0f} MB)")
    print(f"the same folder as one uint8 array (load_image_folder) would be {as_array_mb:,.0f} MB: "
          f"the stream used {(peak - before) / as_array_mb:.1%} of that")
    if seen != len(listing):
        print(f"FAILED: {len(listing)} files but {seen} images came through")
        return 1
    if args.max_growth_mb is not None and peak - before > args.max_growth_mb:
        print(f"FAILED: RSS grew by {peak - before:.0f} MB, over the bound of {args.max_growth_mb:.0f} MB")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
