"""Lesson 06's checks on learners' answers: right ones written differently from the solution earn
full points, plausible mistakes lose theirs (remedies scored on the training features among them)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from checks_support import captured, fails, full, run  # noqa: E402

from course_utils.checks import lesson06  # noqa: E402


@pytest.fixture(scope="module")
def tables():
    """Exercise 1's feature maps, small (20 training and 40 validation vectors of 64 numbers, two
    seeds), and each remedy's heads scored, another way than the solution, on both splits."""
    rng = np.random.default_rng(0)
    y, yv = np.repeat([0, 1], 10), np.repeat([0, 1], 20)
    x = (rng.normal(0, 1, (20, 64)) + 0.6 * y[:, None]).astype("float32")
    xv = (rng.normal(0, 1, (40, 64)) + 0.6 * yv[:, None]).astype("float32")
    with pytest.MonkeyPatch.context() as patch:
        lesson06.remedy_score.cache_clear()
        patch.setattr(lesson06, "remedy_features", lambda size: (x, y, xv, yv))
        patch.setattr(lesson06, "REMEDY_SEEDS", (0, 1))
        on_val, on_train = {}, {}
        for name, kwargs in lesson06.REMEDIES.items():
            heads = [lesson06.train_remedy(x, y, kwargs, seed) for seed in lesson06.REMEDY_SEEDS]
            # Keras' own accuracy metric (threshold 0.5), not the solution's predict_batches
            on_val[name] = [float(h.evaluate(xv, yv, verbose=0)[1]) for h in heads]
            on_train[name] = [float(h.evaluate(x, y, verbose=0)[1]) for h in heads]
        yield on_val, on_train
    lesson06.remedy_score.cache_clear()


def test_choose_remedy_accepts_another_way_of_scoring(tmp_path, tables):
    table, _ = tables
    choice = sorted(table, key=lambda k: -sum(table[k]))[0]
    artifacts = captured(tmp_path, val_scores=table, choice=choice, image_size=128)
    assert full(run("06.choose_remedy", **artifacts))


def test_choose_remedy_recomputes_remedies_scored_on_the_training_features(tables):
    """The issue's learner: every remedy scored on the training features (all near 100%)."""
    _, table = tables
    choice = max(table, key=lambda k: np.mean(table[k]))
    assert fails(run("06.choose_remedy", val_scores=table, choice=choice, image_size=128),
                 "not what its head scores on the validation photos")


def test_choose_remedy_wants_the_best_mean_of_the_learners_own_table(tables):
    table, _ = tables
    worst = min(table, key=lambda k: np.mean(table[k]))
    if np.mean(table[worst]) < max(np.mean(v) for v in table.values()):
        assert fails(run("06.choose_remedy", val_scores=table, choice=worst, image_size=128),
                     "your own table")
    means_only = {k: float(np.mean(v)) for k, v in table.items()}   # the old format: means, no seeds
    assert fails(run("06.choose_remedy", val_scores=means_only, choice=worst, image_size=128))


def test_remedy_recomputed_is_decisive(monkeypatch):
    """On a table like the real one (dropout clearly ahead), a choice within the margin passes and a
    remedy clearly behind fails, however it was chosen."""
    table = {"none": 0.77, "dropout 0.5": 0.90, "weight decay 1e-2": 0.78, "dropout + weight decay": 0.88}
    monkeypatch.setattr(lesson06, "remedy_score", lambda size, name, seed: table[name])
    assert full(run("06.remedy_recomputed", choice="dropout + weight decay", image_size=128))
    assert full(run("06.remedy_recomputed", choice="dropout 0.5", image_size=128))
    assert fails(run("06.remedy_recomputed", choice="none", image_size=128), "clearly behind")
    assert fails(run("06.remedy_recomputed", choice="dropout", image_size=128), "one of")


