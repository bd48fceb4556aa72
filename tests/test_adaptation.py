"""Tests for course_utils.methods.adaptation: shift measures, and mechanisms that hold across seeds.

The mechanism tests use a small synthetic two-domain problem (see :func:`two_domains`):
the class is in feature 0 for both domains; feature 1 is a clean class shortcut in the
source but pure, high-variance noise in the target; feature 2 is class-free but shifted
in the target. A source-only model leans on the shortcut and loses accuracy on the target.
"""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from course_utils.methods import adaptation  # noqa: E402
from course_utils.taught import domain_mismatch as taught07  # noqa: E402

SEEDS = (0, 1, 2)


def two_domains(seed: int, n: int = 800) -> tuple[np.ndarray, ...]:
    """Return ``xs, ys, xt, yt``: a labelled source and a shifted target (3 features)."""
    rng = np.random.default_rng(seed)

    def draw(target: bool):
        y = rng.integers(0, 2, n)
        sign = 2.0 * y - 1.0
        x0 = sign + rng.normal(0, 1.0, n)
        x1 = rng.normal(0, 3.0, n) if target else sign + rng.normal(0, 0.3, n)
        x2 = rng.normal(3.0 if target else 0.0, 1.0, n)
        return np.stack([x0, x1, x2], axis=1).astype("float32"), y

    xs, ys = draw(False)
    xt, yt = draw(True)
    return xs, ys, xt, yt


def accuracy(model, x, y) -> float:
    """Accuracy of a softmax classifier."""
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))


# ---------------------------------------------------------------- measuring a shift


def test_domain_measures_separate_same_from_shifted() -> None:
    """Same distribution: PAD ~ 0, MMD ~ 0; shifted: PAD near 2, distances clearly larger."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 5)), rng.normal(size=(400, 5))
    c = rng.normal(size=(400, 5)) + np.array([3.0, 0, 0, 0, 0])
    assert adaptation.proxy_a_distance(a, b) < 0.3
    assert adaptation.proxy_a_distance(a, c) > 1.6
    assert 0.45 <= adaptation.domain_classifier_accuracy(a, b) <= 0.6
    assert adaptation.mean_distance(a, c) > 2.5 > 0.5 > adaptation.mean_distance(a, b)
    assert adaptation.mmd_rbf(a, c) > 10 * adaptation.mmd_rbf(a, b)
    assert adaptation.coral_distance(a, b) < adaptation.coral_distance(a, 3 * b)


def test_domain_classifier_needs_samples() -> None:
    """Too few samples is a clear error, not a meaningless number."""
    with pytest.raises(ValueError, match="at least 4"):
        adaptation.domain_classifier_accuracy(np.zeros((2, 3)), np.ones((10, 3)))


def test_coral_loss_formula() -> None:
    """Zero for identical batches, ignores mean shifts, equals the NumPy CORAL distance."""
    rng = np.random.default_rng(1)
    s = rng.normal(size=(64, 6)).astype("float32")
    t = (rng.normal(size=(64, 6)) * np.array([1, 2, 3, 1, 1, 0.5])).astype("float32")
    assert float(taught07.coral_loss(s, s)) == pytest.approx(0.0, abs=1e-7)
    assert float(taught07.coral_loss(s, s + 5.0)) == pytest.approx(0.0, abs=1e-5)
    assert float(taught07.coral_loss(s, t)) == pytest.approx(adaptation.coral_distance(s, t), rel=1e-4)
    cs, ct = np.cov(s, rowvar=False), np.cov(t, rowvar=False)
    assert float(taught07.coral_loss(s, t)) == pytest.approx(np.sum((cs - ct) ** 2) / (4 * 36), rel=1e-4)


def test_lambda_schedule() -> None:
    """0 at the start, rises monotonically, ~1 at the end; the DANN formula exactly."""
    values = [adaptation.lambda_schedule(p) for p in np.linspace(0, 1, 11)]
    assert values[0] == 0.0 and values[-1] > 0.999
    assert all(b > a for a, b in zip(values, values[1:], strict=False))
    assert adaptation.lambda_schedule(0.3) == pytest.approx(2 / (1 + np.exp(-3)) - 1)
    assert adaptation.lambda_schedule(2.0) == adaptation.lambda_schedule(1.0)


def test_pseudo_label() -> None:
    """Keeps rows whose top probability reaches the threshold, with their argmax."""
    probs = np.array([[0.95, 0.05], [0.6, 0.4], [0.1, 0.9]])
    mask, labels = adaptation.pseudo_label(probs, 0.9)
    assert mask.tolist() == [True, False, True] and labels.tolist() == [0, 0, 1]
    assert adaptation.pseudo_label(probs, 0.0)[0].all()
    with pytest.raises(ValueError):
        adaptation.pseudo_label(probs, 1.5)
    with pytest.raises(ValueError):
        adaptation.pseudo_label(probs[0], 0.5)


# ---------------------------------------------------------------- gradient reversal


def test_gradient_reversal_forward_identity_backward_negated() -> None:
    """Forward: the identity. Backward: -lambda times the incoming gradient, lambda settable."""
    layer = taught07.GradientReversal(lam=0.7)
    x = tf.constant(np.arange(6, dtype="float32").reshape(2, 3))
    w = tf.constant([[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(y * w)
    np.testing.assert_allclose(y.numpy(), x.numpy())
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), -0.7 * w.numpy(), rtol=1e-6)
    layer.lam.assign(0.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x) * w)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), 0.0)


def test_gradient_reversal_saves_and_loads(tmp_path) -> None:
    """The layer is registered serializable: a model using it round-trips through .keras."""
    model = keras.Sequential([keras.Input((3,)), taught07.GradientReversal(lam=0.25),
                              keras.layers.Dense(1)])
    path = tmp_path / "grl.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.layers[0], taught07.GradientReversal)
    assert loaded.layers[0].get_config()["lam"] == 0.25
    x = np.ones((2, 3), dtype="float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


# ---------------------------------------------------------------- mechanisms, across seeds


def bn_classifier(seed: int) -> keras.Model:
    """A small MLP that normalises its inputs with BatchNormalization."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((3,)),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(2, activation="softmax"),
    ])


