"""Every lesson and solution notebook runs in the smoke profile, and is committed clean."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, needs_mirror

from course_utils import runner

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
ALL_COMMITTED = NOTEBOOKS + sorted((ROOT / "exercises").glob("*.ipynb"))


@pytest.mark.parametrize("path", ALL_COMMITTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_notebooks_are_clean(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, \
                f"{path.name} is committed with outputs: clear them"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.parent.name != "exercises"],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_lesson_has_a_parameters_cell(path):
    nb = json.loads(path.read_text())
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])


@needs_mirror
@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_runs_in_smoke_profile(path, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    result = runner.execute_notebook(path, tmp_path, profile="smoke", timeout=900, html=False)
    assert result.status == "ok", f"{path.name} failed: {result.error}"
    assert result.headline != "-", f"{path.name} reports no headline number"
