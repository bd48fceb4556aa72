"""Guards that keep every lesson one sitting long and its prose free of numbers nothing computes.

- **One sitting**: a lesson holds at most ``MAX_CELLS`` cells and ``MAX_CHARS`` characters of source,
  and no code cell longer than ``MAX_CODE_LINES`` lines.
- **Prose numbers**: learner prose (markdown, and the comments and docstrings of code cells) states no
  measured number; the code prints it. A number that looks measured (a decimal, a percentage, a
  "2.5×" ratio, a "±") fails the test unless it is a stated margin ("at least 0.85", "≥ 15 points":
  what a claim asserts, not what a run measured), a literature figure whose paragraph names its
  source (an author with "et al.", a year, keras-io), a design constant the lesson sets (``DESIGN``),
  or on the short allowlist of facts below. Code spans and fenced code are code, not prose.

``KNOWN`` lists lessons that break a guard today, each a strict expected failure: the day a lesson is
fixed, its entry must go (the test then passes unexpectedly and fails), so the list only shrinks.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from pathlib import Path

import pytest

from course_utils import lessons

LESSONS = [lesson.notebook for lesson in lessons.all_lessons()]

MAX_CELLS = 35
MAX_CHARS = 30_000
MAX_CODE_LINES = 30

# Facts, not measurements: dataset sizes, versions, the confidence level the course uses.
ALLOWED = {
    "95%",              # the confidence level of every interval (course_utils.stats)
    "1.3 million",      # ImageNet's training photos
    "0.35", "0.25", "1.0",  # MobileNet widths (alpha), names of published weights
}
VERSION = re.compile(r"\b(?:Keras|TensorFlow|TF|Python|keras-hub|LiteRT|scikit-learn|NumPy|version|v)"
                     r"\s*\d+\.\d+")
MEASURED = re.compile(
    r"(?<![\w.])(?:"
    r"\d+(?:\.\d+)?\s?%"               # 12%, 12.5 %
    r"|\d+(?:\.\d+)?\s?[×x](?!\s?\d)(?![A-Za-z])"  # 2.5×, 3x faster (not 3x3, 1×1 or 2 x 64)
    r"|\d+\.\d+"                       # 0.87
    r"|±\s?\d+(?:\.\d+)?"              # ± 0.02
    r")"
)
MARGIN = re.compile(
    r"(?:at least|at most|no more than|no less than|more than|less than|fewer than|within|"
    r"above|below|under|[≥≤<>]|>=|<=|by)\s*[+−-]?\s*$", re.IGNORECASE)
DOCSTRING = ('"""', "'''")
CITED = re.compile(r"et al\.|\b(?:19|20)\d\d\b|\bsource:|arXiv|doi\.org|keras-io|keras\.io", re.IGNORECASE)

# lesson file name -> numbers the lesson *sets* (design constants such as a label-noise rate), which its
# prose may state; every entry is a choice made in the code, never a result.
DESIGN: dict[str, set[str]] = {
    # Colored MNIST's colour-flip rates, the share of training colour agreement they give, the shape's
    # ceiling under 0.25 label noise, the validation share; the tag on 95% of horses and 5% of dogs
    "05_data_bias.ipynb": {"0.1", "0.2", "0.9", "85%", "0.75", "20%", "95%", "5%"},
}

# lesson file name -> guards it breaks today (strict expected failures; remove an entry once fixed)
KNOWN: dict[str, set[str]] = {
}


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _known(path: Path, guard: str) -> bool:
    return guard in KNOWN.get(path.name, set())


def code_prose(source: str) -> str:
    """The comments and docstrings of a code cell (prose a learner reads), paragraph by paragraph."""
    pieces = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            docstring = tok.type == tokenize.STRING and tok.string.startswith(DOCSTRING)
            if tok.type == tokenize.COMMENT or docstring:
                pieces.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return ""
    return "\n\n".join(pieces)


def prose_numbers(markdown: str, design: set[str] = frozenset()) -> list[str]:
    """The measured-looking numbers in ``markdown`` that no margin, citation or allowlist explains."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.DOTALL)     # fenced code
    text = re.sub(r"`[^`]*`", " ", text)                              # code spans
    text = re.sub(r"\]\([^)]*\)", "]", text)                          # link targets
    text = re.sub(r"\$[^$]*\$", " ", text)                            # maths
    text = VERSION.sub(" ", text)
    found = []
    for paragraph in re.split(r"\n\s*\n", text):
        if CITED.search(paragraph):
            continue
        for m in MEASURED.finditer(paragraph):
            token = m.group(0).strip()
            if token in design or any(paragraph.startswith(a, m.start()) for a in ALLOWED):
                continue
            if MARGIN.search(paragraph[max(0, m.start() - 16):m.start()]):
                continue
            found.append(token)
    return found


TQ3 = '"' * 3


def test_prose_number_detector():
    assert prose_numbers("Transfer reaches 0.93 on test.") == ["0.93"]
    assert prose_numbers("It is 2.5× faster and gains 12% (± 0.02).") == ["2.5×", "12%", "± 0.02"]
    assert prose_numbers("Asserted: at least 0.85, and ≥ 15 points above scratch.") == []
    assert prose_numbers("Ganin et al. report 76.66% for DANN.") == []
    assert prose_numbers("Keras 3.15 builds `Dense(1, activation='sigmoid')` at `lr=1e-2`, 0.5") == ["0.5"]
    assert prose_numbers("1×1 convolutions and 3x3 kernels, 2 x 64 units; a 95% interval") == []
    assert prose_numbers("It runs 5x faster") == ["5x"]
    assert prose_numbers("label noise 0.25", design={"0.25"}) == []
    src = "x = 1  # about 7.0 s\ndef f():\n    " + TQ3 + "5x faster" + TQ3 + "\n"
    assert prose_numbers(code_prose(src)) == ["7.0", "5x"]


def _lessons(guard: str) -> list:
    known = pytest.mark.xfail(strict=True, reason=f"known to break the {guard} guard")
    return [pytest.param(p, id=p.name, marks=[known] if _known(p, guard) else []) for p in LESSONS]


@pytest.mark.parametrize("path", _lessons("size"))
def test_lesson_fits_one_sitting(path):
    cells = _cells(path)
    chars = sum(len("".join(c["source"])) for c in cells)
    long = {i: len("".join(c["source"]).splitlines()) for i, c in enumerate(cells)
            if c["cell_type"] == "code" and len("".join(c["source"]).splitlines()) > MAX_CODE_LINES}
    problems = []
    if len(cells) > MAX_CELLS:
        problems.append(f"{len(cells)} cells (at most {MAX_CELLS})")
    if chars > MAX_CHARS:
        problems.append(f"{chars:,} characters of source (at most {MAX_CHARS:,})")
    if long:
        problems.append(f"code cells over {MAX_CODE_LINES} lines: {long} (cell index: lines)")
    assert not problems, f"{path.name} is more than one sitting: " + "; ".join(problems)


@pytest.mark.parametrize("path", _lessons("prose"))
def test_lesson_prose_states_no_measured_number(path):
    design = DESIGN.get(path.name, set())
    found = {i: prose_numbers("".join(c["source"]) if c["cell_type"] == "markdown"
                              else code_prose("".join(c["source"])), design)
             for i, c in enumerate(_cells(path)) if c["cell_type"] in ("markdown", "code")}
    found = {i: nums for i, nums in found.items() if nums}
    assert not found, (f"{path.name}: markdown states numbers that look measured (cell index: numbers): "
                       f"{found}. Print them from code, state them as a margin the code asserts, or cite "
                       f"their source in the same paragraph.")
