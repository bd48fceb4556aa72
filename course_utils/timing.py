"""Timing helpers: a Keras callback that records how long each epoch takes."""

from __future__ import annotations

import time


def steady_epoch_seconds(seconds: list[float]) -> float:
    """Mean epoch time without the first epoch (which also builds the graph), if there are more."""
    if not seconds:
        raise ValueError("no epochs were timed")
    rest = seconds[1:] or seconds
    return sum(rest) / len(rest)


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
