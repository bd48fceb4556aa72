"""Benchmark: the TensorFlow transfer-learning tutorial's recipe vs the course's, and bare forward passes.

All rows classify (or featurise) cats vs dogs (2,000 training photos, 1,000 validation photos: the
tutorial's ``cats_and_dogs_filtered``) with MobileNetV2 ImageNet weights, on the same machine, in
one invocation, each run in its own fresh Python process, and report wall time (after imports),
CPU seconds (user + sys; for the bare passes, of the timed pass alone) and the load average while
it ran.

1. ``replica``: a faithful replica of https://www.tensorflow.org/tutorials/images/transfer_learning:
   160 px, batch 32, ``RandomFlip('horizontal')`` + ``RandomRotation(0.2)``, MobileNetV2's
   ``preprocess_input``, the frozen base called with ``training=False`` inside ``fit``,
   GlobalAveragePooling + Dropout(0.2) + Dense(1) logits with ``BinaryCrossentropy(from_logits=True)``,
   an initial ``evaluate``, 10 epochs at Adam 1e-4, then ``fine_tune_at = 100`` and 10 more epochs at
   RMSprop 1e-5, validating after every epoch. Difference: the tutorial moves 20% of the validation
   set into a test set; here all 1,000 validation photos are the validation set for both recipes.
   Wall time includes data loading, model building and every forward pass. Run once.
2. ``course``: the course's recipe (lessons 03-04, and the capstone's pipeline): MobileNetV2
   features at 224 px computed once by ``features.folder_features`` straight from the photo folders
   (the forward pass runs where the course runs it by default: LiteRT with XNNPACK, each core's
   thread decoding with Pillow the photos it then runs, see ``course_utils/litert.py``), with a cold,
   empty cache (a fresh ``COURSE_CACHE``: every photo is decoded and featurised, and the backbone
   is exported to LiteRT, all timed), then a Dropout + Dense(1, sigmoid) head trained on the
   features for 30 epochs of batches of 32, reshuffled every epoch, all in one traced call
   (``steps_per_execution``, as lesson 10 trains its heads). No fine-tuning: it does not pay for
   itself here. Wall time includes building the backbone (weights from disk), exporting it,
   decoding, the forward passes, the head and its validation. Run ``--repeats`` times (default 3,
   head seeds 42, 43, ...): median and range.
3. ``keras``: one bare Keras forward pass of the same backbone (the compiled call, batch 32) over
   the same number of images (3,000) at the same size, from preprocessed pixels already in memory;
   the model is built and traced before the clock starts. The reference the course recipe is
   measured against.
4. ``litert``: the same bare forward pass in LiteRT (the exported file, XNNPACK, its batch size,
   every core), the model exported before the clock starts. Nothing the course recipe does can
   be faster than this.

The bare passes run as often as the course recipe, interleaved with it (keras, litert, course,
keras, ...), so a change in the machine's load hits all alike. The ratios printed, each as the
median over median and the range of the run-by-run ratios of the interleaved triples: course /
keras, litert / keras, course / litert; and course / replica.

Usage (from the repository root, with ``COURSE_MIRROR`` set for offline weights and photos)::

    python bench/cats_vs_dogs.py                      # all three rows (replica: ~10+ min on 2 cores)
    python bench/cats_vs_dogs.py --quick              # smoke check: subsets, 1 epoch per phase
    python bench/cats_vs_dogs.py --only course        # the course recipe and the bare passes only
    python bench/cats_vs_dogs.py --out results.md     # also write the Markdown table (and results.json)
    python bench/cats_vs_dogs.py --render results.json --replica-seconds 526   # the table again, no runs
    python bench/cats_vs_dogs.py --only course --replica-seconds 626   # ratio against a known time

Targets: the course's recipe (cold cache) in <= 0.6x one bare Keras forward pass, at >= 97.5%
validation accuracy on every run, and in <= 1/5 of the replica's time; LiteRT's bare pass in
<= 0.5x Keras' (twice the throughput).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARGET_ACCURACY = 0.975
TARGET_RATIO = 0.2
TARGET_KERAS_RATIO = 0.6
TARGET_LITERT_RATIO = 0.5
SIZE = 224

RECIPES = {
    "replica": "TF tutorial replica: 160 px, frozen base inside fit + augmentation, "
               "then fine-tune from layer 100",
    "course": "course (lessons 03-04): 224-px MobileNetV2 features computed once from the photo "
              "folders (cold cache, LiteRT export included) + Keras head",
    "keras": "Keras: one bare forward pass of the same MobileNetV2 over as many images, 224 px",
    "litert": "LiteRT: the same bare forward pass, exported, XNNPACK",
}


def run_replica(quick: bool, seed: int) -> dict:
    """The tutorial's recipe, step by step; returns wall time and validation accuracy."""
    import keras
    import tensorflow as tf

    from course_utils import backbones, datasets

    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    root = datasets.dataset_root("cats_and_dogs")
    batch_size, img_size = 32, (160, 160)
    train_dataset = keras.utils.image_dataset_from_directory(
        root / "train", shuffle=True, batch_size=batch_size, image_size=img_size, seed=seed)
    validation_dataset = keras.utils.image_dataset_from_directory(
        root / "validation", shuffle=True, batch_size=batch_size, image_size=img_size, seed=seed)
    if quick:
        train_dataset, validation_dataset = train_dataset.take(4), validation_dataset.take(2)
    train_dataset = train_dataset.prefetch(buffer_size=tf.data.AUTOTUNE)
    validation_dataset = validation_dataset.prefetch(buffer_size=tf.data.AUTOTUNE)

    data_augmentation = keras.Sequential([
        keras.layers.RandomFlip("horizontal"),
        keras.layers.RandomRotation(0.2),
    ])
    preprocess_input = keras.applications.mobilenet_v2.preprocess_input
    # weights="imagenet" offline: the 224-px file loaded into a 160-px model (see load_backbone).
    base_model = backbones.load_backbone("mobilenet_v2", 160, verbose=False)
    base_model.trainable = False
    global_average_layer = keras.layers.GlobalAveragePooling2D()
    prediction_layer = keras.layers.Dense(1)

    inputs = keras.Input(shape=(160, 160, 3))
    x = data_augmentation(inputs)
    x = preprocess_input(x)
    x = base_model(x, training=False)
    x = global_average_layer(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = prediction_layer(x)
    model = keras.Model(inputs, outputs)

    base_learning_rate = 0.0001
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=base_learning_rate),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")])
    initial_epochs = 1 if quick else 10
    model.evaluate(validation_dataset, verbose=0)
    history = model.fit(train_dataset, epochs=initial_epochs, validation_data=validation_dataset,
                        verbose=2)
    frozen_accuracy = history.history["val_accuracy"][-1]

    base_model.trainable = True
    fine_tune_at = 100
    for layer in base_model.layers[:fine_tune_at]:
        layer.trainable = False
    model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.RMSprop(learning_rate=base_learning_rate / 10),
                  metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")])
    fine_tune_epochs = 1 if quick else 10
    history_fine = model.fit(train_dataset, epochs=initial_epochs + fine_tune_epochs,
                             initial_epoch=len(history.epoch), validation_data=validation_dataset,
                             verbose=2)
    seconds = time.perf_counter() - start
    n_train = sum(int(b[1].shape[0]) for b in train_dataset)
    n_val = sum(int(b[1].shape[0]) for b in validation_dataset)
    return {"seconds": seconds, "accuracy": float(history_fine.history["val_accuracy"][-1]),
            "detail": f"{initial_epochs} + {fine_tune_epochs} epochs; after the frozen phase "
                      f"{frozen_accuracy:.3f}", "n_train": n_train, "n_val": n_val}


