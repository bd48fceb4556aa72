"""Frozen-base features, computed once and cached on disk: never pay for a frozen base twice.

Two front doors, one forward pass (:func:`frozen_forward`: the preprocessing, then
``model(x, training=False)``):

- :func:`extract_features` takes images already in memory (the lessons' NumPy arrays). Pass
  raw uint8 pixels with ``preprocess="mobilenet_v2"`` (a backbone name from
  :mod:`course_utils.backbones`, or a function) and the backbone's own ``preprocess_input``
  runs batch by batch inside the forward pass: no float32 copy of the whole set is made, and the
  cache key hashes the uint8 pixels (a quarter of the bytes).
- :func:`folder_features` takes a folder ``root/<class>/<image>`` (or a list of files) and
  streams it from disk, Pillow decoding and resizing alongside the network: in LiteRT each core
  decodes its next file and runs it through its own interpreter (``litert.Runner.map``), in
  Keras a thread pool (:func:`course_utils.images.image_batches`) decodes while the forward pass
  runs on the previous batch. Either way memory holds a few batches whatever the folder's
  size. Its cache key is the files' paths, sizes and modification times (no pixel is hashed), and
  the cached entry remembers which files were skipped and why, so a cache hit reports them too.

Both are content-keyed: the key covers the model (architecture, input size, every weight), the
inputs and the preprocessing, so changing any of them computes anew and nothing stale is reused.

Where the forward pass runs (:class:`Runtime`): by default in LiteRT with its XNNPACK CPU kernels
(:mod:`course_utils.litert`: the same graph Keras runs, exported once and cached, about half the
CPU time per image), and in Keras where LiteRT is not installed, has no wheel for the platform,
or cannot convert the model (said once). Keras is the reference: both give the same features
within ``litert.TOLERANCE`` (tested on real photos), so a cached array serves either.
``COURSE_FEATURES_RUNTIME=keras`` (or ``runtime=Runtime.KERAS``) forces Keras.

Why not ``model.predict``: a direct call of one compiled function per batch does the same work
without predict's per-call set-up (a data adapter and a fresh iterator each call), and lets
decoding overlap with the network. :data:`DEFAULT_BATCH_SIZE` was measured on the course's
2-core CPU (see :func:`time_batch_sizes` to measure yours).
"""

from __future__ import annotations

import enum
import hashlib
import inspect
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_utils import assets, litert
from course_utils.files import replace_with
from course_utils.images import FolderReport, ImageFiles, image_batches, list_image_files, try_read

# Measured on the course's 2-core CPU, MobileNetV2 at 224 px (bench/feature_pipeline.py batch):
# batches of 64 take 1.4x the wall time per image of 32 (61 vs 84 images/s on an idle machine;
# 1.40x again under load 9-12), while 8, 16, 24, 32 and 48 are within noise of each other and
# cost the same CPU time per image. model.predict at batch 32 took 1.7x the compiled call's time
# on 128 images (its per-call set-up). This is Keras' batch size; LiteRT's is litert.BATCH_SIZE.
DEFAULT_BATCH_SIZE = 32
RUNTIME_ENV = "COURSE_FEATURES_RUNTIME"


class Runtime(enum.Enum):
    """Where a frozen base runs: ``AUTO`` (LiteRT where it can, else Keras), ``LITERT`` or ``KERAS``."""

    AUTO = "auto"
    LITERT = "litert"
    KERAS = "keras"


def _architecture(model) -> str:
    """Every layer's class and configuration, in order, without names (Keras numbers them per session).

    Covers what weights and shapes do not: the pooling (average and max give the same shapes),
    activations, padding. Nested models are walked; a layer whose configuration cannot be read
    contributes its class. Kept on the model while its layers stay the same objects (reading
    MobileNetV2's 156 configurations takes about 20 ms, half a cache hit).
    """
    layers = tuple(id(layer) for layer in getattr(model, "layers", []))
    held = model.__dict__.get("_course_architecture")
    if held is not None and held[0] == layers:
        return held[1]
    parts: list[str] = []

    def walk(layer) -> None:
        inner = getattr(layer, "layers", None)
        if isinstance(inner, list) and inner:
            parts.append(f"{type(layer).__qualname__}[")
            for sub in inner:
                walk(sub)
            parts.append("]")
            return
        try:
            config = {k: v for k, v in layer.get_config().items() if k not in ("name", "trainable")}
        except Exception:
            config = {}
        parts.append(type(layer).__qualname__ + json.dumps(config, sort_keys=True,
                                                           default=lambda o: type(o).__qualname__))

    walk(model)
    text = "\n".join(parts)
    model.__dict__["_course_architecture"] = (layers, text)  # plain attribute: not tracked by Keras
    return text


