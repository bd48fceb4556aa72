"""The graded checks: what an exercise calls (``check``) and what the grader's worker runs.

- ``registry``  -- check functions registered by name; ``check()`` for the notebook
- ``common``    -- helpers every lesson's checks share (held-out data, genuine-backbone tests, ...)
- ``lessonNN``  -- one module per lesson: its visible and hidden checks (the judges)

A lesson module imports only ``common``, the registry, ``course_utils.exercise_data`` and the
taught code, never another lesson's checks. Importing this package imports no TensorFlow and no
lesson's checks (they are imported by the check name's lesson number on first use).
"""

from course_utils.checks.registry import check

__all__ = ["check"]
