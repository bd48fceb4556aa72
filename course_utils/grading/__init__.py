"""The grading machinery: instant checks, exercise release, the autograder.

- ``registry``  -- check functions registered by name; ``check()`` for the notebook
- ``checks/``   -- one module per lesson (``lessonNN``), shared helpers in ``checks/common``
- ``release``   -- exercises/ generated from solutions/ (solution regions blanked)
- ``notebook``  -- notebook conventions: tags, solution markers, check cells
- ``capture``   -- the program run in the student's kernel to store a check's artifacts
- ``artifacts`` -- collecting those artifacts out of the kernel's reach and loading them, safely
- ``sandbox``   -- the bubblewrap sandbox every submission's kernel and check process runs in
- ``worker``    -- the fresh, isolated process that runs the checks on the artifacts
- ``plan``      -- which cells run for a submission (check cells from the solution, hidden ones added)
- ``grader``    -- the pipeline: read, plan, sandbox, execute, classify stops, collect, check, score
- ``reports``   -- the results, the CSV and the feedback files

Importing this package imports no TensorFlow.
"""

from course_utils.grading.registry import check

__all__ = ["check"]