def model_digest(model) -> str:
    """A key for the model: name, input and output shapes, architecture and every weight value."""
    h = hashlib.sha256()
    h.update(model.name.encode())
    h.update(str(model.input_shape).encode())
    h.update(str(model.output_shape).encode())
    h.update(_architecture(model).encode())
    for w in model.weights:
        h.update(np.ascontiguousarray(w.numpy()))
    return h.hexdigest()


def fingerprint(model, images: np.ndarray, extra: str = "") -> str:
    """Return a key for (model architecture + weights, input images, extra text).

    The key covers the backbone, its input size, every weight value and every
    input pixel, so changing any of them computes new features, and nothing
    stale is ever reused. Hashing reads the array in place (no copy); raw uint8
    pixels hash four times faster than their float32 preprocessed copy.
    """
    return _images_key(model_digest(model), images, extra)


def _images_key(digest: str, images: np.ndarray, extra: str) -> str:
    h = hashlib.sha256(digest.encode())
    arr = np.ascontiguousarray(images)
    h.update(str((arr.shape, arr.dtype)).encode())
    try:
        h.update(arr.reshape(-1).view(np.uint8))  # the array's own bytes, no copy
    except (TypeError, ValueError):  # object arrays (images of different sizes)
        h.update(arr.tobytes())
    h.update(extra.encode())
    return h.hexdigest()[:24]


def files_fingerprint(model, files: Sequence[Path], extra: str = "") -> str:
    """Return a key for (model architecture + weights, files by path, size and mtime, extra text).

    Reads no pixel: a file that is replaced, edited, renamed or touched gets a new key. (Only a
    deliberate edit that restores both the size and the modification time would go unnoticed.)
    """
    return _files_key(model_digest(model), files, extra)


def _files_key(digest: str, files: Sequence[Path], extra: str) -> str:
    h = hashlib.sha256(digest.encode())
    for path in files:
        path = Path(path).resolve()
        try:
            st = path.stat()
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError as exc:  # reported when read; the key must still be stable
            h.update(f"{path}\0missing {type(exc).__name__}\n".encode())
    h.update(extra.encode())
    return h.hexdigest()[:24]


def _preprocessor(preprocess: str | Callable | None) -> tuple[Callable | None, str]:
    """Return ``(function or None, cache-key text)`` for a backbone name or a function."""
    if preprocess is None:
        return None, ""
    if isinstance(preprocess, str):
        from course_utils import backbones

        return backbones.preprocess_function(preprocess), f"|preprocess={backbones.get(preprocess).module}"
    code = getattr(preprocess, "__code__", None)
    try:
        source = inspect.getsource(preprocess)
    except (OSError, TypeError):
        source = repr(code.co_code if code is not None else preprocess)
    name = f"{getattr(preprocess, '__module__', '')}.{getattr(preprocess, '__qualname__', '')}"
    return preprocess, f"|preprocess={name}:{hashlib.sha256(source.encode()).hexdigest()[:12]}"


def forward_function(model, preprocess: str | Callable | None = None, dtype: str = "float32",
                     image_shape: tuple[int, ...] | None = None):
    """Return ``model(preprocess(x), training=False)`` compiled with ``tf.function``, for ``dtype`` input.

    One compiled graph per (model, preprocessing, input dtype), traced once for any batch size and
    kept on the model, so later calls skip the tracing. Batches are cast to float32 inside the
    graph; ``preprocess`` (a backbone name or a function of a float32 tensor) runs there too.
    ``image_shape`` (one image's shape) fixes the input size of a model built without one.
    """
    import tensorflow as tf

    fn, key = _preprocessor(preprocess)
    store = model.__dict__.setdefault("_course_forward", {})  # plain attribute: not tracked by Keras
    slot = (key, np.dtype(dtype).name, tuple(image_shape) if image_shape else None)
    if slot not in store:
        try:
            signature = [tf.TensorSpec((None, *(image_shape or model.input_shape[1:])), dtype)]
        except (AttributeError, ValueError, TypeError):
            signature = None

        @tf.function(input_signature=signature, reduce_retracing=True)
        def forward(x):
            x = tf.cast(x, tf.float32)
            if fn is not None:
                x = fn(x)
            return model(x, training=False)

        store[slot] = forward
    return store[slot]