def _course_files(quick: bool):
    """The photo listings of both splits (a fixed subset of 100 / 50 per class with --quick)."""
    from course_utils import datasets, images

    root = datasets.dataset_root("cats_and_dogs")
    out = []
    for split, n in (("train", 100), ("validation", 50)):
        listing = images.list_image_files(root / split)
        if quick:
            keep = np.concatenate([np.flatnonzero(listing.labels == k)[:n] for k in range(2)])
            listing = images.ImageFiles([listing.files[i] for i in keep], listing.labels[keep],
                                        listing.class_names, listing.report)
        out.append(listing)
    return out


def run_course(quick: bool, seed: int) -> dict:
    """Lessons 03-04: features computed once (cold cache), a Keras head trained on them."""
    import keras
    import tensorflow as tf

    from course_utils import backbones, features

    keras.utils.set_random_seed(seed)
    cache = tempfile.mkdtemp(prefix="bench-course-cache-")
    os.environ["COURSE_CACHE"] = cache  # cold: no cached features, no exported model
    start = time.perf_counter()
    train_files, val_files = _course_files(quick)
    base = backbones.load_backbone("mobilenet_v2", SIZE, pooling="avg", verbose=False)
    base.trainable = False
    built = time.perf_counter()
    forward = features.frozen_forward(base, "mobilenet_v2", "uint8", verbose=False)
    exported = time.perf_counter()
    train = features.folder_features(base, train_files, SIZE, "mobilenet_v2", verbose=False)
    val = features.folder_features(base, val_files, SIZE, "mobilenet_v2", verbose=False)
    feature_seconds = time.perf_counter() - start
    shutil.rmtree(cache, ignore_errors=True)
    head = keras.Sequential([keras.Input((train.features.shape[1],)), keras.layers.Dropout(0.2),
                             keras.layers.Dense(1, activation="sigmoid")])
    # 30 epochs of batches of 32, reshuffled every epoch, all in one traced call (lesson 10's idiom,
    # steps_per_execution): the training of fit(epochs=30), but Keras' fixed cost per epoch
    # (a new iterator, a traced call, callbacks) is paid once instead of 30 times for a
    # 1,281-weight model.
    epochs, steps_per_epoch = 30, -(-len(train) // 32)
    data = (tf.data.Dataset.from_tensor_slices((train.features, train.labels.astype("float32")))
            .shuffle(len(train), reshuffle_each_iteration=True).batch(32).repeat(epochs))
    head.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy",
                 metrics=["accuracy"], steps_per_execution=epochs * steps_per_epoch)
    head.fit(data, epochs=1, verbose=0)
    probabilities = head.predict(val.features, verbose=0).ravel()
    accuracy = float(np.mean((probabilities > 0.5) == val.labels))
    seconds = time.perf_counter() - start
    skipped = len(train.report.skipped) + len(val.report.skipped)
    return {"seconds": seconds, "accuracy": accuracy, "n_train": len(train), "n_val": len(val),
            "feature_seconds": feature_seconds, "export_seconds": forward.export_seconds,
            "parts": {"listing the photos and building the backbone": built - start,
                      "exporting it to LiteRT": exported - built,
                      "decoding and featurising the photos once": start + feature_seconds - exported,
                      "the head (30 epochs) and its predictions": seconds - feature_seconds},
            "detail": f"{forward.name}; {skipped} files skipped"}


