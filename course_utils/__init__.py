"""Helpers for the course *Hands-on transfer learning with Keras 3*.

The helpers hide plumbing (downloads, caching, plotting, profiles, grading) and never the
lesson: freezing layers, ``training=False`` and the losses being minimised stay visible in
the notebooks. The package is laid out by role:

- ``lessons``: the one record of the lessons, found from ``notebooks/NN_name.ipynb``
- top level: what learners call -- ``profiles``, ``seeds``, ``assets``, ``catalog`` (data only:
  every asset and the lessons using it), ``fetching`` (each asset's state; fetch), ``backbones``,
  ``datasets``, ``images``, ``features``, ``plots``, ``report``, ``timing``, ``files``
- ``methods``: the lessons' tested method helpers (model zoo, bias and fairness, attribution,
  training, adaptation)
- ``taught``: generated from the lessons' ``# @save`` cells -- one copy of each taught function
- ``exercise_data``: what the exercises build on; ``checks``: what they call (``check``) and
  the per-lesson checks
- ``grading``: exercise release and the autograder (instructors only)
- ``cli``: the command line (``python -m course_utils ...``); ``engine``: the one notebook engine
"""

__version__ = "0.1.0"