@dataclass(frozen=True)
class FrozenForward:
    """A frozen base's forward pass, ready to call on batches: ``forward(batch) -> features``.

    ``runtime`` is where it runs (``Runtime.LITERT`` or ``Runtime.KERAS``), ``name`` says it in
    words (e.g. ``"LiteRT 2.3.0 (XNNPACK, 2 cores)"``), ``batch_size`` is the batch that runtime
    was measured fastest at, ``export_seconds`` the time spent exporting the base just now (0 when
    a cached export was used, or for Keras).
    """

    runtime: Runtime
    name: str
    batch_size: int
    run: Callable[[np.ndarray], np.ndarray]
    export_seconds: float = 0.0

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.run(batch)


_ANNOUNCED: set[str] = set()


def _say_once(message: str) -> None:
    """Print ``message`` the first time this process sees it."""
    if message not in _ANNOUNCED:
        _ANNOUNCED.add(message)
        print(message)


def _keras_forward(model, preprocess, dtype: str) -> FrozenForward:
    import keras
    import tensorflow as tf

    fn = forward_function(model, preprocess, dtype)
    return FrozenForward(Runtime.KERAS, f"Keras {keras.__version__} (TensorFlow {tf.__version__})",
                         DEFAULT_BATCH_SIZE, lambda batch: fn(batch).numpy())


def _fixed_shape(model, image_shape: Sequence[int] | None) -> tuple[int, ...] | None:
    """One input image's shape for export: the model's own, or ``image_shape`` where the model has None."""
    try:
        own = tuple(model.input_shape[1:])
    except (AttributeError, TypeError):
        return None
    if None not in own or image_shape is None:
        return None
    given = tuple(int(d) for d in image_shape)
    if len(given) != len(own) or any(o is not None and o != g for o, g in zip(own, given, strict=True)):
        raise ValueError(f"images of shape {given} do not fit the model's input {own}")
    return given


def _litert_forward(model, preprocess, dtype: str, digest: str | None, verbose: bool,
                    image_shape: Sequence[int] | None) -> FrozenForward:
    """The model exported to LiteRT (from the cache, or now), kept on the model for later calls."""
    _, preprocess_key = _preprocessor(preprocess)
    shape = _fixed_shape(model, image_shape)
    fixed = f"|shape={shape}" if shape else ""  # a model built without an input size: exported for this one
    key = litert.model_key(digest or model_digest(model), preprocess_key + fixed, dtype)
    store = model.__dict__.setdefault("_course_litert", {})  # plain attribute: not tracked by Keras
    slot = (preprocess_key, dtype, shape)
    held = store.get(slot)
    if held is not None and held[0] == key:
        if isinstance(held[1], Exception):
            raise held[1]
        return held[1]
    name = f"{model.name}-{key}.tflite"
    runner, seconds = None, 0.0
    try:
        found = litert.cached_file(name)
        if found is not None:
            try:
                runner = litert.Runner(found)
            except Exception as exc:  # a damaged or foreign file: export again
                _say_once(f"features: the cached LiteRT file {found} could not be loaded "
                          f"({type(exc).__name__}); exporting the model again")
        if runner is None:
            exported = litert.export(forward_function(model, preprocess, dtype, shape),
                                     litert.cache_folder() / name)
            runner, seconds = litert.Runner(exported.source), exported.seconds
            if verbose:
                where = (f"cached as {exported.cached_as}" if exported.cached_as
                         else "not cached: the folder is not writable")
                print(f"features: exported {model.name} to LiteRT in {seconds:.1f} s ({where})")
    except Exception as exc:
        store[slot] = (key, exc)  # one attempt per model and weights, not one per call
        raise
    forward = FrozenForward(Runtime.LITERT, runner.name, litert.BATCH_SIZE, runner, seconds)
    store[slot] = (key, forward)
    return forward


