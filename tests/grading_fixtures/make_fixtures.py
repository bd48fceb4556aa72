"""Regenerate the fixture solution, its exercise and the (hostile) submissions.

Run from the repository root: ``python tests/grading_fixtures/make_fixtures.py``.
Each submission is the released exercise changed as a case file ``cases/<case>.py`` says:
a real Python file (ruff lints it), a sequence of cells each opened by a marker line:

* ``# %% replace <cell id>``: the cell's new source;
* ``# %% after <cell id> as <new id>[, with <file>]``: a new code cell (``with``: the
  code of ``cases/<file>`` first, without its docstring, e.g. ``_writable.py``);
* ``# %% delete <cell id>``; ``# %% metadata <JSON>``: merged into the notebook's metadata;
* ``# %% context ...``: lines for the linter only (the names the exercise's own cells
  define), never part of the submission.

The hostile cases attack the grader itself (docs/grading.md lists them); their code is
written so that, should the sandbox ever fail, it leaves only harmless marker files (named
``course-hostile*``) behind: it overwrites asset files only under a folder named
``course-test-mirror`` (the test's own copy).
"""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_utils.grading.notebook import notebook_text
from course_utils.grading.release import release_notebook

HERE = Path(__file__).resolve().parent
SOLUTION = HERE / "solutions" / "99_fixture.ipynb"
EXERCISE = HERE / "exercises" / "99_fixture.ipynb"
SUBMISSIONS = HERE / "submissions"
CASES = HERE / "cases"
MARKER = re.compile(r"^# %% (?P<op>\w+)(?P<rest>.*)$", re.MULTILINE)


def code(cell_id: str, source: str, tags: list[str] | None = None) -> nbformat.NotebookNode:
    """A code cell with a fixed id (and tags)."""
    cell = new_code_cell(source, id=cell_id)
    if tags:
        cell.metadata["tags"] = tags
    return cell


def solution() -> nbformat.NotebookNode:
    """The fixture solution notebook (lesson 99, NumPy only)."""
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Fixture lesson 99", id="title"),
            code("setup", "import numpy as np\nfrom course_utils.checks import check"),
            code(
                "squares-code", "### BEGIN SOLUTION\nsquares = np.arange(5) ** 2\n### END SOLUTION"
            ),
            code("squares-check", 'check("99.squares", squares=squares)', ["check"]),
            code(
                "normalise-code",
                "def normalise(x):\n"
                "    ### BEGIN SOLUTION\n"
                "    return (x - x.mean()) / x.std()\n"
                "    ### END SOLUTION\n"
                "\n"
                "z = normalise(np.array([1.0, 2.0, 3.0, 4.0]))",
            ),
            code("normalise-check", 'check("99.normalise", z=z)', ["check"]),
            code(
                "normalise-hidden",
                'check("99.normalise_hidden", z=normalise(np.array([10.0, 0.0, 5.0])))',
                ["hidden-check"],
            ),
            code("score-code", "### BEGIN SOLUTION\nscore = 0.9\n### END SOLUTION"),
            code("score-check", 'check("99.accuracy", score=score)', ["check"]),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nb.cells[3].metadata["check_id"] = "99.squares"
    return nb


def _code_of(path: Path) -> str:
    """A file's code without its module docstring."""
    text = path.read_text(encoding="utf-8")
    body = ast.parse(text).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        text = "\n".join(text.splitlines()[body[0].end_lineno:])
    return text.strip("\n")


def _index(nb: nbformat.NotebookNode, cell_id: str, case: str) -> int:
    for index, cell in enumerate(nb.cells):
        if cell.id == cell_id:
            return index
    raise ValueError(f"cases/{case}.py: the exercise has no cell {cell_id!r}")


def submission(exercise: nbformat.NotebookNode, case: Path) -> nbformat.NotebookNode:
    """The exercise changed as the case file says (see the module docstring)."""
    nb = copy.deepcopy(exercise)
    text = case.read_text(encoding="utf-8")
    markers = list(MARKER.finditer(text))
    for number, marker in enumerate(markers):
        end = markers[number + 1].start() if number + 1 < len(markers) else len(text)
        source = text[marker.end():end].strip("\n")
        op, rest = marker["op"], marker["rest"].strip()
        if op == "context":
            continue
        if op == "replace":
            nb.cells[_index(nb, rest, case.stem)].source = source
        elif op == "delete":
            del nb.cells[_index(nb, rest, case.stem)]
        elif op == "metadata":
            nb.metadata.update(json.loads(rest))
        elif op == "after":
            anchor, _, new = rest.partition(" as ")
            new, _, include = new.partition(", with ")
            if include:
                source = _code_of(CASES / include) + "\n" + source
            nb.cells.insert(_index(nb, anchor, case.stem) + 1, new_code_cell(source, id=new))
        else:
            raise ValueError(f"cases/{case.name}: unknown marker {marker.group(0)!r}")
    return nb


def cases() -> list[Path]:
    """Every case file (a name starting with ``_`` is shared code, not a case)."""
    return sorted(path for path in CASES.glob("*.py") if not path.name.startswith("_"))


def main() -> None:
    """Write the solution, release the exercise, write every submission."""
    SOLUTION.parent.mkdir(parents=True, exist_ok=True)
    SOLUTION.write_text(notebook_text(solution()), encoding="utf-8")
    release_notebook(SOLUTION, EXERCISE)
    exercise = nbformat.read(EXERCISE, as_version=4)
    SUBMISSIONS.mkdir(exist_ok=True)
    for case in cases():
        nb = submission(exercise, case)
        nbformat.validate(nb)
        (SUBMISSIONS / f"99_fixture-{case.stem}.ipynb").write_text(notebook_text(nb), encoding="utf-8")


if __name__ == "__main__":
    main()
