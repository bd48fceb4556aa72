"""Generate student exercise notebooks from the solution notebooks (single source)."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course_utils import lessons
from course_utils.grading.notebook import (
    BEGIN_SOLUTION,
    END_SOLUTION,
    check_key,
    is_check_cell,
    is_hidden_check_cell,
    lesson_from_name,
    notebook_text,
    parse_check_call,
    read_notebook,
)

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError")
MARKDOWN_STUB = ("YOUR ANSWER HERE",)
DROPPED_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled")
RELEASE_COMMAND = "python -m course_utils release"


def _is_marker(line: str, marker: str) -> bool:
    """Whether a line is a ``### BEGIN SOLUTION``-style marker comment."""
    stripped = line.strip()
    return stripped.startswith("#") and stripped.lstrip("#").strip() == marker


def strip_solutions(source: str, stub: tuple[str, ...] = CODE_STUB, where: str = "") -> str:
    """Replace every BEGIN/END SOLUTION region by the stub, indented like the BEGIN marker."""
    out: list[str] = []
    inside = False
    for line in source.split("\n"):
        if _is_marker(line, BEGIN_SOLUTION):
            if inside:
                raise ValueError(f"{where}: nested '{BEGIN_SOLUTION}'")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + stub_line for stub_line in stub)
        elif _is_marker(line, END_SOLUTION):
            if not inside:
                raise ValueError(f"{where}: '{END_SOLUTION}' without '{BEGIN_SOLUTION}'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: '{BEGIN_SOLUTION}' without '{END_SOLUTION}'")
    return "\n".join(out)


def validate_solution(nb: NotebookNode, name: str) -> None:
    """Check that graded cells hold one ``check(...)`` call each and keys are unique."""
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        if not (is_check_cell(cell) or is_hidden_check_cell(cell)):
            continue
        if parse_check_call(cell.source) is None:
            raise ValueError(
                f"{name} cell {index + 1}: a check cell must be exactly one statement "
                f'check("NN.name", artifact=variable, ...), got:\n{cell.source}'
            )
        key = check_key(cell)
        if key in seen:
            raise ValueError(f"{name} cell {index + 1}: duplicate check key {key!r}")
        seen.add(key)


def build_exercise(solution: NotebookNode, name: str = "notebook") -> NotebookNode:
    """Return the student version of a solution notebook (pure function, no I/O)."""
    validate_solution(solution, name)
    nb = copy.deepcopy(solution)
    cells = []
    for index, cell in enumerate(nb.cells):
        if is_hidden_check_cell(cell):
            continue
        where = f"{name} cell {index + 1}"
        for key in DROPPED_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, CODE_STUB, where)
            cell.outputs = []
            cell.execution_count = None
            if is_check_cell(cell):
                cell.metadata["check_id"] = check_key(cell)
        elif cell.cell_type == "markdown":
            cell.source = strip_solutions(cell.source, MARKDOWN_STUB, where)
        cells.append(cell)
    nb.cells = cells
    nb.metadata = {
        key: value
        for key, value in nb.metadata.items()
        if key not in ("kernelspec", "language_info", "widgets")
    }
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    course = dict(nb.metadata.get("course", {}))
    lesson = course.get("lesson") or lesson_from_name(name)
    if lesson:
        course["lesson"] = str(lesson)
        nb.metadata["course"] = course
    nbformat.validate(nb)
    return nb


def render_exercise(src: str | Path) -> str:
    """Return the exercise JSON text that ``release_notebook`` would write for ``src``."""
    src = Path(src)
    return notebook_text(build_exercise(read_notebook(src), src.name))


def release_notebook(src: str | Path, dst: str | Path) -> Path:
    """Write the exercise version of solution notebook ``src`` to ``dst``."""
    dst = Path(dst)
    text = render_exercise(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(text, encoding="utf-8")
    return dst


def release_all(
    solutions_dir: str | Path = "solutions", exercises_dir: str | Path = "exercises"
) -> list[Path]:
    """Regenerate ``exercises/NN_*.ipynb`` from every ``solutions/NN_*.ipynb``."""
    sources = lessons.notebooks_in(solutions_dir)
    return [release_notebook(src, Path(exercises_dir) / src.name) for src in sources]


def stale_exercises(
    solutions_dir: str | Path = "solutions", exercises_dir: str | Path = "exercises"
) -> list[str]:
    """List problems that make ``exercises/`` differ from a fresh release of ``solutions/``."""
    problems = []
    sources = lessons.notebooks_in(solutions_dir)
    for src in sources:
        dst = Path(exercises_dir) / src.name
        if not dst.exists():
            problems.append(f"{dst} is missing (run: {RELEASE_COMMAND})")
        elif dst.read_text(encoding="utf-8") != render_exercise(src):
            problems.append(f"{dst} is out of date with {src} (run: {RELEASE_COMMAND})")
    names = {src.name for src in sources}
    for dst in lessons.notebooks_in(exercises_dir):
        if dst.name not in names:
            problems.append(f"{dst} has no solution notebook in {solutions_dir}")
    return problems
