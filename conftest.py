"""Test-session set-up shared by the unit tests (tests/) and the lessons run by nbval (notebooks/).

Kernels that nbval starts inherit this process's environment, so what is set here is what
every lesson sees: the smoke profile, the course mirror, one feature cache for the session
(cache keys cover weights and pixels, so sharing is safe, and a lesson and its solution never
pay for the same frozen base twice), quiet TensorFlow.

Each lesson nbval executes is also written, with its outputs, to ``build/smoke/`` (or
``$COURSE_EXECUTED_DIR``), and its status, minutes and headlines to ``run-summary.json`` there
(the format ``python -m course_utils run`` writes): the site test renders those, so no lesson is
executed twice.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
# Graded-fixture notebooks are hostile student submissions, never lessons to execute.
collect_ignore_glob = ["tests/grading_fixtures/*"]

os.environ.setdefault("COURSE_PROFILE", "smoke")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if not os.environ.get("COURSE_MIRROR") and (ROOT.parent / "shared" / "offline-mirror").is_dir():
    os.environ["COURSE_MIRROR"] = str((ROOT.parent / "shared" / "offline-mirror").resolve())
if not os.environ.get("COURSE_CACHE"):
    os.environ["COURSE_CACHE"] = tempfile.mkdtemp(prefix="course-test-cache-")

# nbval waits a fixed 5 s for each output message after a cell's reply; on a loaded 2-core
# machine the kernel's final "idle" message can take longer, and nbval then fails a cell
# that ran fine ("Timeout of 5 seconds exceeded waiting for output"). Give it a minute.
NBVAL_OUTPUT_TIMEOUT = 60


EXECUTED_DIR = Path(os.environ.get("COURSE_EXECUTED_DIR", ROOT / "build" / "smoke"))
_NOTEBOOK_START: dict[str, float] = {}  # lesson file -> when its first cell was set up
_NOTEBOOK_FAILED: set[str] = set()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Note when each executed notebook starts (its kernel starts with its first cell)."""
    if hasattr(item, "cell"):
        _NOTEBOOK_START.setdefault(item.nodeid.split("::")[0], time.perf_counter())


def pytest_runtest_logreport(report):
    """Remember which notebooks had a failing cell (for the run summary)."""
    if report.failed and "::" in report.nodeid:
        _NOTEBOOK_FAILED.add(report.nodeid.split("::")[0])


def pytest_runtest_teardown(item, nextitem):
    """Keep each nbval cell's outputs; after a notebook's last cell, write the executed notebook."""
    outputs = getattr(item, "test_outputs", None)
    if outputs is None or not hasattr(item, "cell"):
        return
    item.cell.outputs = list(outputs)
    item.cell.execution_count = item.cell_num + 1
    if nextitem is None or getattr(nextitem, "parent", None) is not item.parent:
        import nbformat

        from course_utils import report

        EXECUTED_DIR.mkdir(parents=True, exist_ok=True)
        path = Path(str(item.parent.fspath))
        nbformat.write(item.parent.nb, EXECUTED_DIR / path.name)
        key = item.nodeid.split("::")[0]
        minutes = (time.perf_counter() - _NOTEBOOK_START.get(key, time.perf_counter())) / 60
        report.write_summary(EXECUTED_DIR, {path.stem: report.summary_entry(
            os.environ["COURSE_PROFILE"], "FAILED" if key in _NOTEBOOK_FAILED else "ok", minutes,
            report.headlines_in(item.parent.nb))})


def _missing_assets() -> dict[str, list[str]]:
    """Lesson slug -> the assets it needs that are missing here (found neither in the mirror nor
    the cache, or changed): those lessons cannot run."""
    from course_utils import fetching

    return fetching.missing_for_lessons()


# The test that grades each solution (tests/test_notebooks.py): one unit of work per solution.
# Matched by file and name: tests/test_grading.py has a test_solution_scores_full_marks of its own,
# which must stay with its module (a unit of its own re-ran that module's 3-minute fixture).
SOLUTION_GRADING = ("tests/test_notebooks.py", "::test_solution_scores_full_marks_and_blank_exercise_zero[")


def worker_scope(nodeid: str) -> str:
    """The unit of work a pytest-xdist worker takes whole: each lesson (its cells in order, in one
    kernel), each solution's grading, and any other test file (so its module fixtures run once).

    Lessons are independent of each other (every one runs on its own from a fresh kernel), so they
    spread over the workers like everything else; the one test that needs them all, the site test,
    is collected last and waits for this session's lessons (``tests/test_site.py``)."""
    path = nodeid.split("::")[0]
    return nodeid if path.endswith(SOLUTION_GRADING[0]) and SOLUTION_GRADING[1] in nodeid else path


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # pytest-xdist not installed: `pytest` runs in one process
    LoadScopeScheduling = None

if LoadScopeScheduling is not None:

    class LessonsTogetherScheduling(LoadScopeScheduling):
        """xdist's loadscope scheduling with the course's units (:func:`worker_scope`).

        Not ``--dist loadgroup``: with pytest 9.2 it silently stops grouping (pytest-xdist
        issue #1386); a scheduler's scope function is xdist's own extension point.
        """

        def _split_scope(self, nodeid: str) -> str:
            return worker_scope(nodeid)

    def pytest_xdist_make_scheduler(config, log):
        """Schedule the test run's work by :func:`worker_scope`, in collection order."""
        return LessonsTogetherScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    """Grade solutions after the lessons (which have filled the feature cache by then) and build the
    site last, raise nbval's per-message output wait, skip the lessons whose assets are missing."""
    from course_utils import lessons

    # Stable: lessons and unit tests first, then the solutions' grading, the site test last of all.
    last = {"test_notebooks.py": 1, "test_site.py": 2}
    items.sort(key=lambda item: last.get(Path(str(item.fspath)).name, 0))
    cells = [item for item in items if hasattr(item, "output_timeout")]
    missing = _missing_assets() if cells else {}
    for item in cells:
        item.output_timeout = NBVAL_OUTPUT_TIMEOUT
        parsed = lessons.parse_name(str(item.fspath))
        needs = missing.get(parsed[1], []) if parsed else []
        if needs:
            item.add_marker(pytest.mark.skip(
                reason=f"the lesson needs {', '.join(needs)}: set COURSE_MIRROR or run "
                       "`python -m course_utils fetch`"))
