"""Helpers for the course *Hands-on transfer learning with Keras 3*.

The helpers hide plumbing (downloads, caching, plotting, profiles, grading) and
never the lesson: freezing layers, ``training=False`` and the losses being
minimised stay visible in the notebooks.

Modules, one job each:

- ``profiles``  -- smoke / laptop / full sizes, chosen by ``COURSE_PROFILE``
- ``seeds``     -- one call that seeds Python, NumPy and Keras/TF
- ``assets``    -- offline-first lookup: mirror, user cache, official download
- ``backbones`` -- ``keras.applications`` models paired with their preprocessing
- ``datasets``  -- the course's datasets as ``tf.data`` pipelines or NumPy arrays
- ``images``    -- reading image folders, reporting bad files
- ``features``  -- frozen-base features computed once and cached on disk
- ``plots``     -- learning curves and image grids
- ``report``    -- a lesson's headline number for the run summary
- ``doctor``    -- what is installed and available, and how to fix what is not
- ``runner``    -- execute lessons headless, write HTML, print a summary
- ``release``   -- generate exercises/ from solutions/ (solution regions blanked)
- ``checks``    -- instant-feedback checks; ``checks_lessonNN`` hold each lesson's checks
- ``grading``   -- the autograder (``executor``, ``artifacts``, ``check_worker``, ``nbtools``)
"""

__version__ = "0.1.0"
