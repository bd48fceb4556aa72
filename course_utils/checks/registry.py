"""Registry of graded check functions and the student-facing ``check()`` call.

A lesson module ``course_utils/checks/lessonNN.py`` registers functions with
``register = lesson_checks(__name__)`` and ``@register("name", points=2)``: the check is
``NN.name``, its number taken from the module's name (renumbering a lesson renames the module
and nothing else); other modules (``--checks-module``) use ``@register_check("NN.name")``.
Each function receives the captured artifacts as keyword arguments and either returns
``None`` (full points), returns ``CheckResult(points, message)`` (partial credit) or raises
``CheckFailed(hint)``.
Lesson modules are imported lazily, by the prefix before the dot, so importing this
module never imports TensorFlow.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_utils import lessons

CheckFunction = Callable[..., Any]


class CheckFailed(Exception):
    """Raised by a check function; its str is the hint shown to the student."""


@dataclass(frozen=True)
class CheckResult:
    """Partial credit returned by a check function: points earned and a message."""

    score: float
    message: str = ""


@dataclass(frozen=True)
class RegisteredCheck:
    """A check function with its name and maximum points."""

    name: str
    points: float
    function: CheckFunction


@dataclass(frozen=True)
class CheckOutcome:
    """Result of running one check: points earned out of ``max_points`` and a message."""

    name: str
    points: float
    max_points: float
    message: str = ""

    @property
    def passed(self) -> bool:
        """Whether the check earned full points."""
        return self.points >= self.max_points

    def summary(self) -> str:
        """One line for the student, e.g. ``✓ 01.frozen_base (2/2)``."""
        mark = "✓" if self.passed else "✗"
        line = f"{mark} {self.name} ({_fmt(self.points)}/{_fmt(self.max_points)})"
        return f"{line}: {self.message}" if self.message else line


_REGISTRY: dict[str, RegisteredCheck] = {}


def _fmt(value: float) -> str:
    """Format points without a trailing ``.0``."""
    return f"{value:g}"


def register_check(name: str, points: float = 1) -> Callable[[CheckFunction], CheckFunction]:
    """Decorator registering ``function`` as the check ``name`` worth ``points``."""
    if "." not in name:
        raise ValueError(f"check names look like 'NN.what', got {name!r}")

    def decorator(function: CheckFunction) -> CheckFunction:
        previous = _REGISTRY.get(name)
        if previous is not None and (
            previous.function.__module__,
            previous.function.__qualname__,
        ) != (function.__module__, function.__qualname__):
            raise ValueError(f"check {name!r} is already registered by {previous.function}")
        _REGISTRY[name] = RegisteredCheck(name, float(points), function)
        return function

    return decorator


def lesson_checks(module: str) -> Callable[..., Callable[[CheckFunction], CheckFunction]]:
    """The ``register(name, points)`` decorator of lesson ``NN``'s checks module (``__name__``).

    ``register("coral_loss", points=2)`` in ``course_utils.checks.lesson07`` registers ``07.coral_loss``.
    """
    number = module.rsplit(".", 1)[-1].removeprefix("lesson")
    if not lessons.NUMBER.match(number) or lessons.checks_module(number) != module:
        raise ValueError(f"{module} is not a lesson's checks module ({lessons.checks_module('NN')})")

    def register(name: str, points: float = 1) -> Callable[[CheckFunction], CheckFunction]:
        return register_check(f"{number}.{name}", points)

    return register


def is_module_path(module: str | Path) -> bool:
    """Whether a checks module is given as a file (``x.py``, or with a folder), not a dotted name."""
    text = str(module)
    return text.endswith(".py") or "/" in text or "\\" in text or os.sep in text


def load_checks_module(module: str | Path) -> None:
    """Import an extra checks module, given as a dotted name or a path to a ``.py`` file."""
    text = str(module)
    if is_module_path(text):
        path = Path(text).resolve()
        name = f"course_checks_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load checks from {path}")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        spec.loader.exec_module(loaded)
    else:
        importlib.import_module(text)


def get_check(name: str) -> RegisteredCheck:
    """Return the registered check, importing ``checks.lesson<prefix>`` on first use."""
    if name not in _REGISTRY:
        prefix = name.split(".", 1)[0]
        module = lessons.checks_module(prefix)
        if lessons.NUMBER.match(prefix) and importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    if name not in _REGISTRY:
        raise KeyError(f"unknown check {name!r}")
    return _REGISTRY[name]


def run_check(name: str, **artifacts: Any) -> CheckOutcome:
    """Run a check on artifacts and turn any outcome or error into a ``CheckOutcome``."""
    try:
        registered = get_check(name)
    except KeyError as error:
        return CheckOutcome(name, 0.0, 0.0, str(error.args[0]))
    max_points = registered.points
    try:
        result = registered.function(**artifacts)
    except CheckFailed as failure:
        return CheckOutcome(name, 0.0, max_points, str(failure))
    except Exception as error:  # a check must never crash the notebook or the grader
        message = f"the check could not run: {type(error).__name__}: {error}"
        return CheckOutcome(name, 0.0, max_points, message)
    if result is None:
        return CheckOutcome(name, max_points, max_points)
    if isinstance(result, CheckResult):
        points = min(max(float(result.score), 0.0), max_points)
        return CheckOutcome(name, points, max_points, result.message)
    message = f"the check returned {type(result).__name__}, expected None or CheckResult"
    return CheckOutcome(name, 0.0, max_points, message)


def check(name: str, **artifacts: Any) -> None:
    """Run a check in the notebook and print ``✓ name (2/2)`` or ``✗ name (0/2): hint``."""
    print(run_check(name, **artifacts).summary())
