"""A frozen base exported to LiteRT and run by its XNNPACK CPU kernels: the same features, faster.

LiteRT (PyPI ``ai-edge-litert``, formerly TensorFlow Lite) is Google's maintained on-device
runtime. A frozen base is a fixed function, so it can be converted once into a ``.tflite`` file
and run there: XNNPACK's CPU kernels compute MobileNetV2's features in about half the CPU time
of Keras' forward pass (``bench/feature_pipeline.py litert`` measures it). :mod:`course_utils.features`
runs frozen bases here where it can; Keras stays the reference (a test checks that both agree
within :data:`TOLERANCE` on real photos) and the fallback.

- :func:`export` converts the compiled forward pass that Keras itself runs
  (``features.forward_function``: the preprocessing, then ``model(x, training=False)``) with
  TensorFlow's converter, checks the result against Keras on a probe batch, and writes the file
  atomically. Its cache key (:func:`model_key`) covers everything that changes the file: the
  architecture (pooling included), every weight, the input size and dtype, the preprocessing
  and the converter's version. Read-only caches (``COURSE_CACHE_READONLY``, an instructor's
  copy or the grader's) are looked in too; a cache that cannot be written only costs a new
  export next time.
- :class:`Runner` runs a file on all usable cores with one single-threaded interpreter per
  core: a batch split between them, or a stream of work (``Runner.map``: photos decoded and run
  on the same core, each core's thread on its own).

Why not ``model.export(path, format="litert")``: it writes a SavedModel to disk and converts
that, about 10 CPU-seconds for MobileNetV2 on the course's machine, where converting the traced
function's graph in memory (the same converter, ``experimental_lower_to_saved_model = False``)
takes under 2; and the preprocessing would need a wrapper model. Only TensorFlow Lite's built-in
operators are allowed (no Flex ops: the ``ai-edge-litert`` wheel cannot run them), so a model
that needs others fails to convert and the caller falls back to Keras.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from course_utils import assets, files
from course_utils.parallel import ordered_map

# How far LiteRT's features may be from Keras' (np.allclose): float32 arithmetic in another order.
# Measured on real photos with MobileNetV2 (ImageNet weights): largest difference 6.6e-5 at 96 px
# (features average 1.15), 2.3e-5 at 224 px (average 0.37); tests/test_litert.py checks it.
TOLERANCE = {"rtol": 1e-3, "atol": 1e-4}
# Images per call, measured on the course's 2-core CPU under load 7-13 (bench/feature_pipeline.py
# litert, MobileNetV2, two runs; CPU time per image is the steady number there): a batch of 4 split
# between two single-threaded interpreters took 1.6-1.7 / 2.8 / 4.0-4.2 / 8.1-8.4 ms of CPU per
# image at 96 / 128 / 160 / 224 px; batch 8 was within 10% of it either way, batches of 16 and 32
# up to 28% more at 160-224 px, one interpreter with two threads 0-10% more.
BATCH_SIZE = 4
FOLDER = "litert"
PACKAGE = "ai-edge-litert"
T = TypeVar("T")
N = TypeVar("N")


class LiteRTUnavailable(RuntimeError):
    """LiteRT cannot run here: the package is missing, has no wheel for this platform, or fails to load."""


def unavailable_reason() -> str | None:
    """Why LiteRT cannot run in this Python (``None`` when it can)."""
    try:
        from ai_edge_litert import interpreter  # noqa: F401
    except Exception as exc:  # ImportError, or a native library that fails to load
        return f"{type(exc).__name__}: {exc}"
    return None


def version() -> str:
    """The installed ``ai-edge-litert`` version (``"?"`` when its metadata is missing)."""
    from importlib import metadata

    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "?"


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def model_key(model_digest: str, preprocess_key: str, dtype: str) -> str:
    """The exported file's key: the model (architecture, input size, weights), preprocessing,
    input dtype and the converter's version."""
    import tensorflow as tf

    text = f"{model_digest}|{preprocess_key}|dtype={dtype}|tensorflow={tf.__version__}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cache_folder() -> Path:
    """Where exported files are written: ``<course cache>/litert``."""
    return assets.course_cache_dir() / FOLDER


def cached_file(name: str) -> Path | None:
    """The exported file ``name`` from the writable cache, else from a read-only one, else None."""
    folders = [cache_folder()] + [d / FOLDER for d in assets.readonly_cache_dirs()]
    return next((folder / name for folder in folders if (folder / name).is_file()), None)


