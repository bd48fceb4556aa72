"""The layout holds together: one record of the lessons that every part agrees with, no import cycle,
and the command line imports the grader only to grade."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import ROOT

from course_utils import catalog, lessons
from course_utils.checks import registry
from course_utils.grading.notebook import is_check_cell, is_hidden_check_cell, parse_check_call

PACKAGE = ROOT / "course_utils"


def test_every_lesson_part_is_named_after_a_lesson() -> None:
    record = lessons.all_lessons()
    numbers, slugs = [les.number for les in record], {les.slug for les in record}
    assert numbers == sorted(set(numbers)), "two lessons share a number"
    names = {les.name for les in record}
    for folder in ("solutions", "exercises"):
        for path in lessons.notebooks_in(ROOT / folder):
            assert path.stem in names, f"{folder}/{path.name} has no lesson notebook of that name"
    for path in (PACKAGE / "checks").glob("lesson*.py"):
        assert path.stem.removeprefix("lesson") in numbers, f"{path.name}: no lesson has that number"
    for package in ("taught", "exercise_data"):
        for path in (PACKAGE / package).glob("*.py"):
            assert path.stem == "__init__" or path.stem in slugs, f"{package}/{path.name}: no such lesson"
    graded = [les for les in record if les.solution]
    assert graded and all(les.exercise and les.checks for les in graded)


def test_every_asset_and_size_table_names_real_lessons() -> None:
    from course_utils import profiles

    slugs = {les.slug for les in lessons.all_lessons()}
    assert set(profiles.LESSON_SIZES) <= slugs
    for need in catalog.NEEDS:
        assert need.lessons and set(need.lessons) <= slugs, f"{need.asset.name}: {need.lessons}"
    for tfds_set in catalog.TFDS_SETS:
        assert set(tfds_set.lessons) <= slugs, f"tfds:{tfds_set.name}: {tfds_set.lessons}"


def test_every_check_name_starts_with_its_lessons_number() -> None:
    numbers = {les.number for les in lessons.all_lessons()}
    for les in lessons.all_lessons():
        if les.solution is None:
            continue
        nb = nbformat.read(les.solution, as_version=4)
        for cell in nb.cells:
            if is_check_cell(cell) or is_hidden_check_cell(cell):
                name = parse_check_call(cell.source).name
                assert name.startswith(f"{les.number}."), f"{les.solution.name}: {name}"
                assert registry.get_check(name).name == name
        if les.checks:
            importlib.import_module(les.checks)
    course = {name: check.function.__module__ for name, check in registry._REGISTRY.items()
              if check.function.__module__.startswith("course_utils.checks.")}  # not the tests' own
    assert course
    for name, module in course.items():
        assert name.split(".")[0] in numbers and lessons.checks_module(name.split(".")[0]) == module, name


def test_lessons_are_found_by_number_name_or_slug() -> None:
    first = lessons.all_lessons()[0]
    assert lessons.find(first.number) == lessons.find(int(first.number)) == first
    assert lessons.find(first.name) == lessons.find(first.slug) == first
    assert lessons.checks_module("07") == "course_utils.checks.lesson07"
    with pytest.raises(LookupError, match="no lesson matches"):
        lessons.find("99")


def test_a_renumbered_lesson_is_found_under_its_new_number(tmp_path) -> None:
    """Renaming a lesson's files is all renumbering takes: the record follows the names."""
    for folder, name in (("notebooks", "13_your_own_data"), ("solutions", "13_your_own_data"),
                         ("notebooks", "11_new_lesson")):
        (tmp_path / folder).mkdir(exist_ok=True)
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / folder / f"{name}.ipynb")
    record = lessons.all_lessons(tmp_path)
    assert [(les.number, les.slug, bool(les.solution)) for les in record] == [
        ("11", "new_lesson", False), ("13", "your_own_data", True)]
    assert lessons.numbers_of(["your_own_data"], tmp_path) == ["13"]


def _imports(path: Path) -> set[str]:
    """Every course_utils module a file imports (at the top or inside a function)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return {name for name in found if name.startswith("course_utils")}


def test_no_import_cycle() -> None:
    """A static check over every import, top-level and deferred (a deferred one hides a cycle too)."""
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
               for p in PACKAGE.rglob("*.py")}
    graph = {name: _imports(path) & modules.keys() - {name} for name, path in modules.items()}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            pytest.fail("import cycle: " + " -> ".join(path[path.index(name):] + [name]))
        if name in done:
            return
        for other in sorted(graph[name]):
            visit(other, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_exercises_and_their_data_import_no_judge_and_no_grader() -> None:
    sources = {path: path.read_text(encoding="utf-8") for path in (PACKAGE / "exercise_data").glob("*.py")}
    for path in (ROOT / "exercises").glob("*.ipynb"):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "code":
                sources[f"{path.name} cell {index + 1}"] = cell.source
    for where, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                else:
                    names = [alias.name for alias in node.names]
                for name in names:
                    assert not name.startswith("course_utils.grading"), where
                    judge = name.startswith("course_utils.checks.") and name != "course_utils.checks.registry"
                    assert not judge, where


# doctor reports whether grading could be sandboxed here: it asks grading.sandbox, and nothing else of
# the grader (not the pipeline, whose import snapshots the package's sources).
@pytest.mark.parametrize(("argv", "allowed"), [
    (["doctor", "--help"], []), (["fetch", "--help"], []), (["run", "--help"], []),
    (["taught", "--check"], []),
    (["doctor"], ["course_utils.grading", "course_utils.grading.sandbox"])])
def test_the_command_line_imports_the_grader_only_to_grade(argv, allowed) -> None:
    code = ("import sys\nfrom course_utils import cli\ntry:\n    cli.main(sys.argv[1:])\n"
            "except SystemExit:\n    pass\n"
            "loaded = [m for m in sys.modules\n"
            "          if m.startswith(('course_utils.grading', 'course_utils.checks'))]\n"
            "print('LOADED', sorted(loaded))\n")
    result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT,
                            timeout=300)
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("LOADED"))
    assert line == f"LOADED {sorted(allowed)}", result.stdout[-2000:] + result.stderr[-2000:]


def test_grade_offers_the_graders_sandbox_modes() -> None:
    from course_utils.cli import grade
    from course_utils.grading import sandbox

    assert grade.SANDBOX_CHOICES == tuple(mode.value for mode in sandbox.Mode)


def test_the_readme_layout_names_every_module_and_folder() -> None:
    """The README's layout section is the tree: every package module and folder is in it."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = text[text.index("## Layout"):]
    layout = layout[:layout.index("\n## ")]
    words = set(re.findall(r"[\w.]+", layout))
    for path in PACKAGE.iterdir():
        if path.suffix == ".py" and path.stem not in ("__init__", "__main__"):
            assert path.stem in words or path.name in words, f"README layout: no {path.name}"
        elif path.is_dir() and (path / "__init__.py").exists():
            assert f"{path.name}/" in layout, f"README layout: no {path.name}/"
    for folder in ("notebooks", "solutions", "exercises", "bench", "docs", "site", "tests"):
        assert f"{folder}/" in layout
