"""The units pytest-xdist workers take whole (conftest.py's ``worker_scope``)."""

from __future__ import annotations

import importlib.util

from helpers import ROOT


def _worker_scope():
    spec = importlib.util.spec_from_file_location("course_root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.worker_scope


def test_a_test_file_is_one_unit_even_where_a_name_looks_like_solution_grading() -> None:
    """tests/test_grading.py's test_solution_scores_full_marks shares its module's fixture: a unit of
    its own would grade the module's 3-minute fixture run a second time, on another worker."""
    scope = _worker_scope()
    for name in ("test_scores[bad_strings]", "test_solution_scores_full_marks", "test_refused_submissions"):
        assert scope(f"tests/test_grading.py::{name}") == "tests/test_grading.py"


def test_each_solution_grading_and_each_lesson_is_a_unit() -> None:
    scope = _worker_scope()
    grading = "tests/test_notebooks.py::test_solution_scores_full_marks_and_blank_exercise_zero[{}]"
    units = {scope(grading.format(name)) for name in ("06_overfitting.ipynb", "09_unsupervised.ipynb")}
    assert len(units) == 2
    clean = "tests/test_notebooks.py::test_committed_notebooks_are_clean[x]"
    assert scope(clean) == "tests/test_notebooks.py"
    cells = {scope(f"notebooks/11_efficient_fine_tuning.ipynb::Cell {n}") for n in range(3)}
    assert cells == {"notebooks/11_efficient_fine_tuning.ipynb"}
