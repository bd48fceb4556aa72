"""Lesson 07's checks on learners' answers: right ones written differently from the solution earn
full points, plausible mistakes lose theirs (made-up proxy A-distances, a wrong gradient reversal)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from checks_support import captured, fails, full, run  # noqa: E402

from course_utils.checks import lesson07  # noqa: E402
from course_utils.exercise_data import domain_mismatch  # noqa: E402
from course_utils.exercise_data.domain_mismatch import coral_pairs, probe_reversal  # noqa: E402

# --- Exercise 1: CORAL -------------------------------------------------------------------------------


def coral_numpy(fs, ft):
    """Right, written another way: NumPy's unbiased covariance."""
    fs, ft = np.asarray(fs, dtype="float64"), np.asarray(ft, dtype="float64")
    return float(np.sum((np.cov(fs, rowvar=False) - np.cov(ft, rowvar=False)) ** 2) / (4 * fs.shape[1] ** 2))


def coral_ops(fs, ft):
    """Right, written another way: keras.ops, an einsum for the covariance."""
    ops = keras.ops

    def cov(x):
        x = ops.convert_to_tensor(x, "float32")
        c = x - ops.mean(x, axis=0)
        return ops.einsum("ni,nj->ij", c, c) / (ops.cast(ops.shape(x)[0], "float32") - 1)

    d = float(np.shape(fs)[1])
    return float(ops.sum((cov(fs) - cov(ft)) ** 2) / (4 * d * d))


def coral_not_centred(fs, ft):
    """Mistake: no centring (the second moment, not the covariance)."""
    fs, ft = np.asarray(fs, dtype="float64"), np.asarray(ft, dtype="float64")
    m = fs.T @ fs / (len(fs) - 1) - ft.T @ ft / (len(ft) - 1)
    return float(np.sum(m**2) / (4 * fs.shape[1] ** 2))


def coral_biased(fs, ft):
    """Mistake: covariances divided by n, not n - 1."""
    fs, ft = np.asarray(fs, dtype="float64"), np.asarray(ft, dtype="float64")
    diff = np.cov(fs, rowvar=False, bias=True) - np.cov(ft, rowvar=False, bias=True)
    return float(np.sum(diff**2) / (4 * fs.shape[1] ** 2))


def coral_no_four(fs, ft):
    """Mistake: divided by d^2, not 4 d^2."""
    return 4 * coral_numpy(fs, ft)


@pytest.mark.parametrize("coral", [coral_numpy, coral_ops])
def test_coral_accepts_other_ways_of_writing_it(coral):
    assert full(run("07.coral_loss", values=[coral(s, t) for s, t in coral_pairs(7)]))
    assert full(run("07.coral_loss_hidden", values=[coral(s, t) for s, t in coral_pairs(2024)]))


@pytest.mark.parametrize(("coral", "hint"), [(coral_not_centred, "centre"), (coral_biased, "n - 1"),
                                             (coral_no_four, "constant multiple")])
def test_coral_mistakes(coral, hint):
    assert fails(run("07.coral_loss", values=[coral(s, t) for s, t in coral_pairs(7)]), hint)
    assert fails(run("07.coral_loss_hidden", values=[coral(s, t) for s, t in coral_pairs(2024)]))


# --- Exercise 2: AdaBN -------------------------------------------------------------------------------

def feature_net() -> keras.Model:
    return keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(3, 2, use_bias=False),
                             keras.layers.BatchNormalization(), keras.layers.ReLU(), keras.layers.Flatten(),
                             keras.layers.Dense(4, use_bias=False), keras.layers.BatchNormalization()],
                            name="features")


