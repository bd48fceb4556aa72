"""The instructor's grader: exercise release and the autograder (never imported by a lesson or exercise).

- ``release``   -- exercises/ generated from solutions/ (solution regions blanked)
- ``notebook``  -- notebook conventions: tags, solution markers, check cells
- ``plan``      -- which cells run for a submission (check cells from the solution, hidden ones added)
- ``capture``   -- the program run in the student's kernel to store a check's artifacts
- ``artifacts`` -- collecting those artifacts out of the kernel's reach and loading them, safely
- ``sandbox``   -- the bubblewrap sandbox every submission's kernel and check process runs in
- ``worker``    -- the fresh, isolated process that runs the checks on the artifacts
- ``grader``    -- the pipeline: read, plan, sandbox, execute, classify stops, collect, check, score
- ``reports``   -- the results, the CSV and the feedback files

The checks themselves (what a learner calls, what the grader runs) are ``course_utils.checks``.
Importing this package imports nothing.
"""