def frozen_forward(
    model,
    preprocess: str | Callable | None = None,
    dtype: str = "uint8",
    runtime: Runtime | str = Runtime.AUTO,
    verbose: bool = True,
    digest: str | None = None,
    image_shape: Sequence[int] | None = None,
) -> FrozenForward:
    """Return the frozen forward pass ``model(preprocess(x), training=False)`` for ``dtype`` batches.

    ``Runtime.AUTO`` (the default, unless ``COURSE_FEATURES_RUNTIME`` names another) runs it in
    LiteRT where it can: the model is exported once per architecture, weights, input size,
    preprocessing and input dtype, and the file is cached (:mod:`course_utils.litert`). Where
    LiteRT is missing or the model does not convert, it runs in Keras and says so once.
    ``Runtime.LITERT`` raises instead of falling back; ``Runtime.KERAS`` is
    :func:`forward_function`, the reference. ``image_shape`` (one image's shape, e.g.
    ``(160, 160, 3)``) lets a model built without a fixed input size be exported for that size;
    ``digest`` is :func:`model_digest` when the caller has it already. Example::

        forward = features.frozen_forward(base, "mobilenet_v2")
        print(forward.name)                  # LiteRT 2.3.0 (XNNPACK, 2 cores)
        vectors = forward(uint8_photos[:8])  # float32 [8, 1280]
    """
    runtime = Runtime(runtime.value if isinstance(runtime, Runtime) else runtime)
    if runtime is Runtime.AUTO:
        chosen = os.environ.get(RUNTIME_ENV, "").strip().lower() or "auto"
        if chosen not in {r.value for r in Runtime}:
            raise ValueError(f"{RUNTIME_ENV}={chosen!r}: use one of {', '.join(r.value for r in Runtime)}")
        runtime = Runtime(chosen)
    if runtime is Runtime.KERAS:
        return _keras_forward(model, preprocess, dtype)
    reason = litert.unavailable_reason()
    if reason is not None:
        if runtime is Runtime.LITERT:
            raise litert.LiteRTUnavailable(f"LiteRT cannot run here ({reason}); install it with "
                                           f"`pip install {litert.PACKAGE}`, or use Runtime.KERAS")
        _say_once(f"features: LiteRT is not available here ({reason}); the frozen base runs in "
                  "Keras instead (the same features, more CPU time)")
        return _keras_forward(model, preprocess, dtype)
    try:
        return _litert_forward(model, preprocess, dtype, digest, verbose, image_shape)
    except Exception as exc:
        if runtime is Runtime.LITERT:
            raise
        _say_once(f"features: {model.name} could not run in LiteRT ({type(exc).__name__}: "
                  f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); it runs in Keras instead")
        return _keras_forward(model, preprocess, dtype)


def _progress(total: int, verbose: bool):
    """A progress bar redrawn at most once a second: LiteRT's small batches would redraw it hundreds
    of times, and an executed notebook keeps every redraw."""
    if not verbose:
        return None
    import keras

    return keras.utils.Progbar(total, unit_name="image", interval=1.0)


def _cache_folder(cache_dir: Path | None) -> Path:
    return Path(cache_dir) if cache_dir else assets.course_cache_dir() / "features"


def _cached(path: Path, cache_dir: Path | None) -> Path | None:
    """The cached file for ``path``'s name: the writable cache first, then read-only ones.

    Read-only cache folders (``COURSE_CACHE_READONLY``, see :func:`assets.readonly_cache_dirs`),
    such as an instructor's USB copy, are looked in only when ``cache_dir`` is the default.
    """
    layers = [] if cache_dir else [d / "features" / path.name for d in assets.readonly_cache_dirs()]
    return next((found for found in (path, *layers) if found.is_file()), None)


def cached_array(key: str, compute: Callable[[], np.ndarray], cache: bool = True,
                 cache_dir: Path | None = None) -> tuple[np.ndarray, bool]:
    """Return ``(array, computed)``: the array stored under ``key``, or ``compute()`` stored there.

    ``key`` must cover everything the array depends on (see :func:`fingerprint`); the file is
    written atomically, so an interrupted run never leaves a half array to load next time.
    """
    path = _cache_folder(cache_dir) / f"{key}.npy"
    found = _cached(path, cache_dir) if cache else None
    if found is not None:
        return np.load(found, allow_pickle=False), False
    array = np.asarray(compute())
    if cache:
        replace_with(path, lambda p: np.save(p, array, allow_pickle=False))
    return array, True


