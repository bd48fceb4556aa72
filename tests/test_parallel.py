"""ordered_map: the items' order whatever finishes first, bounded lookahead, errors at their item."""

from __future__ import annotations

import threading
import time

import pytest

from course_utils.parallel import ordered_map


def test_results_come_in_the_items_order_whatever_finishes_first():
    def slow_first(i):
        time.sleep(0.02 if i % 3 == 0 else 0.0)
        return i * i

    assert list(ordered_map(slow_first, range(20), workers=4, ahead=6)) == [i * i for i in range(20)]


def _threads(name):
    return [t for t in threading.enumerate() if t.name.startswith(name)]


def test_it_never_runs_more_than_ahead_items_before_the_reader():
    started = []
    stream = ordered_map(lambda i: started.append(i) or i, range(100), workers=3, ahead=5, name="ahead-test")
    assert next(stream) == 0
    time.sleep(0.05)
    assert len(started) <= 6  # the first five, and the one submitted when the first was taken
    assert 1 <= len(_threads("ahead-test")) <= 3
    stream.close()  # the rest is cancelled, the threads end
    assert not _threads("ahead-test")


def test_an_error_is_raised_at_its_item_and_no_thread_outlives_the_map():
    def fail_at_3(i):
        if i == 3:
            raise ValueError("item 3")
        return i

    got = []
    with pytest.raises(ValueError, match="item 3"):
        for value in ordered_map(fail_at_3, range(10), workers=2, ahead=4, name="error-test"):
            got.append(value)
    assert got == [0, 1, 2] and not _threads("error-test")
