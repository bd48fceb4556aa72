"""Regenerate the fixture solution, its exercise and the hostile submissions.

Run from the repository root: ``python tests/grading_fixtures/make_fixtures.py``.
Each submission is the released exercise with some cells replaced (by cell id) or
added, mimicking what a (hostile) student could hand in.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_utils.grading.notebook import notebook_text
from course_utils.grading.release import release_notebook

HERE = Path(__file__).resolve().parent
SOLUTION = HERE / "solutions" / "99_fixture.ipynb"
EXERCISE = HERE / "exercises" / "99_fixture.ipynb"
SUBMISSIONS = HERE / "submissions"

SQUARES = "squares = np.arange(5) ** 2"
NORMALISE = (
    "def normalise(x):\n"
    "    return (x - x.mean()) / x.std()\n"
    "\n"
    "z = normalise(np.array([1.0, 2.0, 3.0, 4.0]))"
)
SCORE = "score = 0.9"


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
            code("setup", "import numpy as np\nfrom course_utils.grading.registry import check"),
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


def variant(exercise: nbformat.NotebookNode, **replace: str) -> nbformat.NotebookNode:
    """Copy the exercise with cells replaced by id (underscores in keys become dashes)."""
    nb = copy.deepcopy(exercise)
    for key, source in replace.items():
        cell_id = key.replace("_", "-")
        cell = next(c for c in nb.cells if c.id == cell_id)
        cell.source = source
    return nb


def insert_after(nb: nbformat.NotebookNode, cell_id: str, source: str, new_id: str) -> None:
    """Insert a student-written code cell after the cell with ``cell_id``."""
    index = next(i for i, c in enumerate(nb.cells) if c.id == cell_id)
    nb.cells.insert(index + 1, new_code_cell(source, id=new_id))


def submissions(exercise: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """Hostile and honest submissions, by case name."""
    subs = {"blank": variant(exercise)}
    subs["perfect"] = variant(
        exercise, squares_code=SQUARES, normalise_code=NORMALISE, score_code=SCORE
    )

    subs["patch_check"] = variant(exercise)
    insert_after(
        subs["patch_check"],
        "setup",
        "import course_utils.grading.registry as c\n"
        "from course_utils.grading.registry import CheckOutcome\n"
        "c.check = lambda *a, **k: print('✓ all checks passed')\n"
        "c.run_check = lambda name, **k: CheckOutcome(name, 99, 1)\n"
        "c._REGISTRY.clear()\n"
        "check = c.check",
        "patch",
    )

    subs["patch_numpy"] = variant(
        exercise,
        squares_code="squares = np.arange(5)",
        normalise_code=NORMALISE,
        score_code="score = 0.6",
    )
    insert_after(
        subs["patch_numpy"],
        "setup",
        "import json\n"
        "np.save = lambda *a, **k: None\n"
        "np.array_equal = lambda *a, **k: True\n"
        "np.allclose = np.isclose = lambda *a, **k: True\n"
        "json.dump = lambda *a, **k: None  # json.dumps would break the kernel protocol\n"
        "list = tuple = dict = str = float = open = None\n"
        "Exception = BaseException = None",
        "patch",
    )

    subs["edited_check"] = variant(
        exercise,
        squares_code="squares = [0, 1, 2]",
        squares_check='check("99.squares", squares=np.arange(5) ** 2)',
        score_code=SCORE,
    )
    subs["edited_check"].cells = [c for c in subs["edited_check"].cells if c.id != "score-check"]

    subs["fake_print"] = variant(exercise)
    insert_after(
        subs["fake_print"],
        "score-check",
        "print('✓ 99.squares (1/1)')\nprint('✓ 99.normalise (2/2)')\nprint('All checks passed!')",
        "fake",
    )

    subs["sys_exit"] = variant(
        exercise, squares_code=SQUARES + "\nimport sys\nsys.exit(0)", normalise_code=NORMALISE
    )
    subs["os_exit"] = variant(
        exercise, squares_code=SQUARES, normalise_code="import os\nos._exit(0)"
    )
    subs["infinite_loop"] = variant(
        exercise, squares_code=SQUARES, normalise_code="while True:\n    pass"
    )
    subs["memory_hog"] = variant(
        exercise,
        squares_code=SQUARES,
        normalise_code="hog = []\nwhile True:\n    hog.append(np.ones(10_000_000))",
    )
    subs["delete_files"] = variant(
        exercise, squares_code=SQUARES, normalise_code=NORMALISE, score_code=SCORE
    )
    insert_after(
        subs["delete_files"],
        "normalise-check",
        "import os, shutil, course_utils\n"
        "shutil.rmtree(os.path.dirname(course_utils.__file__))\n"
        "shutil.rmtree(os.path.dirname(os.getcwd()), ignore_errors=True)",
        "delete",
    )
    return subs


def main() -> None:
    """Write the solution, release the exercise, write every submission."""
    SOLUTION.parent.mkdir(parents=True, exist_ok=True)
    SOLUTION.write_text(notebook_text(solution()), encoding="utf-8")
    release_notebook(SOLUTION, EXERCISE)
    exercise = nbformat.read(EXERCISE, as_version=4)
    SUBMISSIONS.mkdir(exist_ok=True)
    for name, nb in submissions(exercise).items():
        nbformat.validate(nb)
        (SUBMISSIONS / f"99_fixture-{name}.ipynb").write_text(notebook_text(nb), encoding="utf-8")


if __name__ == "__main__":
    main()