def extract_features(
    model,
    images: np.ndarray,
    batch_size: int | None = None,
    cache: bool = True,
    cache_dir: Path | None = None,
    verbose: bool = True,
    preprocess: str | Callable | None = None,
    runtime: Runtime | str = Runtime.AUTO,
) -> np.ndarray:
    """Run the frozen ``model`` on in-memory ``images`` once and cache the result on disk.

    ``images`` are either what the model expects (already preprocessed for a bare backbone,
    ``preprocess=None``), or raw 0-255 pixels (uint8, as ``datasets.load_images`` returns them)
    with ``preprocess`` naming the backbone whose ``preprocess_input`` to apply
    (``preprocess="mobilenet_v2"``) or giving a function of a float32 tensor. The second form is
    faster: no float32 copy of the whole set, a quarter of the bytes to hash, and the
    preprocessing runs inside the compiled forward pass. Both give the same features (to float
    rounding). With a backbone name, float input that already looks preprocessed is refused
    (see ``backbones.preprocess``).

    A second call with the same model weights, images and preprocessing loads the cached array
    (``cache=False`` forces recomputing; ``cache_dir`` defaults to the course cache, and
    read-only caches from ``COURSE_CACHE_READONLY`` are looked in too). Returns
    float32 ``[N, ...]`` (``[N, features]`` for a pooled backbone). ``verbose`` shows a progress
    bar and the time taken. For a folder on disk, :func:`folder_features` also overlaps decoding
    with the forward pass and bounds memory. ``runtime`` chooses where the forward pass runs
    (see :func:`frozen_forward`: LiteRT where it can, else Keras); ``batch_size`` defaults to the
    batch that runtime was measured fastest at.
    """
    x = np.asarray(images)
    fn, key = _preprocessor(preprocess)
    digest = model_digest(model)
    path = _cache_folder(cache_dir) / f"{model.name}-{_images_key(digest, x, key)}.npy"
    found = _cached(path, cache_dir) if cache else None
    if found is not None:
        if verbose:
            print(f"features: loaded {len(x)} cached feature vectors from {path.name}")
        return np.load(found, allow_pickle=False)
    check = None
    if isinstance(preprocess, str) and x.dtype.kind == "f":
        from course_utils import backbones

        def check(batch):
            try:
                backbones.check_raw_pixels(preprocess, batch)
            except ValueError as exc:
                raise ValueError(f"extract_features(..., preprocess={preprocess!r}) applies the "
                                 f"preprocessing itself and needs raw 0-255 pixels: {exc}") from None

    dtype = x.dtype if x.dtype in (np.uint8, np.float32) else np.dtype(np.float32)
    forward = frozen_forward(model, preprocess, dtype.name, runtime, verbose, digest, x.shape[1:])
    batch_size = batch_size or forward.batch_size
    start = time.perf_counter()
    bar = _progress(len(x), verbose)
    out = []
    for i in range(0, len(x), batch_size):
        batch = np.asarray(x[i:i + batch_size], dtype=dtype)
        if check is not None:
            check(batch)
        out.append(forward(batch))
        if bar is not None:
            bar.add(len(batch))
    feats = np.concatenate(out) if out else np.zeros((0, *model.output_shape[1:]), np.float32)
    if verbose:
        seconds = time.perf_counter() - start
        print(f"features: computed {len(x)} in {seconds:.1f} s ({len(x) / max(seconds, 1e-9):.0f} "
              f"images/s, {forward.name})")
    if cache:
        replace_with(path, lambda p: np.save(p, feats, allow_pickle=False))
    return feats


@dataclass
class FolderFeatures:
    """What :func:`folder_features` returns: one feature row per readable file, and the report.

    ``features[i]`` belongs to ``files[i]`` with label ``labels[i]`` (an index into
    ``class_names``; ``-1`` for files given without labels). Files that could not be read are not
    in ``files``: they are listed by name, with the reason, in ``report.skipped`` (and
    ``report.summary()`` prints them); ``report.converted`` lists images converted to RGB.
    """

    features: np.ndarray
    labels: np.ndarray
    files: list[Path]
    class_names: list[str]
    report: FolderReport

    def __len__(self) -> int:
        return len(self.labels)