def run_bare(quick: bool, runtime: str) -> dict:
    """A bare forward pass: same backbone, as many images, in memory, in Keras or LiteRT."""
    from course_utils import backbones, features, images

    train_files, val_files = _course_files(quick)
    n = len(train_files) + len(val_files)
    base = backbones.load_backbone("mobilenet_v2", SIZE, pooling="avg", verbose=False)
    base.trainable = False
    with tempfile.TemporaryDirectory() as cache:
        os.environ["COURSE_CACHE"] = cache  # LiteRT: exported now, before the clock starts
        forward = features.frozen_forward(base, None, "float32", runtime, verbose=False)
    batch = forward.batch_size
    # Real photos, preprocessed, in memory (128 photos, cycled: the cost of a convolution does not
    # depend on the pixels).
    photos = np.stack([images.read_image(f, SIZE)[0] for f in train_files.files[:128]])
    pool = backbones.preprocess("mobilenet_v2", photos)
    batches = [pool[i:i + batch] for i in range(0, len(pool), batch)]
    forward(batches[0])  # traced (Keras) / planned (LiteRT) before the clock starts
    start, cpu = time.perf_counter(), os.times()
    done = 0
    k = 0
    while done < n:
        x = batches[k % len(batches)][: n - done]
        forward(x)
        done += len(x)
        k += 1
    seconds, end = time.perf_counter() - start, os.times()
    return {"seconds": seconds, "accuracy": None, "n_images": n,
            "cpu_seconds": (end.user - cpu.user) + (end.system - cpu.system),  # the timed pass only
            "detail": f"{n} images, batch {batch}, {n / seconds:.0f} images/s, {forward.name}"}