def _write_atomically(path: Path, content: bytes) -> bool:
    """Write ``content`` to ``path`` atomically (:func:`files.write_bytes`); False if it cannot be written."""
    try:
        files.write_bytes(path, content)
    except OSError:
        return False
    return True


def convert(forward) -> bytes:
    """Convert ``forward`` (a ``tf.function`` with one input signature) to a ``.tflite`` file's bytes.

    The graph is frozen in memory (weights become constants) and converted with TensorFlow Lite's
    built-in operators only; the batch dimension stays dynamic.
    """
    import tensorflow as tf

    spec = forward.input_signature[0] if forward.input_signature else None
    if spec is None or None in spec.shape[1:]:
        raise ValueError(f"its input shape {None if spec is None else tuple(spec.shape)} is not fixed; "
                         "build it for one image size to run it in LiteRT")
    concrete = forward.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], forward)
    converter.experimental_lower_to_saved_model = False  # freeze in memory, no SavedModel on disk
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    # No provenance record in the file: writing it unpacks and repacks the whole flatbuffer in
    # Python objects (three times, in a profile of MobileNetV2's conversion); the kernels are the same.
    converter.exclude_conversion_metadata = True
    return converter.convert()


def _probe(forward, batch: int = 2) -> np.ndarray:
    """A fixed input batch for ``forward``: random 0-255 pixels for integer input, N(0, 1) for float."""
    spec = forward.input_signature[0]
    shape = (batch, *spec.shape[1:])
    rng = np.random.default_rng(0)
    if spec.dtype.is_integer:
        return rng.integers(0, 256, shape).astype(spec.dtype.as_numpy_dtype)
    return rng.standard_normal(shape).astype(spec.dtype.as_numpy_dtype)


def agree(litert_out: np.ndarray, keras_out: np.ndarray) -> bool:
    """True when LiteRT's output matches Keras' within :data:`TOLERANCE`."""
    return litert_out.shape == keras_out.shape and bool(np.allclose(litert_out, keras_out, **TOLERANCE))


@dataclass(frozen=True)
class Exported:
    """An exported frozen base: its bytes or file, and how it was obtained."""

    source: Path | bytes
    seconds: float = 0.0          # spent converting now (0 when it came from a cache)
    cached_as: Path | None = None  # where it was written (None: found in a cache, or not writable)


def export(forward, path: Path) -> Exported:
    """Convert ``forward``, check it against Keras on a probe batch, and cache it at ``path``.

    Raises ``ValueError`` when the converted model's output differs from Keras' beyond
    :data:`TOLERANCE` (nothing is cached then). When ``path``'s folder cannot be written the
    bytes are returned uncached.
    """
    start = time.perf_counter()
    content = convert(forward)
    probe = _probe(forward)
    expected = np.asarray(forward(probe))
    got = Runner(content, cores=1)(probe)
    if not agree(got, expected):
        worst = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("nan")
        raise ValueError(f"the converted model disagrees with Keras (largest difference {worst:.2g}, "
                         f"tolerance {TOLERANCE})")
    seconds = time.perf_counter() - start
    written = _write_atomically(path, content)
    return Exported(content, seconds, path if written else None)


class _Interpreter:
    """One LiteRT interpreter, its input resized to each batch's shape (another size costs one re-plan)."""

    def __init__(self, source: Path | bytes, threads: int):
        from ai_edge_litert.interpreter import Interpreter

        if isinstance(source, bytes):
            self.interpreter = Interpreter(model_content=source, num_threads=threads)
        else:
            self.interpreter = Interpreter(model_path=str(source), num_threads=threads)
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(f"expected one input and one output, got {len(inputs)} and {len(outputs)}")
        self._input, self._output = inputs[0]["index"], outputs[0]["index"]
        self.dtype = np.dtype(inputs[0]["dtype"])
        self.interpreter.allocate_tensors()  # applies the default delegate
        self._shape = tuple(int(d) for d in inputs[0]["shape"])

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if batch.shape != self._shape:
            self.interpreter.resize_tensor_input(self._input, list(batch.shape), strict=True)
            self.interpreter.allocate_tensors()
            self._shape = batch.shape
        self.interpreter.set_tensor(self._input, batch)
        self.interpreter.invoke()  # releases the GIL: interpreters run in parallel
        return self.interpreter.get_tensor(self._output)  # a copy


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, usable_cores() - 1), thread_name_prefix="litert")
    return _POOL