def _listing(source, class_names, labels) -> ImageFiles:
    if isinstance(source, ImageFiles):
        return source
    if isinstance(source, (str, os.PathLike)):
        return list_image_files(Path(source), class_names)
    files = [Path(p) for p in source]
    names = list(class_names or [])
    y = np.full(len(files), -1, np.int32) if labels is None else np.asarray(labels, np.int32)
    if len(y) != len(files):
        raise ValueError(f"{len(files)} files but {len(y)} labels")
    root = Path(os.path.commonpath([str(p.parent) for p in files])) if files else Path(".")
    return ImageFiles(files, y, names, FolderReport(root=root, class_names=names))


def _decoded_on_each_core(runner: litert.Runner, listing: ImageFiles, size: tuple[int, int], per_call: int,
                          report: FolderReport) -> Iterator[tuple[np.ndarray, list[int]]]:
    """Yield ``(features, rows)`` of ``per_call`` files at a time, each decoded and run on one core.

    Every file is recorded in ``report`` in order, an unreadable one with its reason and no row.
    """
    chunks = (range(i, min(i + per_call, len(listing.files))) for i in range(0, len(listing.files), per_call))

    def load(chunk: range) -> tuple[np.ndarray | None, list[tuple[int, str, bool]]]:
        decoded = [(row, *try_read(listing.files[row], size)) for row in chunk]
        notes = [(row, outcome, array is not None) for row, array, outcome in decoded]
        good = [array for _, array, _ in decoded if array is not None]
        return (np.stack(good) if good else None), notes

    for feats, notes in runner.map(load, chunks):
        for row, outcome, good in notes:
            report.record(listing.files[row], int(listing.labels[row]), outcome, ok=good)
        if feats is not None:
            yield feats, [row for row, _, good in notes if good]