@pytest.mark.parametrize("seed", SEEDS)
def test_adabn_improves_target_accuracy(seed: int) -> None:
    """Target = source rescaled and shifted per feature: AdaBN's target statistics undo it."""
    xs, ys, _, _ = two_domains(seed)
    # A clean affine shift of the *source* distribution: same classes, new units and origin.
    fresh, yt, _, _ = two_domains(seed + 50)
    xt = fresh * np.array([3.0, 0.5, 2.0], dtype="float32") + np.array([4.0, -2.0, 1.0], dtype="float32")
    model = bn_classifier(seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(xs, ys, epochs=15, batch_size=64, verbose=0)
    before = accuracy(model, xt, yt)
    source_acc = accuracy(model, xs, ys)
    model = taught07.adabn(model, xt)
    after = accuracy(model, xt, yt)
    assert after >= before + 0.15, (before, after)
    assert after >= source_acc - 0.05, (source_acc, after)
    np.testing.assert_allclose(model.layers[0].moving_mean.numpy(), xt.mean(axis=0), rtol=1e-4)


def train_two_heads(seed: int, xs, ys, xt, steps: int = 600, coral_weight: float = 0.0,
                    dann: bool = False, lr: float = 1e-2):
    """Train feature extractor + classifier on labelled source, a domain head on both domains.

    ``coral_weight > 0`` adds the CORAL loss between source and target features.
    The domain head always trains (source 0 vs target 1) behind a gradient reversal
    layer; ``dann`` ramps its lambda with the DANN schedule, otherwise lambda stays 0,
    so the features get no gradient from the domain loss (a plain domain probe).
    Returns ``(classifier model, feature extractor, domain head)``.
    """
    keras.utils.set_random_seed(seed)
    features = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="relu")])
    classifier = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, activation="softmax")])
    grl = taught07.GradientReversal(lam=0.0)
    domain = keras.Sequential([keras.Input((8,)), grl, keras.layers.Dense(8, activation="relu"),
                               keras.layers.Dense(1, activation="sigmoid")])
    opt = keras.optimizers.Adam(lr)
    ce = keras.losses.SparseCategoricalCrossentropy()
    bce = keras.losses.BinaryCrossentropy()
    variables = features.trainable_weights + classifier.trainable_weights + domain.trainable_weights
    d_labels = tf.concat([tf.zeros((len(xs), 1)), tf.ones((len(xt), 1))], axis=0)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            fs, ft = features(xs, training=True), features(xt, training=True)
            loss = ce(ys, classifier(fs, training=True))
            if coral_weight:
                loss += coral_weight * taught07.coral_loss(fs, ft)
            loss += bce(d_labels, domain(tf.concat([fs, ft], axis=0), training=True))
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))

    for i in range(steps):
        grl.lam.assign(adaptation.lambda_schedule(i / steps) if dann else 0.0)
        step()
    return keras.Sequential([features, classifier]), features, domain