def adabn_one_pass(features, target_x):
    """Right, written another way: momentum 0, one training-mode pass over the whole target set."""
    adapted = keras.models.clone_model(features)
    adapted.set_weights(features.get_weights())
    norms = [layer for layer in adapted.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for bn in norms:
        bn.momentum = 0.0
    adapted(np.asarray(target_x, "float32"), training=True)   # gamma/beta untouched: no optimizer step
    return adapted


def adabn_from_source_activations(features, target_x):
    """Mistake: each layer's statistics from the *source* network's activations (not layer by layer)."""
    adapted = keras.models.clone_model(features)
    adapted.set_weights(features.get_weights())
    for src, bn in zip(features.layers, adapted.layers, strict=True):
        if isinstance(bn, keras.layers.BatchNormalization):
            acts = np.asarray(keras.Model(features.inputs[0], src.input)(target_x))
            axes = tuple(range(acts.ndim - 1))
            bn.moving_mean.assign(acts.mean(axis=axes) + 0.5)
            bn.moving_variance.assign(acts.var(axis=axes))
    return adapted


@pytest.fixture
def adabn_case():
    rng = np.random.default_rng(0)
    features = feature_net()
    target = (rng.normal(2.0, 3.0, (64, 4, 4, 1))).astype("float32")
    return features, target


def test_adabn_statistics_accepts_the_one_pass_recipe(tmp_path, adabn_case):
    features, target = adabn_case
    adapted = adabn_one_pass(features, target)
    assert full(run("07.adabn_statistics", **captured(tmp_path, adapted=adapted, source=features, x=target)))


def test_adabn_statistics_mistakes(adabn_case):
    features, target = adabn_case
    assert fails(run("07.adabn_statistics", adapted=adabn_from_source_activations(features, target),
                     source=features, x=target), "moving_mean")
    unchanged = keras.models.clone_model(features)
    unchanged.set_weights(features.get_weights())
    assert fails(run("07.adabn_statistics", adapted=unchanged, source=features, x=target),
                 "source statistics")


def shift_world(monkeypatch):
    """A two-number "digit" whose class is the sign of its first number; the target is shifted by +3.
    The network is BatchNormalization -> softmax reading the first number."""
    rng = np.random.default_rng(1)
    xs = rng.normal(0, 1, (200, 2)).astype("float32")
    ys = (xs[:, 0] > 0).astype(int)
    xt = xs + np.array([3.0, 0.0], "float32")
    monkeypatch.setattr(lesson07, "source_digits", lambda: (xs, ys))
    monkeypatch.setattr(lesson07, "target_test_digits", lambda: (xt, ys))
    features = keras.Sequential([keras.Input((2,)), keras.layers.BatchNormalization()], name="features")
    classifier = keras.layers.Dense(2, activation="softmax")
    source_model = keras.Sequential([features, classifier])
    classifier.set_weights([np.array([[-5.0, 5.0], [0.0, 0.0]]), np.zeros(2)])
    return features, classifier, source_model, xt


def test_adabn_improves_accepts_an_adapted_copy_and_rejects_retraining(monkeypatch):
    features, classifier, source_model, xt = shift_world(monkeypatch)
    adapted = adabn_one_pass(features, xt)
    assert full(run("07.adabn_improves", adapted_model=keras.Sequential([adapted, classifier]),
                    source_model=source_model))
    unadapted = keras.models.clone_model(features)
    unadapted.set_weights(features.get_weights())
    assert fails(run("07.adabn_improves", adapted_model=keras.Sequential([unadapted, classifier]),
                     source_model=source_model), "gain")
    retrained = keras.layers.Dense(2, activation="softmax")
    retrained_model = keras.Sequential([adapted, retrained])
    retrained.set_weights([np.array([[-5.0, 5.0], [0.1, 0.0]]), np.zeros(2)])
    assert fails(run("07.adabn_improves", adapted_model=retrained_model, source_model=source_model),
                 "other learned weights")


# --- Exercise 3: the shift diagnosis -----------------------------------------------------------------

@pytest.fixture
def pad_world(monkeypatch):
    """MNIST test digits and MNIST-M, small: images of one brightness, and brighter ones."""
    rng = np.random.default_rng(2)
    same = rng.uniform(0, 100, (2000, 4, 4, 1)).astype("float32")
    target = rng.uniform(150, 255, (1200, 4, 4, 1)).astype("float32")
    monkeypatch.setattr(lesson07, "mnist_test_rgb32", lambda start, stop: (same[start:stop], None))
    monkeypatch.setattr(lesson07, "exercise_xt", lambda count: target[:count])
    feature_model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                                      keras.layers.Rescaling(1 / 255)])
    return feature_model, same, target


def fair_pad_permutation(feature_model, a, b, n=500, seed=0):
    """Right, written another way: a permutation instead of choice."""
    from course_utils.methods import adaptation

    rng = np.random.default_rng(seed)
    fa = feature_model.predict(a[rng.permutation(len(a))[:n]], verbose=0)
    fb = feature_model.predict(b[rng.permutation(len(b))[:n]], verbose=0)
    return adaptation.proxy_a_distance(fa, fb)


def test_shift_diagnosis_recomputes_the_distances(tmp_path, pad_world):
    feature_model, same, target = pad_world
    pads = {"pad_same": fair_pad_permutation(feature_model, same[:1000], same[1000:]),
            "pad_target": fair_pad_permutation(feature_model, same, target)}
    artifacts = captured(tmp_path, feature_model=feature_model, **pads)
    assert full(run("07.shift_diagnosis", cause="b", n_target=1200, **artifacts))
    made_up = {"pad_same": 0.45, "pad_target": 1.2}     # in the old accepted ranges, not measured
    assert fails(run("07.shift_diagnosis", cause="b", feature_model=feature_model, n_target=1200, **made_up),
                 "pad_same")
    first_rows = {"pad_same": 0.05, "pad_target": 1.2}
    assert fails(run("07.shift_diagnosis", cause="b", feature_model=feature_model, n_target=1200,
                     **first_rows), "pad_target")


