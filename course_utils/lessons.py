"""The one record of the course's lessons, found from their files: ``notebooks/NN_slug.ipynb``.

A lesson is its notebook; its other parts are named after it and found by that name:
``solutions/NN_slug.ipynb`` and ``exercises/NN_slug.ipynb`` (graded exercises),
``course_utils/checks/lessonNN.py`` (their checks), ``course_utils/taught/slug.py`` (what it
teaches later lessons) and ``course_utils/exercise_data/slug.py`` (data its exercises build).
Every command and test that needs the lessons asks this module, so renumbering a lesson means
renaming its files and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(__file__).resolve().parent
NAME = re.compile(r"^(?P<number>\d{2})_(?P<slug>[a-z0-9_]+)$")  # a lesson file's stem
NUMBER = re.compile(r"^\d{2}$")


@dataclass(frozen=True)
class Lesson:
    """One lesson and the files that make it."""

    number: str  # "07"
    slug: str  # "domain_mismatch"
    notebook: Path  # notebooks/07_domain_mismatch.ipynb
    solution: Path | None = None  # solutions/07_domain_mismatch.ipynb, where it has graded exercises
    exercise: Path | None = None  # exercises/07_domain_mismatch.ipynb (generated from the solution)
    checks: str | None = None  # "course_utils.checks.lesson07", where that module exists

    @property
    def name(self) -> str:
        """The file stem every part shares: ``07_domain_mismatch``."""
        return f"{self.number}_{self.slug}"

    @property
    def taught(self) -> str:
        """The module its ``# @save`` cells generate: ``course_utils.taught.domain_mismatch``."""
        return f"course_utils.taught.{self.slug}"


def parse_name(path: str | Path) -> tuple[str, str] | None:
    """``(number, slug)`` of a lesson file name (``07_domain_mismatch.ipynb``), else None."""
    path = Path(path)
    match = NAME.match(path.stem) if path.suffix in ("", ".ipynb") else None
    return (match["number"], match["slug"]) if match else None


def notebooks_in(folder: str | Path) -> list[Path]:
    """The lesson-named notebooks (``NN_slug.ipynb``) of a folder, in lesson order."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.ipynb") if parse_name(p) is not None)


def checks_module(number: str) -> str:
    """The name of lesson ``number``'s checks module (whether or not it exists)."""
    return f"course_utils.checks.lesson{number}"


def all_lessons(root: str | Path | None = None) -> list[Lesson]:
    """Every lesson of the course at ``root`` (default: this checkout), in order."""
    root = Path(root) if root is not None else ROOT
    lessons = []
    for notebook in notebooks_in(root / "notebooks"):
        number, slug = parse_name(notebook)  # type: ignore[misc]
        solution, exercise = root / "solutions" / notebook.name, root / "exercises" / notebook.name
        module = checks_module(number)
        has_checks = (PACKAGE / "checks" / f"lesson{number}.py").is_file()
        lessons.append(Lesson(number, slug, notebook, solution if solution.is_file() else None,
                              exercise if exercise.is_file() else None, module if has_checks else None))
    return lessons


def find(number_or_name: str | int, root: str | Path | None = None) -> Lesson:
    """The lesson named by its number (``7``, ``"07"``), name, slug or the start of its name.

    Raises ``LookupError`` with the lessons there are when none or several match.
    """
    lessons = all_lessons(root)
    text = str(number_or_name).strip()
    text = f"{int(text):02d}" if text.isdigit() and len(text) <= 2 else text
    for rule in (lambda les: les.number == text, lambda les: text in (les.name, les.slug),
                 lambda les: les.name.startswith(text)):
        matches = [les for les in lessons if rule(les)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise LookupError(f"{text!r} names several lessons: {', '.join(m.name for m in matches)}")
    raise LookupError(f"no lesson matches {text!r}; lessons: {', '.join(les.name for les in lessons)}")


def numbers_of(slugs: tuple[str, ...] | list[str], root: str | Path | None = None) -> list[str]:
    """The numbers of the lessons named by slug (how a table shows a lesson list), in order."""
    by_slug = {les.slug: les.number for les in all_lessons(root)}
    return sorted(by_slug.get(slug, slug) for slug in slugs)
