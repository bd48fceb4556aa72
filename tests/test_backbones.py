"""The backbone registry: preprocessing pairs, offline weight loading and its fallbacks."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import assets, backbones


def test_registry_covers_the_syllabus_architectures():
    ctors = {b.constructor for b in backbones.BACKBONES.values()}
    assert {"MobileNetV2", "MobileNet", "MobileNetV3Small", "MobileNetV3Large", "EfficientNetB0",
            "ResNet50", "Xception"} <= ctors
    for b in backbones.BACKBONES.values():
        assert callable(backbones.preprocess_function(b.name)) and b.input_range


def test_each_backbone_gets_its_own_preprocessing():
    raw = np.full((1, 4, 4, 3), 255.0)
    assert np.allclose(backbones.preprocess("mobilenet_v2", raw), 1.0)  # [-1, 1]
    assert np.allclose(backbones.preprocess("efficientnet_b0", raw), 255.0)  # rescales inside
    caffe = backbones.preprocess("resnet50", raw)
    assert not np.allclose(caffe, 1.0) and caffe.max() > 100  # BGR, mean-subtracted


def test_preprocessing_twice_is_refused():
    once = backbones.preprocess("mobilenet_v2", np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)))
    with pytest.raises(ValueError, match="already preprocessed"):
        backbones.preprocess("mobilenet_v2", once)
    with pytest.raises(ValueError, match=r"scaled to \[0, 1\]"):
        backbones.preprocess("mobilenet_v2", np.full((1, 4, 4, 3), 0.5, dtype="float32"))
    backbones.preprocess("mobilenet_v2", once, check=False)  # on purpose, as lesson 02 does


@pytest.mark.parametrize("size", [96, 128, 160, 192])
def test_mobilenet_v2_loads_offline_at_small_sizes_and_says_so(mirror_only, capsys, size):
    model = backbones.load_backbone("mobilenet_v2", size, pooling="avg")
    assert model.input_shape == (None, size, size, 3) and model.output_shape == (None, 1280)
    out = capsys.readouterr().out
    assert f"no {size}-px weight file" in out and "224-px" in out
    # really the ImageNet weights: the first conv kernel is not a fresh random init
    kernel = model.get_layer("Conv1").get_weights()[0]
    fresh = backbones.load_backbone("mobilenet_v2", size, weights=None).get_layer("Conv1")
    assert not np.allclose(kernel, fresh.get_weights()[0])


def test_missing_architecture_weights_give_one_clear_error(mirror_only):
    with pytest.raises(assets.AssetMissingError) as err:
        backbones.load_backbone("efficientnet_b0", 96)
    text = str(err.value)
    assert "efficientnetb0_notop.h5" in text and "mirror" in text and "course_utils fetch" in text
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_architectures_without_weights_still_build():
    model = backbones.load_backbone("mobilenet_v3_small", 96, weights=None)
    assert model.count_params() > 500_000


def test_decode_predictions_reads_the_class_index_offline(mirror_only):
    preds = np.zeros((1, 1000))
    preds[0, 285] = 0.9  # Egyptian cat
    (top,) = backbones.decode_predictions(preds, top=1)
    assert top[0][1] == "Egyptian_cat"


def test_use_offline_weights_makes_the_canonical_keras_call_work_offline(tmp_path):
    """In a fresh process whose Keras cache is empty: after use_offline_weights(), the
    one line every tutorial writes loads the mirror's weights and downloads nothing."""
    import os
    import subprocess
    import sys

    from helpers import ROOT, mirror

    if mirror() is None:
        pytest.skip("needs COURSE_MIRROR")
    program = (
        "import urllib.request\n"
        "def refuse(*a, **k): raise AssertionError('tried to download')\n"
        "urllib.request.urlretrieve = refuse\n"
        "urllib.request.urlopen = refuse\n"
        "from course_utils import backbones\n"
        "ready = backbones.use_offline_weights(['mobilenet_v2'])\n"
        "assert backbones.keras_models_dir() == ready[0].parent, ready\n"
        "import keras\n"
        "base = keras.applications.MobileNetV2(weights='imagenet', include_top=False, pooling='avg')\n"
        "ref = backbones.load_backbone('mobilenet_v2', 224, pooling='avg', verbose=False)\n"
        "assert base.input_shape == (None, None, None, 3)\n"
        "import numpy as np\n"
        "assert all(np.array_equal(a, b) for a, b in zip(base.get_weights(), ref.get_weights()))\n"
        "again = backbones.use_offline_weights(['mobilenet_v2'])\n"
        "assert again == ready\n"
        "print('ok', len(ready))\n"
    )
    env = dict(os.environ, KERAS_HOME=str(tmp_path / "keras_home"), PYTHONPATH=str(ROOT),
               TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ok 3" in done.stdout  # no-top and top MobileNetV2 files, and the class index
    assert (tmp_path / "keras_home" / "models").is_dir()