@pytest.mark.parametrize("seed", SEEDS)
def test_coral_improves_target_accuracy(seed: int) -> None:
    """Aligning feature covariances stops the model from leaning on the source-only shortcut."""
    xs, ys, xt, yt = two_domains(seed)
    plain, _, _ = train_two_heads(seed, xs, ys, xt)
    coral, _, _ = train_two_heads(seed, xs, ys, xt, coral_weight=10.0)
    before, after = accuracy(plain, xt, yt), accuracy(coral, xt, yt)
    assert after >= before + 0.03, (before, after)


def domain_accuracy(features, domain, xs, xt) -> float:
    """Accuracy of a trained domain head (source 0, target 1) on both domains."""
    p = np.concatenate([domain.predict(features.predict(x, verbose=0), verbose=0) for x in (xs, xt)])
    d = np.concatenate([np.zeros(len(xs)), np.ones(len(xt))])
    return float(np.mean((p.ravel() > 0.5) == d))


@pytest.mark.parametrize("seed", SEEDS)
def test_dann_pushes_domain_classifier_towards_chance(seed: int) -> None:
    """Same networks, same training: with the reversed gradient the domain head ends near chance."""
    xs, ys, xt, _ = two_domains(seed)
    _, plain_features, plain_domain = train_two_heads(seed, xs, ys, xt)
    _, dann_features, dann_domain = train_two_heads(seed, xs, ys, xt, dann=True)
    without = domain_accuracy(plain_features, plain_domain, xs, xt)
    with_dann = domain_accuracy(dann_features, dann_domain, xs, xt)
    assert without >= 0.9, without
    assert with_dann <= without - 0.15, (without, with_dann)