def run_keras(quick: bool, seed: int) -> dict:
    """The bare forward pass in Keras (the compiled call)."""
    return run_bare(quick, "keras")


def run_litert(quick: bool, seed: int) -> dict:
    """The bare forward pass in LiteRT."""
    return run_bare(quick, "litert")


def child(recipe: str, quick: bool, seed: int, out: Path) -> None:
    """Run one recipe in this process and write its result as JSON, with CPU time and load."""
    import keras  # noqa: F401  (imports are outside the timed window, for wall and CPU time alike)

    load, cpu = os.getloadavg()[0], os.times()
    result = {"replica": run_replica, "course": run_course, "keras": run_keras,
              "litert": run_litert}[recipe](quick, seed)
    end = os.times()
    result.setdefault("cpu_seconds", (end.user - cpu.user) + (end.system - cpu.system))
    result["load"] = (load, os.getloadavg()[0])
    out.write_text(json.dumps(result))


def run_in_subprocess(recipe: str, quick: bool, seed: int) -> dict:
    """Run one recipe in a fresh Python process (no shared TF state), return its result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", recipe, "--seed", str(seed),
               "--json", str(out)] + (["--quick"] if quick else [])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                                          os.environ.get("PYTHONPATH")])))
        print(f"running {recipe} (seed {seed}) ...", flush=True)
        subprocess.run(cmd, check=True, env=env)
        result = json.loads(out.read_text())
        print(f"  {recipe}: {result['seconds']:.1f} s wall, {result['cpu_seconds']:.0f} CPU s, load "
              f"{result['load'][0]:.1f} -> {result['load'][1]:.1f}"
              + (f", accuracy {result['accuracy']:.3f}" if result.get("accuracy") is not None else ""),
              flush=True)
        return result


def _spread(values: list[float], fmt: str = "{:.0f}") -> str:
    return f"{fmt.format(float(np.median(values)))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def _ratio(results: dict, top: str, bottom: str, key: str = "seconds") -> tuple[float, list[float]]:
    """``top`` / ``bottom``: median over median, and the run-by-run ratios of the interleaved runs."""
    a, b = [r[key] for r in results[top]], [r[key] for r in results[bottom]]
    return float(np.median(a) / np.median(b)), [x / y for x, y in zip(a, b, strict=False)]


def _cpu_ratio(results: dict, top: str, bottom: str) -> str:
    ratio, pairs = _ratio(results, top, bottom, "cpu_seconds")
    return f"CPU seconds {ratio:.2f}x (run by run {min(pairs):.2f}-{max(pairs):.2f}x)"


def _verdict(value: float, target: float) -> str:
    return f"target <= {target}: {'met' if value <= target else 'NOT met'}"


def markdown(results: dict, quick: bool, replica_seconds: float | None) -> str:
    """The results as a Markdown table, with the ratios and the targets.

    ``results`` maps a recipe to a list of runs (the course and the bare passes run several times).
    """
    import tensorflow as tf

    from course_utils import litert

    loads = [x for runs in results.values() for r in runs for x in r["load"]]
    lines = [f"Cats vs dogs, MobileNetV2 ImageNet weights; {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, LiteRT {litert.version()}; "
             f"load average during the runs {min(loads):.1f}-{max(loads):.1f}"
             + (" — QUICK run (subsets, 1 epoch per phase): not a result" if quick else ""),
             "",
             "| row | photos | runs | wall time, median (range) | CPU s (user+sys) | val accuracy | notes |",
             "|---|---|---|---|---|---|---|"]
    for name, runs in results.items():
        first = runs[0]
        photos = (f"{first['n_images']} images" if "n_images" in first
                  else f"{first['n_train']} / {first['n_val']}")
        wall = _spread([r["seconds"] for r in runs])
        cpu = _spread([r["cpu_seconds"] for r in runs])
        accs = [r["accuracy"] for r in runs if r.get("accuracy") is not None]
        acc = "–" if not accs else (f"{accs[0]:.3f}" if len(accs) == 1 else _spread(accs, "{:.3f}"))
        load = ", ".join(f"{r['load'][0]:.1f}→{r['load'][1]:.1f}" for r in runs)
        parts = ", ".join(f"{np.median([r['parts'][k] for r in runs]):.1f} s {k}"
                          for k in first.get("parts", {}))
        lines.append(f"| {RECIPES[name]} | {photos} | {len(runs)} | {wall} s | {cpu} | {acc} | "
                     f"{f'medians: {parts}; ' if parts else ''}{first['detail']}; load {load} |")
    lines.append("")
    if "course" in results:
        ratio, pairs = _ratio(results, "course", "keras")
        acc = min(r["accuracy"] for r in results["course"])
        met = "met" if acc >= TARGET_ACCURACY else "NOT met"
        lines.append(f"Course / Keras' bare pass: **{ratio:.2f}x** wall (run by run {min(pairs):.2f}-"
                     f"{max(pairs):.2f}x), {_verdict(ratio, TARGET_KERAS_RATIO)}; "
                     f"{_cpu_ratio(results, 'course', 'keras')}; lowest course "
                     f"accuracy {acc:.3f}, target >= {TARGET_ACCURACY}: {met}.")
        ratio, pairs = _ratio(results, "litert", "keras")
        verdict = _verdict(ratio, TARGET_LITERT_RATIO)
        lines.append(f"LiteRT's bare pass / Keras': **{ratio:.2f}x** wall ({1 / ratio:.2f}x the throughput; "
                     f"run by run {min(pairs):.2f}-{max(pairs):.2f}x), {verdict}; "
                     f"{_cpu_ratio(results, 'litert', 'keras')}.")
        ratio, pairs = _ratio(results, "course", "litert")
        lines.append(f"Course / LiteRT's bare pass: **{ratio:.2f}x** wall (run by run {min(pairs):.2f}-"
                     f"{max(pairs):.2f}x), {_cpu_ratio(results, 'course', 'litert')}: what decoding, "
                     "exporting, building and the head add.")
        lines.append("CPU seconds of the bare passes cover the timed pass alone; the course's, all of it. "
                     "With other jobs running (load above the core count) compare CPU seconds: wall time "
                     "then depends on how many threads each process has.")
    reference = results["replica"][0]["seconds"] if "replica" in results else replica_seconds
    if "course" in results and reference:
        ratio = np.median([r["seconds"] for r in results["course"]]) / reference
        source = "measured above" if "replica" in results else "given with --replica-seconds"
        lines.append(f"Course / replica: **{ratio:.3f}** (1/{1 / ratio:.1f}; replica {reference:.0f} s, "
                     f"{source}), {_verdict(ratio, TARGET_RATIO)}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the recipes, print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="subsets, 1 epoch per phase (smoke check)")
    parser.add_argument("--only", choices=["replica", "course"],
                        help="run one recipe only (course: with the bare passes)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of the course recipe and of each bare pass (interleaved)")
    parser.add_argument("--out", type=Path, help="also write the Markdown table to this file, and every "
                                                 "run's measurements next to it (.json)")
    parser.add_argument("--render", type=Path, help="print the table of an earlier run's .json; runs nothing")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--replica-seconds", type=float,
                        help="with --only course: the replica's time from an earlier run, for the ratio")
    parser.add_argument("--child", choices=list(RECIPES), help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.quick, args.seed, args.json)
        return 0
    if args.render:
        saved = json.loads(args.render.read_text())
        print(markdown(saved["results"], saved["quick"], args.replica_seconds))
        return 0
    results = {}
    if args.only != "course":
        results["replica"] = [run_in_subprocess("replica", args.quick, args.seed)]
    if args.only != "replica":
        results["keras"], results["litert"], results["course"] = [], [], []
        for i in range(args.repeats):
            for recipe in ("keras", "litert", "course"):
                results[recipe].append(run_in_subprocess(recipe, args.quick, args.seed + i))
    table = markdown(results, args.quick, args.replica_seconds)
    print("\n" + table)
    if args.out:
        args.out.write_text(table)
        args.out.with_suffix(".json").write_text(json.dumps({"quick": args.quick, "results": results}))
        print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
