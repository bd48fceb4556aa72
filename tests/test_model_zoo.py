"""Measuring backbones: latency per image, offline weight lookup, comparison rows."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest

from course_utils import backbones
from course_utils.methods import model_zoo


def _tiny(size=16, width=4):
    return keras.Sequential([keras.Input((size, size, 3)), keras.layers.Conv2D(width, 3),
                             keras.layers.GlobalAveragePooling2D()])


def test_measure_latency_is_per_image_and_positive():
    model = _tiny()
    ms = model_zoo.measure_latency(model, batch=4, repeats=2)
    assert np.isfinite(ms) and 0 < ms < 1000


def test_measure_latency_ranks_a_much_bigger_model_slower():
    small = _tiny(32, 2)
    big = keras.Sequential([keras.Input((32, 32, 3))]
                           + [keras.layers.Conv2D(256, 3, padding="same") for _ in range(4)]
                           + [keras.layers.GlobalAveragePooling2D()])
    assert model_zoo.measure_latency(big, batch=4, repeats=3) > \
        model_zoo.measure_latency(small, batch=4, repeats=3)


def test_measure_latency_rejects_bad_arguments_and_unknown_sizes():
    with pytest.raises(ValueError):
        model_zoo.measure_latency(_tiny(), batch=0)
    free = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match="image_size"):
        model_zoo.measure_latency(free)
    assert model_zoo.measure_latency(free, image_size=16, batch=2, repeats=1) > 0


def test_no_weights_are_found_without_a_mirror_or_cache(isolated_home):
    for name in backbones.BACKBONES:
        assert model_zoo.locate_weights(name, 128) is None


def test_mirror_weights_are_found_and_fall_back_to_the_224_file(mirror_only):
    found = model_zoo.locate_weights("mobilenet_v2", 128)
    assert found is not None and found.path.name.endswith("1.0_224_no_top.h5")
    assert model_zoo.locate_weights("mobilenet_025", 96) is not None
    assert model_zoo.locate_weights("resnet50", 224) is None


def test_compare_backbones_rows_mark_missing_weights(isolated_home):
    rows = model_zoo.compare_backbones(["mobilenet_025", "mobilenet_v2"], image_size=32, batch=2,
                                       repeats=1, verbose=False)
    assert [r["name"] for r in rows] == ["mobilenet_025", "mobilenet_v2"]
    small, v2 = rows
    assert small["params"] < v2["params"] and v2["params"] == 2_257_984
    assert not small["weights_offline"] and small["weights_mb"] is None
    assert v2["published_mb"] == 14 and v2["published_top1"] == 0.713
    assert small["published_mb"] is None and small["latency_ms"] > 0
    assert small["constructor"] == "MobileNet(alpha=0.25)"


def test_compare_backbones_reports_the_located_file_size(mirror_only):
    (row,) = model_zoo.compare_backbones(["mobilenet_v2_035"], image_size=32, batch=1, repeats=1,
                                         verbose=False)
    assert row["weights_offline"] and 1.5 < row["weights_mb"] < 3


def test_measure_latencies_times_several_models_in_turn():
    small, big = _tiny(24, 2), _tiny(24, 64)
    ms = model_zoo.measure_latencies({"small": small, "big": big}, batch=2, repeats=2)
    assert set(ms) == {"small", "big"} and all(v > 0 for v in ms.values())


def test_cpu_clock_counts_the_work_not_the_wait(monkeypatch):
    """On the CPU clock a pass that waits (a sleep stands in for other programs holding the cores)
    costs what its work costs; on the wall clock the wait counts."""
    import time

    model = _tiny(24, 2)
    real = model.predict_on_batch

    def waiting(x):
        time.sleep(0.05)
        return real(x)

    monkeypatch.setattr(model, "predict_on_batch", waiting)
    wall, cpu = (model_zoo.measure_latencies({"m": model}, batch=1, repeats=2, warmup=1, clock=clock)["m"]
                 for clock in (model_zoo.Clock.WALL, model_zoo.Clock.CPU))
    assert wall >= 50 and cpu < 25, (wall, cpu)


def test_every_backbone_has_a_family_with_one_sentence():
    for name in backbones.BACKBONES:
        family = model_zoo.FAMILY_OF[name]
        sentence = model_zoo.FAMILIES[family]
        assert sentence.startswith(family) and sentence.endswith(".")
        assert not re.search(r"\. [A-Z]", sentence), f"{family}: one sentence, please"
    assert {"VGG", "ResNet", "Inception"} <= {model_zoo.FAMILY_OF[n] for n in backbones.BACKBONES}


def test_the_source_documents_families_build_without_weights():
    for name in ("vgg16", "inception_v3"):
        model = backbones.load_backbone(name, 96, weights=None, pooling="avg", verbose=False)
        assert model.output_shape[-1] in (512, 2048)
