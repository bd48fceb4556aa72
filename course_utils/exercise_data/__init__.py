"""Data and objects the graded exercises build on, one module per lesson (named like ``taught/``).

What an exercise imports to get its inputs: a colleague's heads to diagnose, a hospital's
X-rays, feature pairs to try a loss on. These modules hold no check and no answer: the checks
(``course_utils.checks.lessonNN``) import them, never the other way round, and an exercise
imports nothing from the grader or a check module but ``check`` itself. Keras, scikit-learn and
the datasets are imported inside the functions, so importing a module here is cheap.
"""
