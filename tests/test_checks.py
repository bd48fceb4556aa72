"""Tests for the check registry and the student-facing check() call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_utils.checks.registry import (
    CheckFailed,
    CheckResult,
    check,
    get_check,
    load_checks_module,
    register_check,
    run_check,
)
from course_utils.grading.notebook import parse_check_call

FIXTURES = Path(__file__).resolve().parent / "grading_fixtures"
ROOT = Path(__file__).resolve().parents[1]


@register_check("90.demo", points=2)
def _demo(value: float) -> CheckResult | None:
    if value < 0:
        raise CheckFailed("value must be positive; try abs(value)")
    if value < 1:
        return CheckResult(1, "almost: value should be at least 1")
    return None


def test_check_prints_friendly_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """check() prints ✓/✗ lines with points and the hint instead of a traceback."""
    check("90.demo", value=3)
    check("90.demo", value=0.5)
    check("90.demo", value=-1)
    check("90.demo")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "✓ 90.demo (2/2)"
    assert lines[1] == "✗ 90.demo (1/2): almost: value should be at least 1"
    assert lines[2] == "✗ 90.demo (0/2): value must be positive; try abs(value)"
    assert lines[3].startswith("✗ 90.demo (0/2): the check could not run: TypeError")


def test_unknown_check_and_duplicate_registration() -> None:
    """Unknown names give a message; a second function cannot steal a name."""
    assert "unknown check" in run_check("90.nope").message
    with pytest.raises(ValueError):
        register_check("90.demo")(lambda value: None)


def test_fixture_module_loads_from_a_path() -> None:
    """Extra checks modules can be loaded from a .py path (how the tests register lesson 99)."""
    load_checks_module(FIXTURES / "fixture_checks.py")
    assert get_check("99.accuracy").points == 2
    assert run_check("99.squares", squares=np.arange(5) ** 2).passed


def test_parse_check_call() -> None:
    """Only a single check("NN.name", kw=expr) statement is a check call."""
    call = parse_check_call('check("01.frozen_base", base=base_model, head=head)')
    assert call is not None and call.name == "01.frozen_base"
    assert call.artifacts == {"base": "base_model", "head": "head"}
    assert parse_check_call("x = 1\ncheck('01.a', a=a)") is None
    assert parse_check_call("check(name, a=a)") is None
    assert parse_check_call("check('01.a', **kw)") is None


def test_lesson_checks_import_without_tensorflow() -> None:
    """Importing checks (lesson 01 included) must not import TensorFlow or Keras."""
    code = (
        "import sys, course_utils.checks.registry as c; c.get_check('01.frozen_base');"
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}
    )