def test_adabn_in_one_pass_sets_target_statistics_on_a_copy_of_a_frozen_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, use_bias=False),
                              keras.layers.BatchNormalization()])
    model.trainable = False
    bn = model.layers[-1]
    x = np.random.default_rng(0).normal(5.0, 2.0, (100, 4)).astype("float32")
    adapted = adaptation.adabn_in_one_pass(model, x, max_images=100, batch_size=100)
    acts = model.layers[0](x).numpy()  # what the BN layer sees
    new_bn = adaptation.batchnorm_layers(adapted)[0]
    np.testing.assert_allclose(new_bn.moving_mean.numpy(), acts.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(new_bn.moving_variance.numpy(), acts.var(0), rtol=1e-3, atol=1e-3)
    assert np.allclose(bn.moving_mean.numpy(), 0) and np.allclose(bn.moving_variance.numpy(), 1)  # untouched
    assert not new_bn.trainable and new_bn.momentum == bn.momentum  # flags restored
    np.testing.assert_allclose(adapted.layers[0].kernel.numpy(), model.layers[0].kernel.numpy())


def test_adabn_in_one_pass_needs_two_images():
    model = keras.Sequential([keras.Input((2,)), keras.layers.BatchNormalization()])
    with pytest.raises(ValueError, match="at least 2"):
        adaptation.adabn_in_one_pass(model, np.zeros((1, 2), "float32"))


def test_centroid_pseudo_labels_follow_target_clusters_not_a_shifted_boundary():
    rng = np.random.default_rng(0)
    centres = np.array([[1.0, 0.2], [0.2, 1.0]])
    y = rng.integers(0, 2, 400)
    feats = centres[y] + rng.normal(0, 0.15, (400, 2))
    # a source classifier whose boundary the shift has moved: it calls most class-1 points class 0
    logit = 4 * (feats[:, 1] - feats[:, 0] - 0.8)
    probs = np.stack([1 / (1 + np.exp(logit)), 1 / (1 + np.exp(-logit))], axis=1)
    before = np.mean(probs.argmax(1) == y)
    after = np.mean(adaptation.centroid_pseudo_labels(feats, probs) == y)
    assert before < 0.85 and after > 0.97, (before, after)


def test_centroid_pseudo_labels_checks_shapes():
    with pytest.raises(ValueError, match="expected feats"):
        adaptation.centroid_pseudo_labels(np.zeros((3, 2)), np.zeros((4, 2)))


def test_adabn_in_one_pass_averages_batches_and_never_uses_a_one_image_batch():
    model = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization()])
    x = np.random.default_rng(1).normal(-2.0, 3.0, (65, 3)).astype("float32")  # 32 + 33: no 1-image batch
    bn = adaptation.batchnorm_layers(adaptation.adabn_in_one_pass(model, x, max_images=65, batch_size=32))[0]
    first, second = x[:32], x[32:]
    mean, var = (first.mean(0) + second.mean(0)) / 2, (first.var(0) + second.var(0)) / 2
    np.testing.assert_allclose(bn.moving_mean.numpy(), mean, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(), var, rtol=1e-3, atol=1e-3)


def test_shift_measures_name_every_measure_and_see_a_shift() -> None:
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(300, 4)), rng.normal(size=(300, 4)), rng.normal(2.0, 1.0, size=(300, 4))
    same, shifted = adaptation.shift_measures(a, b), adaptation.shift_measures(a, c)
    assert list(same) == ["domain accuracy", "proxy A-distance", "mean distance", "CORAL distance", "MMD"]
    assert all(shifted[k] > same[k] for k in same if k != "CORAL distance")


def test_domain_features_extracts_every_split_and_adapts_domains_with_training_images(monkeypatch) -> None:
    from types import SimpleNamespace

    from course_utils import backbones, datasets

    def fake_images(name, split, image_size, per_class=None, seed=0, domain=None, verbose=True):
        shift = {"a": 0.0, "b": 50.0}[domain]
        x = np.random.default_rng(len(split)).uniform(0, 100, (6, 4, 4, 3)).astype("float32") + shift
        return SimpleNamespace(x=x, y=np.array([0, 1, 0, 1, 0, 1]), class_names=["c0", "c1"])

    monkeypatch.setattr(datasets, "load_images", fake_images)
    monkeypatch.setattr(backbones, "preprocess", lambda name, x: x / 100.0)
    keras.utils.set_random_seed(0)
    base = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.BatchNormalization(),
                             keras.layers.GlobalAveragePooling2D()])
    feats, adapted, examples, names = adaptation.domain_features(
        base, "fake", {"a": {"test": 2}, "b": {"train": 2, "test": 2}}, 4, adabn_images=6, verbose=False)
    assert set(feats) == {("a", "test"), ("b", "train"), ("b", "test"),
                          ("adabn", "b", "train"), ("adabn", "b", "test")}
    assert list(adapted) == ["b"] and names == ["c0", "c1"] and len(examples["a"]) == 2
    assert not np.allclose(feats["b", "test"][0], feats["adabn", "b", "test"][0])   # b's own statistics
    assert np.array_equal(feats["adabn", "b", "test"][1], feats["b", "test"][1])