def folder_features(
    model,
    source: str | os.PathLike | ImageFiles | Sequence[str | os.PathLike],
    image_size: int | tuple[int, int] | None = None,
    preprocess: str | Callable | None = None,
    batch_size: int | None = None,
    labels: Sequence[int] | np.ndarray | None = None,
    class_names: list[str] | None = None,
    cache: bool = True,
    cache_dir: Path | None = None,
    workers: int | None = None,
    verbose: bool = True,
    runtime: Runtime | str = Runtime.AUTO,
) -> FolderFeatures:
    """Compute (or load cached) features of every readable image in a folder or file list, streamed.

    ``source`` is a folder ``root/<class>/<image>`` (labels from the class folders, in sorted
    order, or in ``class_names`` order; hidden files and folders ignored), an
    :class:`~course_utils.images.ImageFiles` from ``images.list_image_files``, or a list of image
    paths (with optional ``labels`` and ``class_names``). Images are decoded as RGB (grayscale,
    CMYK, palette and alpha converted), resized to ``image_size`` (default: the model's input
    size) and passed through ``preprocess`` (a backbone name such as ``"mobilenet_v2"``, or a
    function of a float32 tensor; None feeds raw 0-255 pixels) inside the forward pass, which runs
    where ``runtime`` says (see :func:`frozen_forward`), ``batch_size`` images at a time (default:
    that runtime's best: one file per core and call in LiteRT, :data:`DEFAULT_BATCH_SIZE` in Keras).

    Bad input never stops the run and is never dropped silently: zero-byte, truncated, corrupt
    and non-image files are skipped and listed by name with the reason in the returned
    ``report`` (printed when ``verbose``); a missing folder, no class folders or an empty class
    raise ``images.ImageFolderError`` saying what to do.

    Memory is bounded: a few batches of pixels at a time plus the features themselves (use a
    pooled backbone, ``pooling="avg"``: 50,000 photos are then 256 MB of features instead of
    7.5 GB of pixels). In LiteRT each core's thread decodes the files it then runs (0.87-0.90x
    the wall time of a decoding pool feeding split batches, ``bench/feature_pipeline.py
    pipeline``); in Keras decoding runs in ``workers`` threads (default: one per core) while the
    forward pass works on the previous batch. The cache key is the model, the files' paths,
    sizes and modification times, the image size and the preprocessing; a hit returns the same
    features, rows and report without decoding anything. Example::

        base = backbones.load_backbone("mobilenet_v2", 224, pooling="avg")
        train = features.folder_features(base, "photos/train", preprocess="mobilenet_v2")
        train.features.shape, train.labels, train.class_names
        print(train.report.summary())      # counts, every skipped file and why
    """
    listing = _listing(source, class_names, labels)
    if image_size is None:
        image_size = tuple(model.input_shape[1:3])
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    fn, key = _preprocessor(preprocess)
    digest = model_digest(model)
    name = f"{model.name}-{_files_key(digest, listing.files, f'{key}|size={size}')}.npz"
    path = _cache_folder(cache_dir) / name
    report = listing.report
    found = _cached(path, cache_dir) if cache else None
    if found is not None:
        with np.load(found, allow_pickle=False) as data:
            feats, ok, outcome = data["features"], data["ok"], data["outcome"]
        for i, p in enumerate(listing.files):
            report.record(p, int(listing.labels[i]), str(outcome[i]), ok=bool(ok[i]))
        if verbose:
            print(f"features: loaded {len(feats)} cached feature vectors from {path.name}")
    else:
        forward = frozen_forward(model, preprocess, "uint8", runtime, verbose, digest, (*size, 3))
        start = time.perf_counter()
        bar = _progress(len(listing.files), verbose)
        ok = np.zeros(len(listing.files), bool)
        outcome = [""] * len(listing.files)
        out = []
        done = 0
        if isinstance(forward.run, litert.Runner):
            batches = _decoded_on_each_core(forward.run, listing, size, batch_size or 1, report)
        else:
            batches = ((forward(x), rows) for x, _, rows in image_batches(
                listing.files, size, batch_size or forward.batch_size, listing.labels, report, workers))
        for feats_of_batch, rows in batches:
            out.append(feats_of_batch)
            ok[rows] = True
            done = rows[-1] + 1
            if bar is not None:
                bar.update(done)
        feats = np.concatenate(out) if out else np.zeros((0, *model.output_shape[1:]), np.float32)
        skipped = dict(report.skipped)
        converted = dict(report.converted)
        for i, p in enumerate(listing.files):
            outcome[i] = converted.get(str(p), "RGB") if ok[i] else skipped.get(str(p), "skipped")
        if bar is not None and done < len(listing.files):
            bar.update(len(listing.files))
        if verbose:
            seconds = time.perf_counter() - start
            print(f"features: computed {len(feats)} in {seconds:.1f} s "
                  f"({len(feats) / max(seconds, 1e-9):.0f} images/s, {forward.name})")
        if cache:
            replace_with(path, lambda p: np.savez(p, features=feats, ok=ok,
                                                      outcome=np.array(outcome, dtype=str)))
    if verbose and (report.skipped or report.converted):
        print(report.summary())
    files = [p for p, good in zip(listing.files, ok, strict=True) if good]
    return FolderFeatures(feats, listing.labels[ok], files, listing.class_names, report)


def time_batch_sizes(
    model,
    sizes: Sequence[int] = (8, 16, 32, 64),
    n_images: int = 128,
    rounds: int = 3,
    preprocess: str | Callable | None = None,
    runtime: Runtime | str = Runtime.AUTO,
) -> dict[int, float]:
    """Measure the forward pass's images per second at each batch size (best of ``rounds``).

    Uses ``n_images`` random uint8 images at the model's input size, after one untimed call per
    size (tracing or exporting). Sizes are interleaved round by round, so a machine that gets
    busier or quieter during the measurement biases none of them. ``runtime``: see
    :func:`frozen_forward`. Pass the best as ``batch_size=``.
    """
    forward = frozen_forward(model, preprocess, "uint8", runtime, verbose=False)
    x = np.random.default_rng(0).integers(0, 256, (n_images, *model.input_shape[1:]), dtype=np.uint8)
    for b in sizes:
        forward(x[:b])
    best = {b: float("inf") for b in sizes}
    for _ in range(rounds):
        for b in sizes:
            start = time.perf_counter()
            for i in range(0, n_images, b):
                forward(x[i:i + b])
            best[b] = min(best[b], time.perf_counter() - start)
    return {b: n_images / s for b, s in best.items()}