# --- Exercise 2 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("layers", [
    [keras.layers.GaussianNoise(0.3), keras.layers.Dense(1, activation="sigmoid")],
    [keras.layers.Dense(1, kernel_regularizer=keras.regularizers.L1L2(l2=1e-3)),
     keras.layers.Activation("sigmoid")],
    [keras.layers.Dense(8, activation="relu", activity_regularizer="l2"),
     keras.layers.Dense(1, activation="sigmoid")],
])
def test_head_regularised_accepts_other_regularisers(tmp_path, layers):
    head = keras.Sequential([keras.Input((12,))] + layers)
    assert full(run("06.head_regularised", **captured(tmp_path, head=head)))


def test_head_regularised_mistakes():
    plain = keras.Sequential([keras.Input((12,)), keras.layers.Dense(1, activation="sigmoid")])
    assert fails(run("06.head_regularised", head=plain), "not regularised")
    zero_dropout = keras.Sequential([keras.Input((12,)), keras.layers.Dropout(0.0),
                                     keras.layers.Dense(1, activation="sigmoid")])
    assert fails(run("06.head_regularised", head=zero_dropout), "not regularised")
    two = keras.Sequential([keras.Input((12,)), keras.layers.Dropout(0.5),
                            keras.layers.Dense(2, activation="softmax")])
    assert fails(run("06.head_regularised", head=two), "one probability")


def test_early_stopping_accepts_positional_arguments_and_rejects_mistakes():
    callback = keras.callbacks.EarlyStopping("val_loss", 0, 12, restore_best_weights=True)
    config = {"monitor": callback.monitor, "patience": callback.patience,
              "restore_best_weights": callback.restore_best_weights}
    assert full(run("06.early_stopping", config=config))
    assert fails(run("06.early_stopping", config={**config, "monitor": "loss"}), "validation data")
    assert fails(run("06.early_stopping", config={**config, "restore_best_weights": False}), "LAST epoch")


def test_head_generalises_reads_the_heads_outputs(monkeypatch):
    from course_utils import backbones, datasets, features

    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 20)
    f = (rng.normal(0, 1, (40, 4)) + 3 * y[:, None]).astype("float32")
    monkeypatch.setattr(backbones, "load_backbone", lambda *a, **k: None)
    monkeypatch.setattr(datasets, "load_images", lambda *a, **k: type("S", (), {"x": f, "y": y,
                                                                                 "__len__": lambda s: 40})())
    monkeypatch.setattr(features, "extract_features", lambda base, x, **k: x)
    logits = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])   # a logit head reads as well
    logits.layers[-1].set_weights([np.ones((4, 1)), np.full(1, -6.0)])
    assert full(run("06.head_generalises", head=logits, image_size=128))
    backwards = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    backwards.layers[-1].set_weights([-np.ones((4, 1)), np.full(1, 6.0)])
    assert fails(run("06.head_generalises", head=backwards, image_size=128), "held-out test photos")


# --- Exercise 3 ---------------------------------------------------------------------------------

def unfreeze_by_type(model, n):
    """Right, written another way: one pass, deciding each layer."""
    for i, layer in enumerate(model.layers):
        in_top = i >= len(model.layers) - n
        layer.trainable = in_top and not isinstance(layer, keras.layers.BatchNormalization)
    return model


def unfreeze_counting_weighted(model, n):
    """Mistake: the last n layers *with weights* (n counts layers, all of them)."""
    model.trainable = True
    weighted = [layer for layer in model.layers if layer.weights]
    for layer in model.layers:
        layer.trainable = layer in weighted[-n:] and not isinstance(layer, keras.layers.BatchNormalization)
    return model


def unfreeze_keeping_bn(model, n):
    """Mistake: BatchNormalization in the top stays trainable."""
    model.trainable = True
    for layer in model.layers[:-n]:
        layer.trainable = False
    return model


def test_unfreeze_top_accepts_another_way_and_rejects_mistakes():
    from course_utils.checks.lesson06 import small_base

    assert full(run("06.unfreeze_top", model=unfreeze_by_type(small_base(), 10), n=10))
    assert full(run("06.unfreeze_top_hidden", model=unfreeze_by_type(small_base(), 25)))
    assert fails(run("06.unfreeze_top_hidden", model=unfreeze_counting_weighted(small_base(), 25)))
    assert fails(run("06.unfreeze_top", model=unfreeze_keeping_bn(small_base(), 10), n=10),
                 "BatchNormalization")
