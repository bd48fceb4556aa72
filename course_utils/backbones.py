"""A registry of ``keras.applications`` backbones, each paired with its own preprocessing.

Every entry knows which ``preprocess_input`` belongs to it and what pixel range
that function expects, so a lesson always feeds raw 0-255 pixels through
:func:`preprocess` and can never preprocess twice by accident. Weights are
resolved offline first (see :mod:`course_utils.assets`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from course_utils import assets, files

KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications/"
PUBLISHED_TOP1_SOURCE = "https://keras.io/api/applications/ (table 'Available models')"


@dataclass(frozen=True)
class Backbone:
    """One pretrained architecture: how to build it, preprocess for it, and find its weights."""

    name: str
    constructor: str  # attribute of keras.applications
    module: str  # keras.applications.<module>.preprocess_input
    input_range: str  # what preprocess_input turns raw 0-255 pixels into
    published_top1: float | None  # ImageNet top-1 as published by Keras
    weight_files: Callable[[int, bool], tuple[str, str | None]]  # (size, top) -> (file, md5)
    url_dir: str
    kwargs: dict = field(default_factory=dict)
    size_specific: bool = False  # Keras ships one weight file per input size
    default_size: int = 224

    def weights_asset(self, size: int | None = None, include_top: bool = False) -> assets.Asset:
        """Return the weight file Keras would use at ``size`` as an :class:`~assets.Asset`."""
        size = size if self.size_specific and size else self.default_size
        filename, md5 = self.weight_files(size, include_top)
        top = "with the 1000-class head" if include_top else "no top"
        return assets.Asset(
            name=filename,
            kind="weights",
            relpath=f"models/{filename}",
            description=f"{self.constructor} ImageNet weights ({top}, {size} px)",
            url=self.url_dir + filename,
            md5=md5,
        )


def _mobilenet_v2(alpha: float) -> Callable[[int, bool], tuple[str, None]]:
    def files(size: int, top: bool) -> tuple[str, None]:
        suffix = ".h5" if top else "_no_top.h5"
        return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{size}{suffix}", None

    return files


def _mobilenet(alpha: float) -> Callable[[int, bool], tuple[str, None]]:
    text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}[alpha]

    def files(size: int, top: bool) -> tuple[str, None]:
        return f"mobilenet_{text}_{size}_tf{'' if top else '_no_top'}.h5", None

    return files


def _hashed(top_file: str, top_md5: str, notop_file: str, notop_md5: str):
    def files(size: int, top: bool) -> tuple[str, str]:
        return (top_file, top_md5) if top else (notop_file, notop_md5)

    return files


_TF = "[-1, 1] (scaled from 0-255)"
_INSIDE = "0-255 raw pixels: the model rescales inside, preprocess_input is the identity"

BACKBONES: dict[str, Backbone] = {
    b.name: b
    for b in [
        Backbone("mobilenet_v2", "MobileNetV2", "mobilenet_v2", _TF, 0.713, _mobilenet_v2(1.0),
                 KERAS_APPS + "mobilenet_v2/", {"alpha": 1.0}, size_specific=True),
        Backbone("mobilenet_v2_035", "MobileNetV2", "mobilenet_v2", _TF, None, _mobilenet_v2(0.35),
                 KERAS_APPS + "mobilenet_v2/", {"alpha": 0.35}, size_specific=True),
        Backbone("mobilenet", "MobileNet", "mobilenet", _TF, 0.704, _mobilenet(1.0),
                 KERAS_APPS + "mobilenet/", {"alpha": 1.0}, size_specific=True),
        Backbone("mobilenet_025", "MobileNet", "mobilenet", _TF, None, _mobilenet(0.25),
                 KERAS_APPS + "mobilenet/", {"alpha": 0.25}, size_specific=True),
        Backbone("mobilenet_v3_small", "MobileNetV3Small", "mobilenet_v3", _INSIDE, None,
                 _hashed("weights_mobilenet_v3_small_224_1.0_float.h5",
                         "8768d4c2e7dee89b9d02b2d03d65d862",
                         "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
                         "d3e8ec802a04aa4fc771ee12a9a9b836"),
                 KERAS_APPS + "mobilenet_v3/"),
        Backbone("mobilenet_v3_large", "MobileNetV3Large", "mobilenet_v3", _INSIDE, None,
                 _hashed("weights_mobilenet_v3_large_224_1.0_float.h5",
                         "59e551e166be033d707958cf9e29a6a7",
                         "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
                         "07fb09a5933dd0c8eaafa16978110389"),
                 KERAS_APPS + "mobilenet_v3/"),
        Backbone("efficientnet_b0", "EfficientNetB0", "efficientnet", _INSIDE, 0.771,
                 _hashed("efficientnetb0.h5", "902e53a9f72be733fc0bcb005b3ebbac",
                         "efficientnetb0_notop.h5", "50bc09e76180e00e4465e1a485ddc09d"),
                 "https://storage.googleapis.com/keras-applications/"),
        Backbone("resnet50", "ResNet50", "resnet50",
                 "BGR, ImageNet mean subtracted (caffe style, roughly -124..152)", 0.749,
                 _hashed("resnet50_weights_tf_dim_ordering_tf_kernels.h5",
                         "2cb95161c43110f7111970584f804107",
                         "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                         "4d473c1dd8becc155b73f8504c6f6626"),
                 KERAS_APPS + "resnet/"),
        Backbone("vgg16", "VGG16", "vgg16",
                 "BGR, ImageNet mean subtracted (caffe style, roughly -124..152)", 0.713,
                 _hashed("vgg16_weights_tf_dim_ordering_tf_kernels.h5",
                         "64373286793e3c8b2b4e3219cbf3544b",
                         "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                         "6d6bbae143d832006294945121d1f1fc"),
                 KERAS_APPS + "vgg16/"),
        Backbone("inception_v3", "InceptionV3", "inception_v3", _TF, 0.779,
                 _hashed("inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
                         "9a0d58056eeedaa3f26cb7ebd46da564",
                         "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
                         "bcbd6486424b2319ff4ef7d526e38f63"),
                 KERAS_APPS + "inception_v3/", default_size=299),
        Backbone("xception", "Xception", "xception", _TF, 0.790,
                 _hashed("xception_weights_tf_dim_ordering_tf_kernels.h5",
                         "0a58e3b7378bc2990ea3b43d5981f1f6",
                         "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
                         "b0042744bf5b25fce3cb969f33bebb97"),
                 KERAS_APPS + "xception/", default_size=299),
    ]
}

CLASS_INDEX = assets.Asset(
    name="imagenet_class_index.json",
    kind="weights",
    relpath="models/imagenet_class_index.json",
    description="ImageNet class names for decode_predictions",
    url="https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
    md5="c2c37ea517e94d9795004a39431a14cb",
)


def get(name: str) -> Backbone:
    """Return the registry entry for ``name``, with a helpful error for unknown names."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise KeyError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}") from None


