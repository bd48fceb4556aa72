"""Functions the lessons teach, generated from their ``# @save`` cells (one module per lesson).

``python -m course_utils taught`` writes them; edit the lesson, never these modules.
Later lessons import from here, e.g. ``from course_utils.taught.fine_tuning import predict_batches``.
"""