def test_the_visible_check_does_not_judge_the_cause(pad_world):
    """Any of the three letters passes the visible check: its verdict would narrow the choice."""
    feature_model, same, target = pad_world
    pads = {"pad_same": lesson07.fair_pad_reference(feature_model, same[:1000], same[1000:]),
            "pad_target": lesson07.fair_pad_reference(feature_model, same, target)}
    outcomes = [run("07.shift_diagnosis", cause=c, feature_model=feature_model, n_target=1200, **pads)
                for c in "abc"]
    assert all(o.passed for o in outcomes)
    assert fails(run("07.shift_diagnosis", cause="d", feature_model=feature_model, n_target=1200, **pads),
                 "one letter")
    assert full(run("07.shift_cause", cause=" B "))
    assert fails(run("07.shift_cause", cause="a"))


def test_fair_pad_hidden_mistakes():
    assert full(run("07.fair_pad_hidden", values=[0.1, 1.8]))
    assert fails(run("07.fair_pad_hidden", values=[1.3, 1.8]), "random rows")      # first rows compared
    assert fails(run("07.fair_pad_hidden", values=[0.0, 0.0]), "features")         # a constant


# --- Exercise 4: gradient reversal --------------------------------------------------------------------

class ReversalWithOps(keras.layers.Layer):
    """Right, written another way: stop_gradient arithmetic, no custom gradient."""

    def __init__(self, lam=1.0, **kwargs):
        super().__init__(**kwargs)
        self.lam = lam

    def call(self, x):
        return (1.0 + self.lam) * tf.stop_gradient(x) - self.lam * x


class ReversalAsVariable(keras.layers.Layer):
    """Right, written another way: lam in a non-trainable variable (as the lesson), a nested function."""

    def __init__(self, lam=1.0, **kwargs):
        super().__init__(**kwargs)
        self.lam = self.add_weight(shape=(), initializer=keras.initializers.Constant(lam), trainable=False)

    def call(self, x):
        lam = keras.ops.cast(self.lam, x.dtype)

        @tf.custom_gradient
        def flip(t):
            return t * 1.0, lambda dy: -lam * dy

        return flip(x)


def custom(backward, forward=lambda x: tf.identity(x)):
    class Layer(keras.layers.Layer):
        def __init__(self, lam=1.0, **kwargs):
            super().__init__(**kwargs)
            self.lam = lam

        def call(self, x):
            lam = self.lam

            @tf.custom_gradient
            def f(t):
                return forward(t), lambda dy: backward(dy, lam)

            return f(x)

    return Layer


@pytest.mark.parametrize("layer", [ReversalWithOps, ReversalAsVariable])
def test_gradient_reversal_accepts_other_ways_of_writing_it(tmp_path, layer):
    assert full(run("07.gradient_reversal", **captured(tmp_path, probe=probe_reversal(layer, seed=7))))
    assert full(run("07.gradient_reversal_hidden", probe=probe_reversal(layer, seed=2024)))


@pytest.mark.parametrize(("layer", "hint"), [
    (custom(lambda dy, lam: dy), "unchanged"),
    (custom(lambda dy, lam: -dy), "not scaled by lam"),
    (custom(lambda dy, lam: lam * dy), "not negated"),
    (custom(lambda dy, lam: -lam * dy, forward=lambda x: -x), "way forward"),
    (custom(lambda dy, lam: -lam * tf.ones_like(dy)), "minus lam times"),
])
def test_gradient_reversal_mistakes(layer, hint):
    assert fails(run("07.gradient_reversal", probe=probe_reversal(layer, seed=7)), hint)
    assert fails(run("07.gradient_reversal_hidden", probe=probe_reversal(layer, seed=2024)))


def test_a_layer_that_blocks_the_gradient_is_told_so():
    class Blocks(keras.layers.Layer):
        def __init__(self, lam=1.0, **kwargs):
            super().__init__(**kwargs)

        def call(self, x):
            return tf.stop_gradient(x)

    assert fails(run("07.gradient_reversal", probe=probe_reversal(Blocks, seed=7)))



def test_the_exercise_data_does_not_explain_the_colleagues_mistake():
    import inspect

    source = inspect.getsource(domain_mismatch)
    for telling in ("sorted by class", "only the lowest classes", "first rows"):
        assert telling not in source, telling