class Runner:
    """A ``.tflite`` file run by LiteRT (XNNPACK for float models) on ``cores`` cores.

    By default (``split=True``) each core gets its own single-threaded interpreter, so the cores
    never wait for each other inside a layer, at the memory cost of one copy of the packed weights
    per core; ``split=False`` runs one interpreter with ``cores`` threads. Two ways to run it:

    - ``runner(batch)``: one batch, split between the interpreters (0-10% less CPU time per image
      than one interpreter with a thread per core, ``bench/feature_pipeline.py litert``);
    - ``runner.map(load, items)``: a stream of work, one thread per interpreter, each loading its
      next item (decoding a photo, say) and running it through its own interpreter. No core waits
      for another, and loading runs on the cores the model leaves free instead of in threads that
      compete with it: streaming 1,000 photos from disk this way took 0.87-0.90x the wall time
      of a decoding pool feeding split batches, for the same CPU time (``bench/feature_pipeline.py
      pipeline``, 2 cores, idle).

    An interpreter serves one call at a time, so threads may share a runner.
    """

    def __init__(self, source: Path | bytes, cores: int | None = None, split: bool = True):
        self.cores = cores or usable_cores()
        self.split = split and self.cores > 1
        count, threads = (self.cores, 1) if self.split else (1, self.cores)
        self._interpreters = [_Interpreter(source, threads) for _ in range(count)]
        self.dtype = self._interpreters[0].dtype
        self._free: queue.SimpleQueue[_Interpreter] = queue.SimpleQueue()
        for one in self._interpreters:
            self._free.put(one)
        self._lock = threading.Lock()  # one caller at a time gathers several interpreters
        self.delegate = self._delegate()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=self.dtype)
        parts = max(1, min(len(self._interpreters), len(batch)))
        with self._lock:
            held = [self._free.get() for _ in range(parts)]
        try:
            if parts == 1:
                return held[0](batch)
            chunks = np.array_split(batch, parts)
            others = [_pool().submit(one, chunk) for one, chunk in zip(held[1:], chunks[1:], strict=True)]
            first = held[0](chunks[0])
            return np.concatenate([first] + [f.result() for f in others])
        finally:
            for one in held:
                self._free.put(one)

    def _run_one(self, batch: np.ndarray) -> np.ndarray:
        one = self._free.get()
        try:
            return one(np.ascontiguousarray(batch, dtype=self.dtype))
        finally:
            self._free.put(one)

    def map(self, load: Callable[[T], tuple[np.ndarray | None, N]], items: Iterable[T],
            ahead: int | None = None) -> Iterator[tuple[np.ndarray | None, N]]:
        """Yield ``(output, note)`` for each item, in order: ``load(item)`` returns the item's input
        batch (``None``: nothing to run, the output is ``None``) and a note passed through.

        Each interpreter has a thread that loads an item and runs it; at most ``ahead`` items
        (default two per thread) are loaded before the caller takes their outputs, which bounds
        memory. An exception in ``load`` or the model is raised here; stopping early (``break``)
        cancels the rest.
        """
        workers = len(self._interpreters) + (0 if self.split else 1)  # one loads while one runs

        def one(item: T) -> tuple[np.ndarray | None, N]:
            batch, note = load(item)
            return (None if batch is None else self._run_one(batch)), note

        return ordered_map(one, items, workers, ahead or 2 * workers, name="litert-map")

    def _delegate(self) -> str | None:
        """``"XNNPACK"`` when LiteRT's default CPU delegate took the graph (float models), else None."""
        try:
            ops = self._interpreters[0].interpreter._get_ops_details()  # no public API names the delegate
        except Exception:  # pragma: no cover - another LiteRT layout
            return None
        return "XNNPACK" if any(op.get("op_name") == "DELEGATE" for op in ops) else None

    @property
    def name(self) -> str:
        """The runtime in words, e.g. ``"LiteRT 2.3.0 (XNNPACK, 2 cores)"``."""
        kernels = self.delegate or "built-in kernels"
        return f"LiteRT {version()} ({kernels}, {self.cores} core{'s' if self.cores > 1 else ''})"
