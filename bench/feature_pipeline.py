"""Benchmark: the pieces of the feature pipeline, each against its alternatives, in one process.

The numbers behind the choices in ``course_utils/images.py`` and ``course_utils/features.py``:

- ``decoders``: Pillow one file at a time, Pillow in a thread pool (``images.read_images``), a
  ``tf.data`` pipeline with ``tf.io.decode_image`` + ``tf.image.resize`` in a parallel ``map``,
  and ``tf.py_function`` around Pillow in a parallel ``map``: wall and CPU time per photo;
- ``batch``: the compiled forward pass (``features.forward_function``) against ``model.predict``,
  at several batch sizes;
- ``litert``: the frozen base in LiteRT (XNNPACK) against Keras (``model.predict`` and the
  compiled forward pass) at the lessons' image sizes, for several batch sizes, one interpreter
  per core or one with a thread per core, and what exporting costs (``course_utils/litert.py``
  takes its batch size and layout from this);
- ``pipeline``: photos on disk to features, cold cache: the old path (sequential decoding,
  float32 copy, ``predict`` at batch 64), the lessons' path (parallel ``load_images``, then
  ``extract_features(uint8, preprocess=...)``), the streaming path (``folder_features``: decoding
  overlapped with the forward pass) in LiteRT (each core decoding and running its own files,
  ``litert.Runner.map``) and in Keras, the streaming LiteRT path it replaced (a decoding pool
  feeding batches split between the cores), and the limits (each runtime's bare forward pass
  alone).

Variants are interleaved round by round, so a machine whose load changes during the run biases
none of them; medians are reported with the load average. On a shared machine compare ratios
(and CPU seconds), not absolute times.

Usage (from the repository root, with ``COURSE_MIRROR`` set)::

    python bench/feature_pipeline.py decoders --n 600 --rounds 3
    python bench/feature_pipeline.py batch --n 192 --rounds 3
    python bench/feature_pipeline.py litert --n 128 --rounds 3 --sizes 96,128,160,224
    python bench/feature_pipeline.py pipeline --n 400 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

SIZE = 224


def _files(n: int) -> list[Path]:
    from course_utils import datasets

    root = datasets.dataset_root("cats_and_dogs") / "train"
    per_class = [sorted((root / c).glob("*.jpg")) for c in ("cats", "dogs")]
    return [f for pair in zip(*per_class, strict=False) for f in pair][:n]


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def interleave(variants: dict, rounds: int, n: int,
               paired: tuple[str, str] | None = None) -> dict[str, tuple[float, float]]:
    """Run each variant once untimed, then ``rounds`` interleaved timed rounds; print a table.

    ``paired`` (two variants' names, ``(new, old)``): also print new / old round by round.
    Returns each variant's median wall and CPU seconds.
    """
    for fn in variants.values():
        fn()
    times = {k: [] for k in variants}
    loads = []
    for r in range(rounds):
        for name, fn in variants.items():
            start, cpu = time.perf_counter(), _cpu()
            fn()
            times[name].append((time.perf_counter() - start, _cpu() - cpu))
        loads.append(os.getloadavg()[0])
        print(f"  round {r + 1}/{rounds} done, load average {loads[-1]:.1f}", flush=True)
    base = next(iter(times))
    ref = np.median([w for w, _ in times[base]])
    print(f"\n{n} photos, {os.cpu_count()} cores, load average during the run "
          f"{min(loads):.1f}-{max(loads):.1f}\n")
    print(f"| variant | wall ms/photo (median) | photos/s | CPU ms/photo | wall vs '{base}' |")
    print("|---|---|---|---|---|")
    for name, v in times.items():
        w = np.array(v)
        print(f"| {name} | {1000 * np.median(w[:, 0]) / n:.2f} | {n / np.median(w[:, 0]):.0f} | "
              f"{1000 * np.median(w[:, 1]) / n:.2f} | {np.median(w[:, 0]) / ref:.2f} |")
    if paired:
        new, old = (np.array(times[k]) for k in paired)
        wall, cpu = new[:, 0] / old[:, 0], new[:, 1] / old[:, 1]
        print(f"\n'{paired[0]}' / '{paired[1]}', round by round: wall "
              f"{', '.join(f'{r:.2f}' for r in wall)} (median {np.median(wall):.2f}), CPU seconds "
              f"{', '.join(f'{r:.2f}' for r in cpu)} (median {np.median(cpu):.2f})")
    return {name: (float(np.median(np.array(v)[:, 0])), float(np.median(np.array(v)[:, 1])))
            for name, v in times.items()}


def decoders(n: int, rounds: int) -> None:
    """Pillow sequential / Pillow thread pool / tf.data native / tf.data py_function(Pillow)."""
    import tensorflow as tf

    from course_utils import images

    files = _files(n)
    names = [str(f) for f in files]

    def pil_sequential():
        return [images.read_image(f, SIZE)[0] for f in files]

    def pil_threads():
        return [a for _, a, _ in images.read_images(files, SIZE)]

    def native_decode(path):
        img = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return tf.cast(tf.image.resize(img, (SIZE, SIZE), antialias=True), tf.uint8)

    def tf_native():
        ds = tf.data.Dataset.from_tensor_slices(names).map(native_decode, tf.data.AUTOTUNE)
        return [b.numpy() for b in ds.batch(32)]

    def pil_in_tf(path):
        x = tf.py_function(lambda p: images.read_image(p.numpy().decode(), SIZE)[0], [path], tf.uint8)
        x.set_shape((SIZE, SIZE, 3))
        return x

    def tf_py_function():
        ds = tf.data.Dataset.from_tensor_slices(names).map(pil_in_tf, tf.data.AUTOTUNE)
        return [b.numpy() for b in ds.batch(32)]

    interleave({"Pillow, one at a time": pil_sequential,
                f"Pillow, thread pool ({images.decode_workers()} threads)": pil_threads,
                "tf.data: decode_image + resize, parallel map": tf_native,
                "tf.data: py_function(Pillow), parallel map": tf_py_function}, rounds, n)
    a = np.stack(pil_sequential()).astype(int)
    b = np.concatenate(tf_native()).astype(int)
    print(f"\ntf.data's pixels vs Pillow's: mean |difference| {np.abs(a - b).mean():.2f}, "
          f"max {np.abs(a - b).max()} (of 255)")


def batch_sizes(n: int, rounds: int) -> None:
    """The compiled forward pass vs model.predict, at batch sizes 8-64."""
    from course_utils import backbones, features

    base = backbones.load_backbone("mobilenet_v2", SIZE, pooling="avg", verbose=False)
    x = np.random.default_rng(0).integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8)
    xf = backbones.preprocess("mobilenet_v2", x)
    forward = features.forward_function(base, "mobilenet_v2", "uint8")

    def call(bs):
        return lambda: [forward(x[i:i + bs]).numpy() for i in range(0, n, bs)]

    variants = {f"forward_function, batch {bs}": call(bs) for bs in (32, 8, 16, 24, 48, 64)}
    variants.update({f"predict, batch {bs}": (lambda bs=bs: base.predict(xf, batch_size=bs, verbose=0))
                     for bs in (32, 64)})
    interleave(variants, rounds, n)


def litert_vs_keras(n: int, rounds: int, sizes: list[int]) -> None:
    """MobileNetV2 features in LiteRT (batch sizes; a batch split between single-threaded interpreters, or
    one interpreter with a thread per core) vs Keras' predict and compiled call, per size."""
    from course_utils import litert

    cores = litert.usable_cores()
    chosen = f"LiteRT, batch {litert.BATCH_SIZE}, {cores} interpreters x 1 thread"
    rows = [_litert_at(size, n, rounds, cores, chosen) for size in sizes]
    print(f"\nimages/s / CPU ms per image (medians of {rounds} interleaved rounds, {n} images); LiteRT's "
          f"gain, wall / CPU; load average now {os.getloadavg()[0]:.1f}\n")
    print(f"| px | Keras predict (32) | Keras compiled call (32) | {chosen} | vs predict | vs call |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


def _litert_at(size: int, n: int, rounds: int, cores: int, chosen: str) -> str:
    """One image size of :func:`litert_vs_keras`: export, interleaved timings; the summary row."""
    from course_utils import backbones, features, litert

    base = backbones.load_backbone("mobilenet_v2", size, pooling="avg", verbose=False)
    x = np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    xf = backbones.preprocess("mobilenet_v2", x)
    forward = features.forward_function(base, "mobilenet_v2", "uint8")
    start, cpu = time.perf_counter(), _cpu()
    with tempfile.TemporaryDirectory() as tmp:
        exported = litert.export(forward, Path(tmp) / "base.tflite")
    print(f"\n{size} px: exported in {time.perf_counter() - start:.1f} s wall, {_cpu() - cpu:.1f} CPU s "
          "(tracing, conversion, the check against Keras)")

    def run(fn, bs):
        return lambda: [fn(x[i:i + bs]) for i in range(0, n, bs)]

    variants = {"Keras predict, batch 32": lambda: base.predict(xf, batch_size=32, verbose=0),
                "Keras compiled call, batch 32": run(lambda b: forward(b).numpy(), 32)}
    for bs in (2, 4, 8, 16, 32):
        variants[f"LiteRT, batch {bs}, {cores} interpreters x 1 thread"] = run(
            litert.Runner(exported.source, cores, split=True), bs)
    for bs in (1, 4, 8):
        variants[f"LiteRT, batch {bs}, 1 interpreter x {cores} threads"] = run(
            litert.Runner(exported.source, cores, split=False), bs)
    variants[f"LiteRT, batch {litert.BATCH_SIZE}, 1 interpreter x 1 thread"] = run(
        litert.Runner(exported.source, 1), litert.BATCH_SIZE)
    medians = interleave(variants, rounds, n)
    (predict, predict_cpu), (call, call_cpu) = (medians["Keras predict, batch 32"],
                                                medians["Keras compiled call, batch 32"])
    lite, lite_cpu = medians[chosen]
    return (f"| {size} | {n / predict:.0f} / {1000 * predict_cpu / n:.1f} | {n / call:.0f} / "
            f"{1000 * call_cpu / n:.1f} | {n / lite:.0f} / {1000 * lite_cpu / n:.1f} | "
            f"{predict / lite:.2f}x / {predict_cpu / lite_cpu:.2f}x | "
            f"{call / lite:.2f}x / {call_cpu / lite_cpu:.2f}x |")


def pipeline(n: int, rounds: int) -> None:
    """Photos on disk -> features, cold cache: old path, lessons' path, streaming paths, limits."""
    from course_utils import backbones, features, images

    files = _files(n)
    listing = {"cats": [f for f in files if f.parent.name == "cats"],
               "dogs": [f for f in files if f.parent.name == "dogs"]}
    root = files[0].parent.parent
    base = backbones.load_backbone("mobilenet_v2", SIZE, pooling="avg", verbose=False)
    cache = Path(tempfile.mkdtemp())
    x_limit = backbones.preprocess("mobilenet_v2", images.load_image_folder(
        root, SIZE, files=listing, verbose=False)[0])
    limit_forward = features.forward_function(base)
    litert_forward = features.frozen_forward(base, runtime=features.Runtime.LITERT, verbose=False)

    def cold():
        for f in cache.iterdir():
            f.unlink()
        return cache

    def old():
        x, _, _ = images.load_image_folder(root, SIZE, files=listing, verbose=False, workers=1)
        xf = backbones.preprocess("mobilenet_v2", x)
        features.fingerprint(base, xf)
        return base.predict(xf, batch_size=64, verbose=0)

    def lessons(bs):
        def run():
            x, _, _ = images.load_image_folder(root, SIZE, files=listing, verbose=False)
            return features.extract_features(base, x, bs, cache_dir=cold(), verbose=False,
                                             preprocess="mobilenet_v2")
        return run

    def streaming(bs, runtime):
        return lambda: features.folder_features(base, files, SIZE, "mobilenet_v2", bs, cache_dir=cold(),
                                                verbose=False, runtime=runtime)

    def pool_fed(bs):
        """Before Runner.map: a decoding pool feeds batches that are split between the interpreters."""
        def run():
            return [litert_forward(x) for x, _, _ in images.image_batches(files, SIZE, bs)]
        return run

    def limit(forward, bs):
        return lambda: [np.asarray(forward(x_limit[i:i + bs])) for i in range(0, n, bs)]

    keras, fast, lite_batch = features.Runtime.KERAS, features.Runtime.LITERT, litert_forward.batch_size
    per_core = "streaming: folder_features, LiteRT, each core decodes and runs its files"
    pool_fed_name = f"streaming: decoding pool + split batches of {lite_batch}, LiteRT"
    interleave({"Keras limit: bare forward pass, batch 32": limit(limit_forward, 32),
                "old: sequential decode + float copy + predict(64)": old,
                "lessons: load_images + extract_features(uint8), LiteRT": lessons(None),
                "streaming: folder_features, Keras, batch 32": streaming(32, keras),
                per_core: streaming(None, fast),
                pool_fed_name: pool_fed(lite_batch),
                f"LiteRT limit: bare forward pass, batch {lite_batch}": limit(litert_forward, lite_batch)},
               rounds, n, paired=(per_core, pool_fed_name))


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["decoders", "batch", "litert", "pipeline"])
    parser.add_argument("--n", type=int, default=400, help="photos per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="96,128,160,224", help="litert: image sizes, comma-separated")
    args = parser.parse_args(argv)
    print(f"{args.what}: {args.n} photos, {args.rounds} rounds, load average "
          f"{os.getloadavg()[0]:.1f} at the start", flush=True)
    if args.what == "litert":
        litert_vs_keras(args.n, args.rounds, [int(v) for v in args.sizes.split(",")])
    else:
        {"decoders": decoders, "batch": batch_sizes, "pipeline": pipeline}[args.what](args.n, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
