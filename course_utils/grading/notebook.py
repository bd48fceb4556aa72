"""Notebook conventions shared by release and grading: tags, markers, check cells."""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course_utils import lessons

CHECK_TAG = "check"
HIDDEN_CHECK_TAG = "hidden-check"
BEGIN_SOLUTION = "BEGIN SOLUTION"
END_SOLUTION = "END SOLUTION"


@dataclass(frozen=True)
class CheckCall:
    """A parsed ``check("NN.name", artifact=expression, ...)`` statement."""

    name: str
    artifacts: dict[str, str]


def read_notebook(path: str | Path) -> NotebookNode:
    """Read a v4 notebook, giving cells without an id a deterministic one."""
    path = Path(path)
    return parse_notebook(path.read_text(encoding="utf-8"), path.stem)


def parse_notebook(text: str, stem: str) -> NotebookNode:
    """Parse notebook JSON; cells without an id get one derived from ``stem`` and their index."""
    nb = nbformat.reads(text, as_version=4)
    if nb.nbformat_minor < 5:
        nb.nbformat_minor = 5
    for index, cell in enumerate(nb.cells):
        if not cell.get("id"):
            digest = hashlib.sha1(f"{stem}:{index}".encode()).hexdigest()
            cell["id"] = digest[:12]
    return nb


def cell_tags(cell: NotebookNode) -> list[str]:
    """Return the tags of a cell (empty list when it has none)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return [str(tag) for tag in tags] if isinstance(tags, list) else []


def is_check_cell(cell: NotebookNode) -> bool:
    """Whether a cell is a visible graded check (tag ``check``)."""
    return cell.cell_type == "code" and CHECK_TAG in cell_tags(cell)


def is_hidden_check_cell(cell: NotebookNode) -> bool:
    """Whether a cell is a hidden graded check (tag ``hidden-check``)."""
    return cell.cell_type == "code" and HIDDEN_CHECK_TAG in cell_tags(cell)


def parse_check_call(source: str) -> CheckCall | None:
    """Parse a cell that consists of exactly one ``check(...)`` call, else return None."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    call = tree.body[0].value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        return None
    if call.func.id != "check" or len(call.args) != 1:
        return None
    first = call.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return None
    artifacts: dict[str, str] = {}
    for keyword in call.keywords:
        if keyword.arg is None:  # **kwargs cannot be captured by name
            return None
        artifacts[keyword.arg] = ast.unparse(keyword.value)
    return CheckCall(first.value, artifacts)


def check_key(cell: NotebookNode) -> str | None:
    """Stable key of a check cell: metadata ``check_id``, else the parsed check name."""
    check_id = cell.get("metadata", {}).get("check_id")
    if isinstance(check_id, str) and check_id:
        return check_id
    call = parse_check_call(cell.source)
    return call.name if call else None


def lesson_from_name(path: str | Path) -> str | None:
    """Return the ``NN`` lesson number of a notebook named like a lesson (``NN_slug.ipynb``), if any.

    A submission may carry a suffix (``07_domain_mismatch-ana.ipynb``): only the ``NN_`` prefix counts.
    """
    match = re.match(r"^(\d{2})_", Path(path).name)
    return match.group(1) if match else None


def lesson_of(path: str | Path, nb: NotebookNode) -> str | None:
    """Lesson of a notebook: metadata ``course.lesson`` if present, else the file prefix.

    Raises ``ValueError`` when the metadata holds anything but two digits: the id names
    a solution file, so it must never be a path or a pattern.
    """
    course = nb.get("metadata", {}).get("course", {})
    lesson = course.get("lesson") if isinstance(course, dict) else None
    if lesson is not None and str(lesson).strip():
        text = str(lesson).strip()
        if not lessons.NUMBER.match(text):
            raise ValueError(f"the notebook's lesson id {text[:40]!r} is not two digits (e.g. '01')")
        return text
    return lesson_from_name(path)


def find_solution(lesson: str, solutions_dir: str | Path) -> Path:
    """Return the single ``NN_*.ipynb`` solution notebook for a lesson (``NN`` two digits)."""
    if not lessons.NUMBER.match(str(lesson)):
        raise ValueError(f"lesson ids are two digits, got {str(lesson)[:40]!r}")
    matches = [path for path in lessons.notebooks_in(solutions_dir) if lessons.parse_name(path)[0] == lesson]
    if len(matches) != 1:
        raise FileNotFoundError(
            f"expected exactly one solution notebook {lesson}_*.ipynb in {solutions_dir}, "
            f"found {len(matches)}"
        )
    return matches[0]


def notebook_text(nb: NotebookNode) -> str:
    """Serialise a notebook deterministically (nbformat's sorted JSON plus newline)."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"
