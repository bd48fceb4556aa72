"""Trained models, trained once and cached on disk: never pay for the same training twice.

The feature cache (:mod:`course_utils.features`) keys a frozen base's outputs by its weights
and pixels. Training is the same idea one level up: a model trained by the same code, from the
same initial weights, on the same data, with the same knobs, ends with the same weights, so a
second run can load them. :func:`train_once` builds the model, fingerprints everything that
changes the result, and either loads the weights an identical earlier run saved or trains and
saves them (with the training history, so curves can still be drawn).

Keras' own ``ModelCheckpoint`` saves weights too, but is keyed by a file name the user picks:
it happily reloads weights trained on other data or with other settings. This module exists
for the content key.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from course_utils import assets, files


@dataclass
class Trained:
    """A trained model, its training history and whether it came from the cache."""

    model: Any
    history: dict[str, list[float]] = field(default_factory=dict)
    from_cache: bool = False
    seconds: float = 0.0
    """How long the training took when it actually ran (also reported for a cached model)."""
    path: Path | None = None


def architecture_text(model) -> str:
    """Describe a model's architecture: its config where Keras can give one, and every weight.

    Layer names are replaced by their order of appearance: Keras numbers automatic names
    (``dense``, ``dense_1``, ...) per session, and the same architecture built twice must give
    the same text. Subclassed models often have no ``get_config``; their class, their layers'
    configs and the shapes of all weights still pin the architecture down.
    """
    parts = [type(model).__module__ + "." + type(model).__qualname__]
    try:
        config = model.get_config()
        parts.append(json.dumps(_anonymise(config), sort_keys=True, default=str))
    except (NotImplementedError, TypeError, ValueError, AttributeError):
        config = {}
    if "layers" not in config:  # a subclassed model's config does not list its layers
        for layer in getattr(model, "layers", []):
            parts.append(architecture_text(layer))
    parts.extend(f"{w.path.rsplit('/', 1)[-1]}:{tuple(w.shape)}:{w.dtype}" for w in model.weights)
    return "\n".join(parts)


def _anonymise(config: Any) -> Any:
    """``config`` with every layer name replaced by ``#k``, k its order of first appearance."""
    names: dict[str, str] = {}

    def collect(value: Any) -> None:
        if isinstance(value, Mapping):
            if isinstance(value.get("name"), str):
                names.setdefault(value["name"], f"#{len(names)}")
            for item in value.values():
                collect(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                collect(item)

    def replace(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: replace(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [replace(v) for v in value]
        return names.get(value, value) if isinstance(value, str) else value

    collect(config)
    return replace(config)


def describe(value: Any) -> str:
    """Text that changes whenever ``value`` changes: source code for functions, configs for Keras
    objects, a digest for arrays, and ``repr`` for plain values (dicts and lists recursively)."""
    import keras

    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {describe(value[k])}" for k in sorted(value, key=str)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    if isinstance(value, np.ndarray):
        return f"array{value.shape}{value.dtype}:{array_digest(value)}"
    if isinstance(value, (keras.layers.Layer, keras.Model)):
        return architecture_text(value)
    if isinstance(value, type):  # a class: its methods' source (a notebook's classes have no file)
        methods = [v for _, v in sorted(vars(value).items()) if inspect.isfunction(v)]
        return value.__qualname__ + "\n" + "\n".join(_source(m) for m in methods)
    if callable(value):
        return _source(value)
    return repr(value)


def _source(function: Any) -> str:
    """The source code of a function, or its qualified name where the source is not available."""
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return f"{getattr(function, '__module__', '')}.{getattr(function, '__qualname__', repr(function))}"


def array_digest(array: np.ndarray) -> str:
    """SHA-256 of an array's shape, dtype and bytes (first 16 hex digits)."""
    arr = np.ascontiguousarray(array)
    h = hashlib.sha256(str((arr.shape, arr.dtype.str)).encode())
    h.update(arr.tobytes())
    return h.hexdigest()[:16]


def model_key(model, train: Callable, data: tuple = (), key: Mapping | None = None) -> str:
    """Return the content key of "train this model with this code on this data with these knobs".

    It covers the architecture, every initial weight value (and so the seed that drew them),
    every input array, the source code of ``train``, every entry of ``key`` (functions by their
    source code) and the Keras version.
    """
    import keras

    h = hashlib.sha256()
    h.update(architecture_text(model).encode())
    for w in model.weights:
        h.update(np.ascontiguousarray(np.asarray(w)).tobytes())
    for arr in data:
        h.update(array_digest(np.asarray(arr)).encode())
    h.update(describe(train).encode())
    h.update(describe(dict(key or {})).encode())
    h.update(keras.__version__.encode())
    return h.hexdigest()[:24]


def train_once(
    build: Callable[[], Any],
    train: Callable[[Any], Any],
    *,
    name: str,
    data: tuple = (),
    key: Mapping | None = None,
    cache: bool = True,
    cache_dir: Path | None = None,
    verbose: bool = True,
) -> Trained:
    """Build a model with ``build()`` and train it with ``train(model)``, or load the weights an
    identical earlier run saved.

    ``data`` are the arrays ``train`` learns from; ``key`` holds every other knob that changes
    the result (seed, epochs, temperature, the augmentation, helper functions ``train`` calls:
    functions count by their source code). ``train`` may return a Keras ``History``, a dict of
    per-epoch lists, or nothing. A damaged cache file is reported and the model retrained.
    ``cache=False`` always trains and stores nothing.
    """
    model = build()
    if not model.weights or not getattr(model, "built", True):
        raise ValueError(f"{name}: build() must return a built model (give it a keras.Input, or call "
                         "it once on a batch), so its initial weights can be part of the cache key")
    folder = Path(cache_dir) if cache_dir else assets.course_cache_dir() / "models"
    digest = model_key(model, train, data, key)
    weights = folder / f"{name}-{digest}.weights.h5"
    sidecar = folder / f"{name}-{digest}.json"
    found = _cached(weights, sidecar, readonly=cache_dir is None) if cache else None
    if found is not None:
        initial = model.get_weights()
        try:
            with warnings.catch_warnings():  # the file holds the trained optimizer's state too; a
                # freshly compiled model has not built its optimizer, and only the weights matter here
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                model.load_weights(str(found[0]))
            info = json.loads(found[1].read_text(encoding="utf-8"))
            if verbose:
                print(f"{name}: loaded the trained weights from the cache ({weights.name}; "
                      f"training them took {info.get('seconds', 0):.0f} s)")
            return Trained(model, info.get("history", {}), True, float(info.get("seconds", 0)),
                           found[0])
        except Exception as error:  # damaged or foreign file: say so, then train again
            print(f"{name}: the cached weights {weights} could not be loaded "
                  f"({type(error).__name__}: {error}); training again")
            model.set_weights(initial)
    start = time.perf_counter()
    result = train(model)
    seconds = time.perf_counter() - start
    history = _history(result)
    if verbose:
        print(f"{name}: trained in {seconds:.0f} s" + (f", cached as {weights.name}" if cache else ""))
    if cache:
        files.replace_with(weights, lambda tmp: model.save_weights(str(tmp)))
        files.write_text(sidecar, json.dumps({"name": name, "seconds": seconds, "history": history}))
    return Trained(model, history, False, seconds, weights if cache else None)


def _cached(weights: Path, sidecar: Path, readonly: bool) -> tuple[Path, Path] | None:
    """The cached weight file and its sidecar: the writable cache first, then, when ``readonly``,
    the read-only caches of ``COURSE_CACHE_READONLY`` (the grader gives every sandboxed kernel
    the instructor's cache that way, so a submission loads a pretraining the instructor paid)."""
    folders = [weights.parent]
    if readonly:
        folders += [d / "models" for d in assets.readonly_cache_dirs()]
    for folder in folders:
        pair = folder / weights.name, folder / sidecar.name
        if pair[0].is_file() and pair[1].is_file():
            return pair
    return None


def _history(result: Any) -> dict[str, list[float]]:
    """Per-epoch lists of floats from a Keras ``History``, a dict, or nothing."""
    raw = getattr(result, "history", result)
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): [float(v) for v in np.ravel(np.asarray(vals, dtype="float64"))]
            for k, vals in raw.items()}