def preprocess_function(name: str) -> Callable:
    """Return the ``preprocess_input`` that belongs to backbone ``name``."""
    import importlib

    module = importlib.import_module(f"keras.applications.{get(name).module}")
    return module.preprocess_input


def preprocess(name: str, images, check: bool = True):
    """Apply backbone ``name``'s own ``preprocess_input`` to raw 0-255 pixels.

    With ``check`` (the default) it refuses input that already looks preprocessed
    (negative values, or floats all within [0, 1]): preprocessing twice silently
    costs accuracy, as lesson 02 measures.
    """
    x = np.asarray(images, dtype="float32")
    if check:
        check_raw_pixels(name, images)
    return preprocess_function(name)(x.copy())


def check_raw_pixels(name: str, images) -> None:
    """Raise ``ValueError`` when ``images`` look preprocessed already (negative, or floats within [0, 1]).

    Backbone ``name``'s ``preprocess_input`` expects raw 0-255 pixels; integer pixels always pass.
    """
    images = np.asarray(images)
    if not images.size:
        return
    lo, hi = float(images.min()), float(images.max())
    if lo < 0:
        raise ValueError(
            f"these pixels are already preprocessed (min {lo:.2f} < 0); pass raw 0-255 "
            f"pixels to preprocess({name!r}, ...), or use check=False on purpose"
        )
    if hi <= 1.0 and images.dtype.kind == "f":
        raise ValueError(
            f"these pixels look scaled to [0, 1] (max {hi:.2f}); {name} expects raw 0-255 "
            "pixels before its preprocess_input. Multiply by 255, or use check=False on purpose"
        )


def load_backbone(
    name: str,
    image_size: int = 224,
    include_top: bool = False,
    weights: str | None = "imagenet",
    pooling: str | None = None,
    verbose: bool = True,
):
    """Build backbone ``name`` at ``image_size`` with ImageNet weights found offline first.

    Keras asks for one weight file per input size for MobileNet/MobileNetV2. When
    only the 224-px file is at hand (as in the course mirror), the network is
    built at ``image_size`` and the 224-px weights are loaded into it: the
    no-top networks are fully convolutional, so the same kernels apply at any
    size. It says so when it does. When no weights are found anywhere and the
    download fails, it raises :class:`~course_utils.assets.AssetMissingError`
    naming the file, where it looked and how to fix it.
    """
    import keras

    spec = get(name)
    ctor = getattr(keras.applications, spec.constructor)
    size = spec.default_size if include_top and not spec.size_specific else image_size
    build = dict(include_top=include_top, input_shape=(size, size, 3), pooling=pooling,
                 **spec.kwargs)
    if weights != "imagenet":
        return ctor(weights=weights, **build)
    path, source, note = resolve_weights(name, size, include_top)
    model = ctor(weights=None, **build)
    model.load_weights(str(path))
    if verbose:
        print(note or f"loaded {name} ImageNet weights from the {source}: {path}")
    return model


