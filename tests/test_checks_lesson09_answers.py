"""Lesson 09's checks on learners' answers: a contrastive train_step written differently from the
solution earns full points, plausible mistakes lose theirs; the diagnosis and the temperature
checks judge numbers they recompute, and their messages never say what the check measured."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from checks_support import captured, fails, full, reveals, run  # noqa: E402

from course_utils.checks import lesson09  # noqa: E402
from course_utils.exercise_data.unsupervised_transfer import probe_train_step  # noqa: E402
from course_utils.taught.unsupervised_transfer import SimCLR, nt_xent_loss, positive_pairs_loss  # noqa: E402


def my_nt_xent(z1, z2, temperature):
    """NT-Xent written with keras.ops and an explicit cross-entropy over the other 2N - 1."""
    ops = keras.ops
    z = ops.concatenate([z1, z2], axis=0)
    z = z / ops.sqrt(ops.sum(z * z, axis=1, keepdims=True))
    n = ops.shape(z1)[0]
    sim = ops.matmul(z, ops.transpose(z)) / temperature
    sim = ops.where(ops.eye(2 * n) > 0, -1e9, sim)
    partner = ops.concatenate([ops.arange(n, 2 * n), ops.arange(0, n)])
    picked = ops.take_along_axis(sim, ops.expand_dims(partner, 1), axis=1)[:, 0]
    return ops.mean(ops.logsumexp(sim, axis=1) - picked)


class OneCallTwoViews(SimCLR):
    """Right, written another way: one augmenter call on the doubled batch, own NT-Xent, the model's
    own trainable weights, the raw loss returned."""

    def train_step(self, images):
        views = self.augment(tf.concat([images, images], axis=0), training=True)
        n = tf.shape(images)[0]
        with tf.GradientTape() as tape:
            z = self.projector(self.encoder(views, training=True), training=True)
            loss = my_nt_xent(z[:n], z[n:], self.temperature)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        return {"loss": loss}


def step_with(loss_fn=nt_xent_loss, same_views=False, training_views=True, temperature=None,
              parts="both", sign=1.0):
    """A train_step with one mistake switched on."""

    class Step(SimCLR):
        def train_step(self, images):
            first = self.augment(images, training=training_views)
            second = first if same_views else self.augment(images, training=training_views)
            if parts == "both":
                variables = self.encoder.trainable_weights + self.projector.trainable_weights
            else:
                variables = self.encoder.trainable_weights
            with tf.GradientTape() as tape:
                z1 = self.projector(self.encoder(first, training=True), training=True)
                z2 = self.projector(self.encoder(second, training=True), training=True)
                loss = loss_fn(z1, z2, temperature or self.temperature)
            grads = [sign * g for g in tape.gradient(loss, variables)]
            self.optimizer.apply_gradients(zip(grads, variables, strict=True))
            self.loss_tracker.update_state(loss)
            return {"loss": self.loss_tracker.result()}

    return Step


@pytest.mark.parametrize("model_class", [SimCLR, OneCallTwoViews, step_with()])
def test_train_step_accepts_steps_written_differently(tmp_path, model_class):
    probe = probe_train_step(model_class, seed=7)
    assert full(run("09.train_step", **captured(tmp_path, probe=probe)))
    assert full(run("09.train_step_hidden", probe=probe_train_step(model_class, seed=2024)))


@pytest.mark.parametrize(("model_class", "hint"), [
    (step_with(same_views=True), "two augmented views"),
    (step_with(training_views=False), "same"),
    (step_with(loss_fn=positive_pairs_loss), "not NT-Xent"),
    (step_with(temperature=0.2), "temperature 0.2"),
    (step_with(parts="encoder"), "projector's weights did not move"),
    (step_with(sign=-1.0), "higher, not lower"),
])
def test_train_step_mistakes(model_class, hint):
    assert fails(run("09.train_step", probe=probe_train_step(model_class, seed=7)), hint)
    assert fails(run("09.train_step_hidden", probe=probe_train_step(model_class, seed=2024)))


def test_nt_xent_reference_matches_the_lessons_loss():
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(5, 3)).astype("float32"), rng.normal(size=(5, 3)).astype("float32")
    assert np.isclose(lesson09.nt_xent_reference(z1, z2, 0.3), float(nt_xent_loss(z1, z2, 0.3)), rtol=1e-5)


@pytest.fixture
def measured(monkeypatch):
    """The diagnosis checks with their measurements stubbed: run A collapsed, C the one to transfer."""
    spreads = {"A": 0.012, "B": 0.934, "C": 0.871}
    probes = {"A": 0.214, "B": 0.512, "C": 0.733}
    monkeypatch.setattr(lesson09, "_run_models", lambda artifacts: {run: (None, None) for run in "ABC"})
    monkeypatch.setattr(lesson09, "_measure_runs", lambda models, draw, evaluation: (spreads, probes))
    monkeypatch.setattr(lesson09, "_require_untrained_b", lambda encoder: None)
    monkeypatch.setattr(lesson09, "exercise_digits", lambda split: None)
    monkeypatch.setattr(lesson09, "labelled", lambda where, seed: None)
    monkeypatch.setattr(lesson09, "digits", lambda where: None)
    models = {f"{part}_{run}": None for part in ("encoder", "projector") for run in "abc"}
    return spreads, probes, models


def test_collapse_checks_take_rounded_numbers_and_hide_what_they_measured(measured):
    spreads, probes, models = measured
    rounded = {"spreads": {k: round(v, 2) for k, v in spreads.items()},
               "probe_accuracy": {k: round(v, 2) for k, v in probes.items()}}
    verdicts = {"collapsed": {"A": True, "B": False, "C": False}, "transfer": "C"}
    assert full(run("09.collapse_diagnosis", **rounded, **verdicts, **models))
    assert full(run("09.collapse_diagnosis_hidden", **verdicts, **models))
    on_training_loss = {**rounded, "spreads": {"A": 0.9, "B": 0.9, "C": 0.9}}
    outcome = run("09.collapse_diagnosis", **on_training_loss, **verdicts, **models)
    assert fails(outcome, "not what the check measures")
    measured_values = [f"{v:.3f}" for v in spreads.values()] + [f"{v:.2f}" for v in spreads.values()]
    assert not reveals(outcome.message, measured_values)
    fooled = run("09.collapse_diagnosis_hidden", collapsed={"A": False, "B": False, "C": False},
                 transfer="A", **models)
    assert fails(fooled, "verdicts") and "run A" not in fooled.message


def test_the_exercise_data_does_not_say_what_the_colleagues_runs_were():
    import inspect

    from course_utils.exercise_data import unsupervised_transfer

    source = inspect.getsource(unsupervised_transfer)
    for telling in ("positives_only", "positive_pairs", '"lr": 0.0}', "collapse"):
        assert telling not in source, telling
    assert unsupervised_transfer.colleague_runs()["A"] == {"loss": "positives_only"}
