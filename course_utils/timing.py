"""Timing helpers: Keras callbacks that record how long epochs and training steps take."""

from __future__ import annotations

import statistics
import time


def steady_epoch_seconds(seconds: list[float]) -> float:
    """Mean epoch time without the first epoch (which also builds the graph), if there are more."""
    if not seconds:
        raise ValueError("no epochs were timed")
    rest = seconds[1:] or seconds
    return sum(rest) / len(rest)


def steady_step_seconds(steps: list[tuple[int, float]]) -> float:
    """Median time of a training step, leaving out the first epoch's steps when there are others.

    ``steps`` holds ``(epoch, seconds)`` pairs, as recorded by :func:`step_timer`. The median
    shrugs off the odd step slowed down by another process on a shared machine.
    """
    if not steps:
        raise ValueError("no steps were timed")
    later = [s for epoch, s in steps if epoch > 0]
    return statistics.median(later or [s for _, s in steps])


def epoch_timer():
    """Return a Keras callback whose ``seconds`` list gets each epoch's wall time."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Records each epoch's wall-clock time in ``self.seconds``."""

        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []
            self._start = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


def step_timer():
    """Return a Keras callback whose ``steps`` list gets ``(epoch, seconds)`` per training step."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        """Records each training step's wall-clock time, with its epoch, in ``self.steps``."""

        def __init__(self):
            super().__init__()
            self.steps: list[tuple[int, float]] = []
            self._epoch = 0
            self._start = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            self._start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.steps.append((self._epoch, time.perf_counter() - self._start))

    return StepTimer()


def median_ms(run, repeats: int = 30) -> float:
    """Median wall-clock milliseconds of ``run()`` over ``repeats`` calls, after one uncounted warm-up.

    The median, not the mean: on a shared machine the odd call slowed down by another process
    would otherwise decide the number.
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)
