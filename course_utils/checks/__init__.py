"""The graded checks, one module per lesson (``lessonNN``); shared helpers live in ``common``.

A lesson module imports only ``common`` and the registry, never another lesson's module.
"""
