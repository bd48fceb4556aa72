"""Helpers for the course *Hands-on transfer learning with Keras 3*.

The helpers hide plumbing (downloads, caching, plotting, profiles, grading) and never the
lesson: freezing layers, ``training=False`` and the losses being minimised stay visible in
the notebooks. The package is laid out by role:

- top level: what learners call -- ``profiles``, ``seeds``, ``assets``, ``catalog`` (the one
  table of assets and the lessons using them), ``backbones``, ``datasets``, ``images``,
  ``features``, ``plots``, ``report``, ``timing``
- ``methods``: the lessons' tested method helpers (model zoo, bias and fairness, attribution,
  training, adaptation)
- ``taught``: generated from the lessons' ``# @save`` cells -- one copy of each taught function
- ``grading``: checks, exercise release and the autograder
- ``cli``: the command line (``python -m course_utils ...``); ``engine``: the one notebook engine
"""

__version__ = "0.1.0"
