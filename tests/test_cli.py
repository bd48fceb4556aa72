"""The command line: doctor's exit codes and messages, fetch into a USB-stick mirror, run's helpers."""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest
from helpers import ROOT, needs_mirror

from course_utils.cli import run as runner


def _cli(*args, env=None, timeout=300):
    full_env = {**os.environ, **(env or {})}
    full_env = {k: v for k, v in full_env.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "course_utils", *args], capture_output=True,
                          text=True, env=full_env, timeout=timeout, cwd=ROOT)


@needs_mirror
def test_doctor_passes_with_the_mirror(tmp_path):
    res = _cli("doctor", env={"KERAS_HOME": str(tmp_path), "COURSE_OFFLINE": "1"})
    assert res.returncode == 0, res.stdout + res.stderr
    line = next(ln for ln in res.stdout.splitlines()
                if ln.startswith("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"))
    assert "available" in line and "mirror" in line
    assert "TensorFlow" in res.stdout and "Keras" in res.stdout and "profile" in res.stdout


def test_doctor_without_mirror_says_what_is_missing_and_how_to_fix(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "COURSE_MIRROR"}
    env.update(KERAS_HOME=str(tmp_path), COURSE_OFFLINE="1")
    res = subprocess.run([sys.executable, "-m", "course_utils", "doctor"], capture_output=True,
                         text=True, env=env, timeout=300, cwd=ROOT)
    assert res.returncode == 1
    assert "Traceback" not in res.stdout + res.stderr
    assert "MISSING" in res.stdout and "mobilenet_v2_weights_tf_dim_ordering" in res.stdout
    assert "COURSE_MIRROR is not set" in res.stdout and "python -m course_utils fetch" in res.stdout


@needs_mirror
def test_fetch_to_builds_a_mirror_the_doctor_accepts(tmp_path):
    stick = tmp_path / "usb"
    res = _cli("fetch", "--to", str(stick), env={"KERAS_HOME": str(tmp_path / "home"),
                                                  "COURSE_OFFLINE": "1"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "copied from the mirror" in res.stdout
    assert (stick / "keras_home/models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
            ).stat().st_size > 1_000_000
    res = _cli("doctor", env={"COURSE_MIRROR": str(stick), "KERAS_HOME": str(tmp_path / "home"),
                              "COURSE_OFFLINE": "1"})
    assert res.returncode == 0, res.stdout


def test_parameters_are_injected_after_the_tagged_cell():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import x"),
                nbformat.v4.new_code_cell("EPOCHS = 10", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("train(EPOCHS)")]
    out = runner.inject_parameters(nb, {"EPOCHS": 2, "NAME": "a"})
    assert [c.source for c in out.cells][1:3] == ["EPOCHS = 10",
                                                "# Injected parameters\nEPOCHS = 2\nNAME = 'a'"]
    assert runner.parse_params(["EPOCHS=3", "NAME=cats"]) == {"EPOCHS": 3, "NAME": "cats"}
    with pytest.raises(SystemExit):
        runner.parse_params(["3"])
    assert runner.parse_params(["SIZES.curve_pool=500"]) == {"SIZES.curve_pool": 500}
    with pytest.raises(SystemExit):
        runner.parse_params(["SIZES.a.b=1"])


def test_lessons_are_found_by_number():
    assert [p.name for p in runner.find_lessons(["00"])] == ["00_setup.ipynb"]
    with pytest.raises(SystemExit, match="no lesson matches"):
        runner.find_lessons(["99"])


def test_grade_prints_one_row_per_submission_with_its_points():
    """``grade``'s closing table (it once crashed after grading, on a moved helper)."""
    from pathlib import Path

    from course_utils.cli import grade
    from course_utils.grading.reports import CheckScore, SubmissionResult
    from course_utils.grading.sandbox import SandboxStatus

    good = SubmissionResult("ana.ipynb", Path("ana.ipynb"), "03", sandbox=SandboxStatus(True, "bubblewrap"),
                            checks=[CheckScore("03.probe", "probe", 2, 2), CheckScore("03.c", "c", 0, 1)])
    broken = SubmissionResult("bo.ipynb", Path("bo.ipynb"), None, error="not a notebook",
                              sandbox=SandboxStatus(False, "none"))
    table = grade.results_table([good, broken])
    lines = table.splitlines()
    assert any("ana.ipynb" in line and "2" in line for line in lines), table
    assert "03.probe" in table and "03.c" in table and "not a notebook" in table and "sandbox" in table
