"""Tests for the epoch timer callback."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import timing


def test_steady_epoch_seconds_skips_the_first_epoch():
    assert timing.steady_epoch_seconds([5.0, 1.0, 2.0]) == 1.5
    assert timing.steady_epoch_seconds([3.0]) == 3.0
    with pytest.raises(ValueError):
        timing.steady_epoch_seconds([])


def test_epoch_timer_records_one_time_per_epoch():
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    timer = timing.epoch_timer()
    model.fit(np.zeros((4, 2)), np.zeros(4), epochs=3, verbose=0, callbacks=[timer])
    assert len(timer.seconds) == 3 and all(s >= 0 for s in timer.seconds)


def test_steady_step_seconds_is_the_median_after_the_first_epoch():
    steps = [(0, 9.0), (0, 8.0), (1, 1.0), (1, 5.0), (1, 2.0)]
    assert timing.steady_step_seconds(steps) == 2.0
    assert timing.steady_step_seconds([(0, 3.0), (0, 1.0)]) == 2.0
    with pytest.raises(ValueError):
        timing.steady_step_seconds([])


def test_step_timer_records_every_step_with_its_epoch():
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    timer = timing.step_timer()
    model.fit(np.zeros((8, 2)), np.zeros(8), epochs=2, batch_size=4, verbose=0, callbacks=[timer])
    assert [epoch for epoch, _ in timer.steps] == [0, 0, 1, 1]


def test_median_ms_skips_the_warm_up_and_takes_the_median(monkeypatch):
    ticks = iter([0.0, 0.001, 1.0, 1.003, 2.0, 2.5, 3.0, 3.002])   # calls of 1, 3, 500 and 2 ms
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(ticks))
    calls = []
    assert timing.median_ms(lambda: calls.append(1), repeats=4) == pytest.approx(2.5)
    assert len(calls) == 5   # one warm-up call, not timed
    with pytest.raises(ValueError):
        timing.median_ms(lambda: None, repeats=0)