def resolve_weights(name: str, image_size: int = 224, include_top: bool = False
                    ) -> tuple[Path, str, str | None]:
    """The ImageNet weight file :func:`load_backbone` loads: (path, source, note or None).

    Looks in the mirror and the cache for Keras' file at ``image_size``, then (for
    size-specific backbones) for the default-size file, then downloads. The note explains
    a default-size fallback. Checks use it to compare a student's base with these weights.
    """
    spec = get(name)
    size = spec.default_size if include_top and not spec.size_specific else image_size
    wanted = spec.weights_asset(size, include_top)
    found = assets.locate(wanted)
    note = None
    if found is None and spec.size_specific and size != spec.default_size:
        fallback = spec.weights_asset(spec.default_size, include_top)
        found = assets.locate(fallback)
        if found is not None:
            note = (f"note: no {size}-px weight file for {name}; loaded the {spec.default_size}-px "
                    f"ImageNet weights ({fallback.name}, from the {found.source}) into a "
                    f"{size}-px model. The network is fully convolutional, so this works; "
                    f"Keras' own {size}-px file was trained at that size and scores slightly higher.")
    if found is not None:
        return found.path, found.source, note
    try:
        path = assets.ensure(wanted, download=True)
    except assets.AssetMissingError as exc:
        raise assets.AssetMissingError(str(exc)) from None
    return path, "download", None


def keras_models_dir() -> Path:
    """The folder ``keras.applications`` reads ImageNet weight files from.

    Keras reads ``KERAS_HOME`` once, when it is imported, and falls back to
    ``/tmp/.keras`` when that folder is not writable (as ``keras.utils.get_file`` does);
    this asks Keras itself where possible, so a later change of the variable cannot
    send files to a folder Keras never reads.
    """
    import os
    import tempfile

    try:
        from keras.src.backend import config  # Keras 3: the home fixed at import time

        home = Path(config.keras_home()).expanduser()
    except ImportError:  # pragma: no cover - another Keras layout
        home = assets.keras_home()
    if not os.access(home if home.exists() else home.parent, os.W_OK):
        home = Path("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()) / ".keras"
    return home / "models"


def use_offline_weights(names: Iterable[str] | None = None, verbose: bool = True) -> list[Path]:
    """Make ``keras.applications.X(weights="imagenet")`` find ImageNet weights without a network.

    Keras looks for weight files in its own cache (:func:`keras_models_dir`) under their
    official names, and downloads the missing ones. This copies every weight file of backbones
    ``names`` (default: all of :data:`BACKBONES`, at their default input size, with and without
    the top) and the ImageNet class index that the mirror (``COURSE_MIRROR``) holds and that
    cache lacks, under the same names, atomically, checked against Keras' checksum where one
    is known. A copy, not a link: the cache keeps working once the USB stick is gone. Files
    already there are left alone, nothing is renamed (a 224-px file never poses as another
    size), and without a mirror nothing happens: Keras downloads on first use as usual.
    Returns the paths of the course's files now in Keras' cache.
    """

    chosen = list(names) if names is not None else list(BACKBONES)
    wanted = {CLASS_INDEX.name: CLASS_INDEX}
    for name in chosen:
        spec = get(name)
        for top in (False, True):
            asset = spec.weights_asset(spec.default_size, top)
            wanted[asset.name] = asset
    folder = keras_models_dir()
    mirror = assets.mirror_dir()
    ready, copied = [], 0
    for asset in wanted.values():
        target = folder / asset.name
        source = mirror / asset.mirror_relpath if mirror is not None else None
        if not target.is_file() and source is not None and assets.is_complete(asset, source):
            if asset.md5 and assets.file_hash(source, "md5") != asset.md5:
                raise assets.DownloadError(f"{source} does not match Keras' md5 checksum "
                                           f"{asset.md5}: the mirror copy is damaged")
            files.copy(source, target)
            copied += 1
        if target.is_file():
            ready.append(target)
    if verbose:
        origin = (f"{copied} copied just now from the mirror {mirror}" if mirror is not None
                  else "no mirror set (COURSE_MIRROR): Keras downloads the others on first use")
        print(f"Keras' weight cache {folder}: {len(ready)} of the course's ImageNet files ready "
              f"({origin})")
    return ready


def decode_predictions(preds, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """Return the ``top`` ImageNet (id, name, score) triples per row, like Keras' own function.

    The class-name file is found offline first (mirror, cache), then downloaded.
    """
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError(f"expected predictions of shape (N, 1000), got {preds.shape}")
    path = assets.ensure(CLASS_INDEX)
    index = json.loads(path.read_text())
    results = []
    for row in preds:
        best = row.argsort()[-top:][::-1]
        results.append([(index[str(i)][0], index[str(i)][1], float(row[i])) for i in best])
    return results
