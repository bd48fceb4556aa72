"""An ordered map over a thread pool that never runs far ahead of whoever consumes it.

Why our own: ``ThreadPoolExecutor.map`` submits every item at once (a whole folder's photos
decoded into memory before the first is used) and its work goes on after the caller stops;
``tf.data`` would move Pillow's decoding, and the reason each bad file is skipped, into a graph.
Used by image decoding (``images.read_images``) and by LiteRT's per-core streams
(``litert.Runner.map``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
_END = object()


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int, ahead: int,
                name: str = "course") -> Iterator[R]:
    """Yield ``fn(item)`` for each item, in the items' order, computed in ``workers`` threads.

    At most ``ahead`` items are being computed or waiting for the caller, which bounds memory.
    An exception raised by ``fn`` is raised here, at its item; stopping early (``break``, or
    closing the generator) cancels what has not started and waits for what has, so no thread
    outlives the generator.
    """
    source = iter(items)
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix=name)
    pending: deque = deque()
    try:
        for item in source:
            pending.append(pool.submit(fn, item))
            if len(pending) >= max(1, ahead):
                break
        while pending:
            result = pending.popleft().result()
            nxt = next(source, _END)
            if nxt is not _END:
                pending.append(pool.submit(fn, nxt))
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
