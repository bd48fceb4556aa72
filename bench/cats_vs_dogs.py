"""Benchmark: the TensorFlow transfer-learning tutorial's recipe vs the course's (lessons 03-04).

Both recipes classify cats vs dogs (2,000 training photos, 1,000 validation photos: the tutorial's
``cats_and_dogs_filtered``) with MobileNetV2 ImageNet weights, on the same machine, each in its own
fresh Python process, and report wall time (after imports, including data loading, model building
and every forward pass), validation accuracy and the ratio of the times.

1. ``replica``: a faithful replica of https://www.tensorflow.org/tutorials/images/transfer_learning:
   160 px, batch 32, ``RandomFlip('horizontal')`` + ``RandomRotation(0.2)``, MobileNetV2's
   ``preprocess_input``, the frozen base called with ``training=False`` inside ``fit``,
   GlobalAveragePooling + Dropout(0.2) + Dense(1) logits with ``BinaryCrossentropy(from_logits=True)``,
   an initial ``evaluate``, 10 epochs at Adam 1e-4, then ``fine_tune_at = 100`` and 10 more epochs at
   RMSprop 1e-5, validating after every epoch. Difference: the tutorial moves 20% of the validation
   set into a test set; here all 1,000 validation photos are the validation set for both recipes.
2. ``course``: lessons 03-04's recipe: MobileNetV2 features at 224 px computed once (a cold,
   empty feature cache, so the forward pass is paid and timed), then a Dropout + Dense(1, sigmoid)
   head trained on the cached features. No fine-tuning: it does not pay for itself here.

Usage (from the repository root, with ``COURSE_MIRROR`` set for offline weights and photos)::

    python bench/cats_vs_dogs.py                      # both, full size (replica: ~20+ min on 2 cores)
    python bench/cats_vs_dogs.py --quick              # smoke check: subsets, 1 epoch per phase
    python bench/cats_vs_dogs.py --only course        # one recipe only
    python bench/cats_vs_dogs.py --out results.md     # also write the Markdown table to a file
    python bench/cats_vs_dogs.py --only course --replica-seconds 1380   # ratio against a known time

Targets: the course's recipe reaches >= 97.5% validation accuracy in <= 1/5 of the replica's time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_ACCURACY = 0.975
TARGET_RATIO = 0.2

RECIPES = {
    "replica": "TF tutorial replica: 160 px, frozen base inside fit + augmentation, "
               "then fine-tune from layer 100",
    "course": "course (lessons 03-04): 224-px MobileNetV2 features computed once + Keras head",
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


def run_course(quick: bool, seed: int) -> dict:
    """Lessons 03-04: features computed once (cold cache), a Keras head trained on them."""
    import keras
    import numpy as np

    from course_utils import backbones, datasets, features

    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    size = 224
    per_train, per_val = (100, 50) if quick else (None, None)
    train = datasets.load_images("cats_and_dogs", "train", size, per_class=per_train, seed=seed,
                                 verbose=False)
    val = datasets.load_images("cats_and_dogs", "validation", size, per_class=per_val, seed=seed,
                               verbose=False)
    base = backbones.load_backbone("mobilenet_v2", size, pooling="avg", verbose=False)
    base.trainable = False
    with tempfile.TemporaryDirectory() as cache:  # a cold cache: the forward pass is timed
        train_features = features.extract_features(
            base, backbones.preprocess("mobilenet_v2", train.x), cache_dir=Path(cache), verbose=False)
        val_features = features.extract_features(
            base, backbones.preprocess("mobilenet_v2", val.x), cache_dir=Path(cache), verbose=False)
    feature_seconds = time.perf_counter() - start
    head = keras.Sequential([keras.Input((train_features.shape[1],)), keras.layers.Dropout(0.2),
                             keras.layers.Dense(1, activation="sigmoid")])
    head.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy",
                 metrics=["accuracy"])
    head.fit(train_features, train.y, epochs=30, batch_size=32, verbose=0)
    probabilities = head.predict(val_features, verbose=0).ravel()
    accuracy = float(np.mean((probabilities > 0.5) == val.y))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "accuracy": accuracy, "n_train": len(train), "n_val": len(val),
            "detail": f"{feature_seconds:.0f} s loading photos + computing features once (cold cache), "
                      "head 30 epochs"}


def child(recipe: str, quick: bool, seed: int, out: Path) -> None:
    """Run one recipe in this process and write its result as JSON."""
    result = {"replica": run_replica, "course": run_course}[recipe](quick, seed)
    out.write_text(json.dumps(result))


def run_in_subprocess(recipe: str, quick: bool, seed: int) -> dict:
    """Run one recipe in a fresh Python process (no shared TF state), return its result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", recipe, "--seed", str(seed),
               "--json", str(out)] + (["--quick"] if quick else [])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                                          os.environ.get("PYTHONPATH")])))
        print(f"running {recipe} ...", flush=True)
        subprocess.run(cmd, check=True, env=env)
        return json.loads(out.read_text())


def markdown(results: dict, quick: bool, replica_seconds: float | None) -> str:
    """The results as a Markdown table, with the ratio and the targets."""
    import tensorflow as tf

    lines = [f"Cats vs dogs, MobileNetV2 ImageNet weights; {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPU cores, TensorFlow {tf.__version__}"
             + (" — QUICK run (subsets, 1 epoch per phase): not a result" if quick else ""),
             "",
             "| recipe | train / val photos | wall time | val accuracy | notes |",
             "|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {RECIPES[name]} | {r['n_train']} / {r['n_val']} | {r['seconds']:.0f} s "
                     f"({r['seconds'] / 60:.1f} min) | {r['accuracy']:.3f} | {r['detail']} |")
    reference = results["replica"]["seconds"] if "replica" in results else replica_seconds
    if "course" in results and reference:
        ratio = results["course"]["seconds"] / reference
        acc = results["course"]["accuracy"]
        source = "measured above" if "replica" in results else "given with --replica-seconds"
        lines += ["", f"Course time / replica time: **{ratio:.3f}** (1/{1 / ratio:.1f}; replica "
                      f"{reference:.0f} s, {source}). Targets: ratio <= {TARGET_RATIO} "
                      f"({'met' if ratio <= TARGET_RATIO else 'NOT met'}), course accuracy >= "
                      f"{TARGET_ACCURACY} ({'met' if acc >= TARGET_ACCURACY else 'NOT met'})."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the recipes, print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="subsets, 1 epoch per phase (smoke check)")
    parser.add_argument("--only", choices=list(RECIPES), help="run one recipe only")
    parser.add_argument("--out", type=Path, help="also write the Markdown table to this file")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--replica-seconds", type=float,
                        help="with --only course: the replica's time from an earlier run, for the ratio")
    parser.add_argument("--child", choices=list(RECIPES), help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.quick, args.seed, args.json)
        return 0
    recipes = [args.only] if args.only else ["replica", "course"]
    results = {name: run_in_subprocess(name, args.quick, args.seed) for name in recipes}
    table = markdown(results, args.quick, args.replica_seconds)
    print("\n" + table)
    if args.out:
        args.out.write_text(table)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
