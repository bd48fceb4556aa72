"""methods.efficient: the plumbing around lesson 11's fine-tuning runs, on small stand-ins."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from helpers import needs_mirror  # noqa: E402

from course_utils.methods import efficient  # noqa: E402


class _Tokenizer:
    """A stand-in for keras-hub's tokenizer: one id per word, [CLS] = 1, [SEP] = 2."""

    def token_to_id(self, token):
        return {"[CLS]": 1, "[SEP]": 2}[token]

    def __call__(self, sentences):
        return [[3 + len(w) for w in s.split()] for s in sentences]


def test_token_batches_group_by_length_and_keep_labels_with_their_sentences() -> None:
    sentences = ["a b c d e f", "a", "a b", "a b c d e", "a b c"]
    batches = efficient.token_batches(_Tokenizer(), sentences, [0, 1, 0, 1, 1], max_length=6, batch_size=2)
    assert [len(y) for _, y in batches] == [2, 2, 1]
    (ids, mask), y = batches[0]
    assert ids.shape == (2, 4) and mask.sum(axis=1).tolist() == [3, 4]   # the two shortest sentences
    assert y.tolist() == [1.0, 0.0] and ids[0, 0] == 1 and ids[0, 2] == 2
    last = batches[-1][0][0]
    assert last.shape == (1, 6) and last[0, -1] == 2, "cut at max_length, [SEP] kept"
    with pytest.raises(ValueError, match="labels"):
        efficient.token_batches(_Tokenizer(), sentences, [0, 1], 6, 2)


def test_batch_dataset_reshuffles_each_epoch_with_its_seed_and_knows_its_length() -> None:
    batches = [((np.full((1, 2), i, "int32"), np.ones((1, 2), bool)), np.array([float(i)], "float32"))
               for i in range(6)]
    data = efficient.batch_dataset(batches, seed=3)
    epochs = [[int(y.numpy()[0]) for _, y in data] for _ in range(2)]
    assert sorted(epochs[0]) == list(range(6)) and epochs[0] != epochs[1]
    again = efficient.batch_dataset(batches, seed=3)
    assert [int(y.numpy()[0]) for _, y in again] == epochs[0], "the same seed gives the same order"
    assert [int(y.numpy()[0]) for _, y in efficient.batch_dataset(batches)] == list(range(6))
    assert int(data.cardinality()) == 6


def test_fit_on_validation_keeps_the_best_epoch_and_reports_its_cost() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(0.2), "binary_crossentropy", metrics=["accuracy"])
    report = efficient.fit_on_validation(model, (x, y), (x, y), epochs=6, seed=1)
    assert 1 <= report.epoch <= 6 and report.val_accuracy >= 0.75
    assert report.seconds_per_epoch > 0 and report.peak_mb >= 0
    accuracy = np.mean((np.asarray(model(x)).ravel() > 0.5) == y)
    assert abs(accuracy - report.val_accuracy) < 1e-6, "the model holds the chosen epoch's weights"


def test_peak_memory_sees_what_a_run_allocates() -> None:
    import tensorflow as tf

    _, small = efficient.peak_memory_mb(lambda: tf.zeros((10,)))
    big, large = efficient.peak_memory_mb(lambda: tf.ones((1000, 1000)) * 2.0)
    assert big.shape == (1000, 1000) and large >= 3.9 > small


def test_imagenet_scores_read_cats_and_dogs_from_the_classifier() -> None:
    kernel, bias = np.zeros((2, 1000), "float32"), np.zeros(1000, "float32")
    kernel[0, 200], kernel[1, 282] = 10.0, 10.0          # feature 0 -> a dog breed, feature 1 -> tiger cat
    pooled = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], "float32")
    scores = efficient.imagenet_scores(pooled, kernel, bias, np.array([1, 0, 0]),
                                       reference=np.array([200, 282, 1]))
    assert scores["cats vs dogs"] == pytest.approx(2 / 3) and scores["agreement"] == pytest.approx(2 / 3)
    assert scores["top1"].tolist() == [200, 282, 200]


def test_relative_change_and_count_weights() -> None:
    ref = np.array([[3.0, 4.0], [1.0, 0.0]])
    assert efficient.relative_change(ref, ref) == 0
    assert efficient.relative_change(2 * ref, ref) == pytest.approx(1.0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert efficient.count_weights(model.trainable_weights) == 8


def _tiny_bert():
    import keras_hub

    return keras_hub.models.BertBackbone(vocabulary_size=50, num_layers=3, num_heads=2, hidden_dim=8,
                                         intermediate_dim=16, max_sequence_length=16)


def test_sentence_classifier_top_layers_compute_what_the_whole_encoder_computes() -> None:
    pytest.importorskip("keras_hub")
    backbone = _tiny_bert()
    whole = efficient.sentence_classifier(backbone)
    top = efficient.sentence_classifier(backbone, top_layers=1)
    top.get_layer("head").set_weights(whole.get_layer("head").get_weights())
    ids = np.array([[1, 7, 8, 2, 0], [1, 9, 2, 0, 0]], "int32")
    mask = ids > 0
    bottom = keras.Model(backbone.input, backbone.get_layer("transformer_layer_1").output)
    (hidden, _), _ = efficient.hidden_batches(bottom, [((ids, mask), np.zeros(2, "float32"))])[0]
    assert np.allclose(np.asarray(whole([ids, mask])), np.asarray(top([hidden, mask])), atol=1e-5)
    assert efficient.count_weights(top.trainable_weights) < efficient.count_weights(whole.trainable_weights)


def test_cached_bottom_begins_fits_probes_and_scores() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(56, 2, 2, 4)).astype("float32")
    y = np.arange(56) % 7
    x[np.arange(56), 0, 0, 0] += 3 * y                     # a feature the classes can be told by
    maps, labels = {"t train": x, "t val": x, "t test": x}, {"t train": y, "t val": y, "t test": y}
    bench = efficient.CachedBottom(maps, labels, epochs=3)
    top = keras.Sequential([keras.Input((2, 2, 4)), keras.layers.Flatten(), keras.layers.Dense(1280)],
                           name="top")
    pooled = {k: np.asarray(top(m)) for k, m in maps.items()}
    head = bench.probe(pooled, "t", seed=0, epochs=30)
    model = bench.model(top, keras.optimizers.Adam(1e-3))
    start = top.get_weights()
    bench.begin(model, head, start, learning_rate=1e-3)
    probe_accuracy = bench.accuracy(model, "t test")
    assert probe_accuracy > 1 / 7 + 0.2
    report = bench.fit(model, "t", seed=0)
    assert 1 <= report.epoch <= 3 and int(model.optimizer.iterations) > 0
    bench.begin(model, head, start)
    assert int(model.optimizer.iterations) == 0 and bench.accuracy(model, "t test") == probe_accuracy


@needs_mirror
def test_imagenet_classifier_features_feed_its_own_head() -> None:
    from course_utils import datasets

    base, kernel, bias = efficient.imagenet_classifier(96, verbose=False)
    bottom, top = efficient.split_at(base, "block_16_expand")
    photos = datasets.load_photos(96)
    x = np.stack([photos[n] for n in ("chelsea", "dog") if n in photos]).astype("float32") / 127.5 - 1
    assert np.allclose(np.asarray(top(bottom(x))), np.asarray(base(x)), atol=1e-4)
    top1 = efficient.imagenet_scores(np.asarray(base(x)), kernel, bias, np.array([0, 1])[:len(x)])["top1"]
    assert top1[0] in efficient.CAT_CLASSES, "the cat photo should be an ImageNet cat"
