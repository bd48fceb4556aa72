"""Lesson 11's plumbing around fine-tuning runs: what each run costs, and what it still knows.

The lesson compares ways to fine-tune (frozen, full, top layers, LoRA, LP-FT, WiSE-FT, L2-SP,
discriminative learning rates) and shows each method's own lines. What every comparison needs
around them lives here, tested once:

- :func:`token_batches` / :func:`batch_dataset`: sentences as length-grouped batches of token ids
  (lesson 10's trick), served in a seeded order that changes every epoch, for ``model.fit``;
- :func:`fit_on_validation`: ``model.fit`` with ``EarlyStopping(restore_best_weights=True)`` on
  validation accuracy, returning the chosen epoch with the wall time per epoch and the peak memory
  the run allocated (TensorFlow's own allocator statistics: CPU memory included);
- :func:`imagenet_classifier` / :func:`split_at`: MobileNetV2 *with* its 1000-class ImageNet
  classifier at any input size, cut in two so its frozen bottom can be cached;
- :func:`imagenet_scores`: how much of ImageNet's own task a fine-tuned network still does.

Own code, not a library's: Keras has early stopping but no per-run cost report, and keeps no
record of which ImageNet head belongs to which convolutional weights (see :func:`imagenet_classifier`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DOG_CLASSES = range(151, 269)   # ImageNet class indices: the 118 dog breeds
CAT_CLASSES = range(281, 286)   # tabby, tiger cat, Persian, Siamese, Egyptian cat


def token_batches(tokenizer, sentences: Sequence[str], labels, max_length: int, batch_size: int
                  ) -> list[tuple[tuple[np.ndarray, np.ndarray], np.ndarray]]:
    """Length-grouped batches ``((token_ids, padding_mask), labels)`` for a BERT-style classifier.

    Each sentence becomes ``[CLS] ... [SEP]``, cut at ``max_length`` ids; sentences of similar
    length share a batch, so little padding is computed (lesson 10).
    """
    from course_utils.methods.text import pad_batch
    from course_utils.taught.text_transfer import encode, length_batches

    ids = encode(tokenizer, sentences, max_length)
    y = np.asarray(labels, dtype="float32").reshape(-1)
    if len(y) != len(ids):
        raise ValueError(f"{len(ids)} sentences but {len(y)} labels")
    out = []
    for batch in length_batches(np.array([len(i) for i in ids]), batch_size):
        token_ids, mask = pad_batch([ids[i] for i in batch])
        out.append(((token_ids, mask), y[batch]))
    return out


def batch_dataset(batches: Sequence, seed: int | None = None):
    """A ``tf.data.Dataset`` of ready-made ``((x, mask), y)`` batches; with ``seed``, a new seeded
    order every epoch.

    ``x`` is ``(batch, length)`` token ids or ``(batch, length, features)`` hidden states. Batch and
    length are declared ``None``, so Keras traces its training step once for all batches.
    """
    import tensorflow as tf

    (x0, m0), _ = batches[0]
    x0, m0 = np.asarray(x0), np.asarray(m0)
    signature = ((tf.TensorSpec((None, None, *x0.shape[2:]), tf.as_dtype(x0.dtype)),
                  tf.TensorSpec((None, None), tf.as_dtype(m0.dtype))),
                 tf.TensorSpec((None,), tf.float32))
    epoch = [0]

    def generate():
        order = (np.random.default_rng([seed, epoch[0]]).permutation(len(batches)) if seed is not None
                 else range(len(batches)))
        epoch[0] += 1
        for i in order:
            yield batches[i]

    data = tf.data.Dataset.from_generator(generate, output_signature=signature)
    return data.apply(tf.data.experimental.assert_cardinality(len(batches)))   # fit knows the epoch's end


def peak_memory_mb(run: Callable[[], Any]) -> tuple[Any, float]:
    """``(run(), MB)``: the most memory TensorFlow's allocator held during ``run`` above what it held before.

    Read from ``tf.config.experimental.get_memory_info("CPU:0")`` (or the first GPU), whose peak
    is reset first: weights that already exist do not count, the optimizer state a first ``fit``
    creates, the gradients and the activations do.
    """
    import gc

    import tensorflow as tf

    device = "GPU:0" if tf.config.list_logical_devices("GPU") else "CPU:0"
    gc.collect()             # tensors nobody holds any more would otherwise be freed during `run`
    tf.config.experimental.reset_memory_stats(device)
    before = tf.config.experimental.get_memory_info(device)["current"]
    result = run()
    return result, (tf.config.experimental.get_memory_info(device)["peak"] - before) / 1e6


@dataclass(frozen=True)
class FitReport:
    """One fine-tuning run: the epoch validation chose, its validation accuracy and what it cost."""

    epoch: int
    val_accuracy: float
    seconds_per_epoch: float
    peak_mb: float


def fit_on_validation(model, train, validation, epochs: int, seed: int = 0, batch_size: int = 32
                      ) -> FitReport:
    """Train ``model`` for ``epochs`` and keep the epoch with the best validation accuracy.

    ``train`` and ``validation`` are ``(x, y)`` arrays (shuffled with ``seed``) or datasets.
    Ties keep the earlier epoch. The model must be compiled with an ``accuracy`` metric.
    """
    import keras

    from course_utils import timing

    stop = keras.callbacks.EarlyStopping("val_accuracy", mode="max", patience=epochs,
                                         restore_best_weights=True)
    timer = timing.epoch_timer()
    kwargs = {"shuffle": False}      # arrays are shuffled here, with the seed; datasets shuffle themselves
    if isinstance(train, tuple):
        x, y = train
        order = np.random.default_rng(seed).permutation(len(y))
        train, kwargs = x[order], {**kwargs, "y": np.asarray(y)[order], "batch_size": batch_size}
    _, peak = peak_memory_mb(lambda: model.fit(train, validation_data=validation, epochs=epochs,
                                               verbose=0, callbacks=[stop, timer], **kwargs))
    return FitReport(int(stop.best_epoch) + 1, float(stop.best), float(np.median(timer.seconds)), peak)


def count_weights(weights) -> int:
    """How many numbers ``weights`` hold (e.g. ``model.trainable_weights``)."""
    return int(sum(int(np.prod(w.shape)) for w in weights))


def imagenet_classifier(image_size: int, verbose: bool = True):
    """MobileNetV2 at ``image_size`` (no top, average pooling) and the ImageNet classifier that belongs to it.

    Returns ``(base, kernel, bias)``: ``softmax(base(x) @ kernel + bias)`` is ImageNet's 1000-class
    prediction. The convolutional weights come from the same file as the classifier: a network's
    head only reads the features of the weights it was trained with (in the course mirror the
    no-top file is another training run, whose features this head cannot read). Keras' file is
    for 224 px; the network is fully convolutional, so its weights are copied into one built at
    ``image_size``.
    """
    import keras

    from course_utils import backbones

    full = backbones.load_backbone("mobilenet_v2", include_top=True, verbose=verbose)
    base = keras.applications.MobileNetV2(input_shape=(image_size, image_size, 3), include_top=False,
                                          pooling="avg", weights=None)
    for layer in base.layers:
        if layer.weights:
            layer.set_weights(full.get_layer(layer.name).get_weights())
    kernel, bias = full.get_layer("predictions").get_weights()
    return base, kernel, bias


def split_at(base, first_trainable: str):
    """``(bottom, top)``: ``base`` cut at the layer named ``first_trainable``, sharing its weights.

    ``top(bottom(x))`` computes ``base(x)``; the bottom's outputs can be cached like features.
    """
    import keras

    cut = base.get_layer(first_trainable).input
    return keras.Model(base.input, cut, name="bottom"), keras.Model(cut, base.output, name="top")


def imagenet_scores(pooled: np.ndarray, kernel: np.ndarray, bias: np.ndarray, is_dog: np.ndarray,
                    reference: np.ndarray | None = None) -> dict[str, float]:
    """ImageNet's own task on pooled features: cats vs dogs by its classifier, and agreement.

    ``cats vs dogs``: the share of photos where the classifier's total probability of the dog
    breeds vs the domestic cats names the right animal (``is_dog``: 1 for dogs). ``agreement``:
    the share of photos whose top-1 class (of 1000) equals ``reference`` (the pretrained network's).
    """
    logits = np.asarray(pooled, dtype="float64") @ kernel + bias
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dog = p[:, list(DOG_CLASSES)].sum(axis=1) > p[:, list(CAT_CLASSES)].sum(axis=1)
    out = {"cats vs dogs": float(np.mean(dog == np.asarray(is_dog).astype(bool))),
           "top1": logits.argmax(axis=1)}
    if reference is not None:
        out["agreement"] = float(np.mean(out["top1"] == np.asarray(reference)))
    return out


def hidden_batches(bottom, batches: Sequence) -> list:
    """``batches`` of token ids turned into the hidden states of ``bottom`` (the frozen lower layers).

    ``bottom`` maps ``{"token_ids", "segment_ids", "padding_mask"}`` to ``(batch, length, d)``;
    the padding masks and labels are kept, so the top layers train on these exactly as on tokens.
    """
    out = []
    for (token_ids, mask), y in batches:
        hidden = bottom({"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
                         "padding_mask": mask}, training=False)
        out.append(((np.asarray(hidden), mask), y))
    return out


def predict_in_batches(model, x: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """``model(x, training=False)`` batch by batch through one traced function (no ``predict`` set-up)."""
    from course_utils import features

    forward = features.forward_function(model)
    return np.concatenate([forward(x[i:i + batch_size]).numpy() for i in range(0, len(x), batch_size)])


def sentence_classifier(backbone, top_layers: int | None = None):
    """Lesson 10's pipeline as one trainable model: encoder -> mean pooling -> unit length -> ``"head"``.

    ``"head"`` is one sigmoid unit. The inputs are ``[token_ids, padding_mask]``; with
    ``top_layers=k`` they are ``[hidden_states, padding_mask]`` instead, the output of the layers
    below the last ``k`` transformer layers, and only those ``k`` layers of ``backbone`` run (they
    share its weights, so ``backbone`` itself is fine-tuned).
    """
    import keras

    from course_utils.taught.text_transfer import mean_pool

    mask = keras.Input((None,), dtype="bool", name="padding_mask")
    if top_layers is None:
        inputs = keras.Input((None,), dtype="int32", name="token_ids")
        x = backbone({"token_ids": inputs, "segment_ids": keras.ops.zeros_like(inputs),
                      "padding_mask": mask})["sequence_output"]
    else:
        inputs = x = keras.Input((None, backbone.hidden_dim), name="hidden_states")
        for i in range(backbone.num_layers - top_layers, backbone.num_layers):
            x = backbone.get_layer(f"transformer_layer_{i}")(x, padding_mask=mask)
    pooled = keras.layers.UnitNormalization()(mean_pool(x, mask))
    return keras.Model([inputs, mask], keras.layers.Dense(1, activation="sigmoid", name="head")(pooled))


def text_probe(x: np.ndarray, y: np.ndarray, seed: int, steps: int = 150):
    """Lesson 10's head on frozen sentence embeddings: ``steps`` full-batch Adam steps in one traced call."""
    import tensorflow as tf

    from course_utils import seeds
    from course_utils.taught.text_transfer import make_head

    seeds.seed_everything(seed)
    head = make_head(x.shape[1], steps_per_execution=steps)
    head.fit(tf.data.Dataset.from_tensors((x, np.asarray(y, "float32"))).repeat(steps), epochs=1, verbose=0,
             shuffle=False)   # a dataset is not shuffled by fit (it would warn that shuffle is ignored)
    return head


def softmax_head(n_classes: int, seed: int, features: int = 1280, name: str = "head"):
    """A fresh ``Dense(n_classes, softmax)`` head on ``features`` numbers, its start drawn with ``seed``."""
    import keras

    dense = keras.layers.Dense(n_classes, activation="softmax",
                               kernel_initializer=keras.initializers.GlorotUniform(seed))
    return keras.Sequential([keras.Input((features,)), dense], name=name)


@dataclass
class CachedBottom:
    """Runs on a frozen bottom's cached outputs: ``maps[key]`` with labels ``labels[key]``.

    Keys are ``"<task> train"``, ``"<task> val"`` and test sets by name. Every model is
    ``maps -> top -> head`` (:meth:`model`); :meth:`begin` puts a model back to a given top and
    head with a fresh optimizer (no retracing, see ``training.rewind``); :meth:`fit` chooses the
    epoch on the task's validation split; :meth:`probe` trains the head alone on pooled features.
    """

    maps: dict
    labels: dict
    epochs: int
    n_classes: int = 7

    def model(self, top, optimizer, model_class=None, **kwargs):
        """``maps -> top -> head``, compiled with ``optimizer`` (``model_class``: a Model subclass)."""
        import keras

        inputs = keras.Input(next(iter(self.maps.values())).shape[1:])
        outputs = softmax_head(self.n_classes, 0)(top(inputs, training=False))
        model = (model_class or keras.Model)(inputs, outputs, **kwargs)
        model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    @staticmethod
    def begin(model, head_weights, top_weights, learning_rate: float | None = None) -> None:
        """Put ``model`` back to ``top_weights`` and ``head_weights``, optimizer state zeroed."""
        from course_utils.methods.training import rewind

        model.layers[1].set_weights(top_weights)
        model.get_layer("head").set_weights(head_weights)
        rewind(model, model.get_weights(), learning_rate)

    def fit(self, model, task: str, seed: int) -> FitReport:
        """Train on ``"<task> train"``, keep the best epoch on ``"<task> val"``."""
        return fit_on_validation(model, (self.maps[f"{task} train"], self.labels[f"{task} train"]),
                                 (self.maps[f"{task} val"], self.labels[f"{task} val"]), self.epochs, seed)

    def accuracy(self, model, key: str) -> float:
        """``model``'s accuracy on the set ``key``."""
        return float(np.mean(predict_in_batches(model, self.maps[key]).argmax(1) == self.labels[key]))

    def probe(self, pooled: dict, task: str, seed: int, epochs: int = 60) -> list:
        """The linear probe: a fresh head trained on ``pooled["<task> train"]`` (Adam 1e-2); its weights."""
        import keras

        head = softmax_head(self.n_classes, seed)
        head.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
        head.fit(pooled[f"{task} train"], self.labels[f"{task} train"], epochs=epochs, batch_size=64,
                 verbose=0)
        return head.get_weights()


def relative_change(features: np.ndarray, reference: np.ndarray) -> float:
    """How far ``features`` moved from ``reference``, row by row, relative to its length: the mean of
    ``|f - f0| / |f0|`` (0: unchanged; 1: moved as far as the features are long)."""
    moved = np.linalg.norm(np.asarray(features) - reference, axis=1)
    return float(np.mean(moved / np.linalg.norm(reference, axis=1)))
