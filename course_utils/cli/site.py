"""``python -m course_utils site``: the course as a static website, built from executed lessons.

Reads the lessons as ``make run`` executed them (``build/*.ipynb`` and ``build/run-summary.json``;
or ``build/smoke/``, which the test suite writes) and never executes anything. Every
``notebooks/NN_*.ipynb`` becomes a page, every ``exercises/NN_*.ipynb`` an exercise page, with no
per-lesson configuration: a lesson added tomorrow appears in the syllabus, the navigation and the
search by itself. The pages are staged into ``build/.site-work/src/`` (executed notebooks prepared
for reading: long outputs collapsed, figures given alt text, lesson mentions linked) and rendered
by Sphinx + myst-nb with ``site/`` as the configuration folder, into ``build/site/``.

This module is also the Sphinx extension ``site/conf.py`` loads (``setup()`` below): it adds each
page's source link and, only when ``pyproject.toml``'s ``[tool.course]`` names the public
repository, the repository and Colab/Binder launch buttons.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_utils import engine, report
from course_utils import lessons as course_lessons

ROOT = Path(__file__).resolve().parents[2]
SITE_DIR = ROOT / "site"  # conf.py, the home and "run it yourself" page templates, CSS
CONTEXT_FILE = "_course.json"  # in the staged sources: what setup() needs per page
LONG_OUTPUT_LINES = 30  # a text output longer than this is collapsed (or scrolled, next to a figure)
README_SECTIONS_MARK = re.compile(r"<!-- course:readme (.+?) -->")
# TensorFlow/absl/CUDA start-up lines: the engine keeps them out of outputs (its markers), the
# site checks, with the glog line prefix ("W0000 00:00:...") and a few more of TensorFlow's.
NOISE = re.compile("|".join([
    r"^[IWEF]\d{4} \d\d:\d\d:\d\d", *map(re.escape, engine.NOISE_MARKERS), r"tensorflow/core/",
    r"This TensorFlow binary is optimized", r"Unable to register cu(DNN|FFT|BLAS)"]), re.MULTILINE)


@dataclass
class Lesson:
    """One lesson as the site shows it: its source, its executed copy, its results."""

    source: Path  # notebooks/NN_name.ipynb
    executed: Path | None  # the executed copy, if there is one
    title: str
    goal: str
    entry: dict = field(default_factory=dict)  # its run-summary.json line, if any
    headlines: list[dict] = field(default_factory=list)
    figures: int = 0
    stale: bool = False  # the lesson's code changed after it was executed
    exercise: Path | None = None  # exercises/NN_name.ipynb

    @property
    def name(self) -> str:
        """The lesson's file stem, ``NN_name``."""
        return self.source.stem

    @property
    def number(self) -> str:
        """The lesson's two-digit number."""
        return self.name[:2]


# --------------------------------------------------------------------------------------------
# Reading the lessons


def image_outputs(nb) -> int:
    """Number of image outputs (figures) in a notebook."""
    return sum(1 for cell in nb.cells for out in cell.get("outputs", [])
               if any(mime.startswith("image/") for mime in out.get("data", {})))


def noise_lines(nb) -> list[str]:
    """Output lines of a notebook that look like TensorFlow/absl/CUDA start-up noise."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else \
                out.get("data", {}).get("text/plain", "")
            found += [m.group(0) for m in NOISE.finditer(str(text))]
    return found


def _first_sentence(text: str) -> str:
    """The first sentence of a paragraph (the whole paragraph if it has no sentence end)."""
    m = re.match(r"(.+?[.!?])(\s+(?=[A-Z*_`])|$)", text)
    return m.group(1) if m else text


def _title_and_goal(nb) -> tuple[str, str]:
    """The lesson's H1 and the first sentence after it (its "**Goal.**").

    A lead-in that ends without a sentence ("After this lesson you can") is completed with the
    first item of the list that follows it.
    """
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.strip().splitlines()
        if not lines or not lines[0].startswith("# "):
            continue
        title = lines[0][2:].strip()
        paragraphs = [p.strip() for p in "\n".join(lines[1:]).split("\n\n") if p.strip()]
        goal = " ".join(paragraphs[0].split()) if paragraphs else ""
        goal = re.sub(r"^\*\*[^*]+?[.:]\*\*\s*", "", goal)     # "**Goal.**", "**What you will ... do.**"
        item = re.match(r"(?:[-*]|\d+\.)\s+(.*?)(?=\s+(?:[-*]|\d+\.)\s|$)",
                        " ".join(paragraphs[1].split())) if len(paragraphs) > 1 else None
        if re.search(r"\w$", goal) and item:
            goal = f"{goal} {item.group(1).rstrip(';,.')}."
        return title, _first_sentence(goal)
    return "", ""


def _code_sources(nb) -> list[str]:
    """The code a notebook runs (without a runner-injected parameters cell)."""
    return [c.source.strip() for c in nb.cells if c.cell_type == "code"
            and "injected-parameters" not in c.get("metadata", {}).get("tags", [])]


def find_lessons(executed_dir: Path, root: Path | None = None) -> list[Lesson]:
    """Every lesson of the course at ``root`` (default: this checkout) with its executed copy in
    ``executed_dir`` (if any)."""
    summary = report.read_summary(executed_dir)
    lessons = []
    for record in course_lessons.all_lessons(root):
        source = record.notebook
        executed = executed_dir / source.name
        src_nb = nbformat.read(source, as_version=4)
        nb = nbformat.read(executed, as_version=4) if executed.exists() else src_nb
        title, goal = _title_and_goal(nb)
        entry = summary.get(source.stem, {}) if executed.exists() else {}
        lessons.append(Lesson(
            source=source, executed=executed if executed.exists() else None,
            title=title or source.stem, goal=goal, entry=entry,
            headlines=entry.get("headlines") or (report.headlines_in(nb) if executed.exists() else []),
            figures=image_outputs(nb) if executed.exists() else 0,
            stale=executed.exists() and _code_sources(src_nb) != _code_sources(nb),
            exercise=record.exercise))
    return lessons


# --------------------------------------------------------------------------------------------
# Preparing pages


def _mentions_to_links(markdown: str, targets: dict[str, dict[str, str]]) -> str:
    """Turn `` `NN_name.ipynb` `` mentions of lessons and exercises into links to their pages.

    ``targets`` maps a folder (``notebooks``, ``exercises``) to ``{stem: link}``; a bare name is a
    lesson. Code blocks are left alone, and so are solutions (not on the site).
    """
    def link(m: re.Match) -> str:
        folder = (m.group(1) or "notebooks/").rstrip("/")
        target = targets.get(folder, {}).get(m.group(2))
        return f"[{m.group(0)}]({target})" if target else m.group(0)

    out, fenced = [], False
    for line in markdown.splitlines(keepends=True):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and not line.startswith("    "):
            line = re.sub(r"`((?:exercises/|notebooks/|solutions/)?)([0-9]{2}_[A-Za-z0-9_]+)\.ipynb`",
                          link, line)
        out.append(line)
    return "".join(out)


def _string_of(node: ast.AST) -> str:
    """A title argument's readable text: literal parts kept, formatted values as "…"."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "…" for v in node.values)
    return ""


def figure_titles(code: str) -> list[str]:
    """Titles a plotting cell gives its figures (``title=``, ``set_title``, ``suptitle``...)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    titles = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        candidates = [kw.value for kw in node.keywords if kw.arg in ("title", "suptitle")]
        if name in ("title", "set_title", "suptitle") and node.args:
            candidates.insert(0, node.args[0])
        for arg in candidates:
            text = " ".join(_string_of(arg).split())
            if len(re.sub(r"[^A-Za-z]", "", text)) >= 3 and text not in titles:
                titles.append(text)
    return titles


def plain_sentence(markdown: str, limit: int = 160) -> str:
    """The first sentence after a markdown cell's last heading, without markup, at most ``limit``."""
    text = re.split(r"^#{1,6} .*$", markdown, flags=re.MULTILINE)[-1]
    block = []
    for line in text.strip().splitlines():
        if not line.strip() or (block and re.match(r"\s*(- |\* |\d+\. )", line)):
            break  # the first paragraph or list item only
        if not line.lstrip().startswith(("|", "```", ":::")):
            block.append(line)
    text = " ".join(" ".join(block).split())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [text](link) -> text
    text = re.sub(r"^(- |\* |\d+\. )", "", text.replace("*", "").replace("`", ""))
    text = _first_sentence(text)
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def alt_text(lesson_title: str, section: str, code: str, prose: str = "") -> str:
    """Alt text for a cell's figures: their titles, the prose that introduces them, where they are.

    Titles come from the code (``title=``, ``set_title``, ``suptitle``; formatted values shown
    as "…"); a title that is mostly placeholders is left out.
    """
    titles = [t for t in figure_titles(code)
              if "…" not in t or len(re.sub(r"[^A-Za-z]", "", t)) >= 12]
    where = f"{lesson_title}, section “{section}”" if section else lesson_title
    what = "; ".join(titles)
    if prose:
        what = f"{what}. {prose}" if what else prose
    return (f"Figure: {what} ({where})" if what else f"Figure in {where}")[:400]


def _collapse_long_outputs(cell) -> None:
    """Tag a cell whose text output is long: collapsed alone, scrolled next to a figure."""
    lines, has_image = 0, False
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        has_image |= any(mime.startswith("image/") for mime in data)
        if out.get("output_type") == "stream":
            lines += str(out.get("text", "")).count("\n")
        elif "text/plain" in data and not ({"text/html", "image/png"} & set(data)):
            lines += str(data["text/plain"]).count("\n")
    if lines > LONG_OUTPUT_LINES:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        tags.append("scroll-output" if has_image else "hide-output")


def _drop_headline_echo(cell) -> None:
    """Drop the ``'0.08 -> 0.69'`` a cell ending in ``report.headline(...)`` echoes after printing it."""
    values = {repr(h["value"]) for h in report.headlines_in({"cells": [cell]})}
    cell.outputs = [out for out in cell.get("outputs", []) if not (
        out.get("output_type") == "execute_result"
        and set(out.get("data", {})) == {"text/plain"} and out["data"]["text/plain"] in values)]


def _admonition(kind: str, title: str, body: str) -> nbformat.NotebookNode:
    """A markdown cell holding a MyST admonition."""
    return nbformat.v4.new_markdown_cell(f":::{{admonition}} {title}\n:class: {kind}\n{body.strip()}\n:::")


def _lesson_banner(lesson: Lesson, ctx: dict) -> nbformat.NotebookNode:
    """The box under a lesson's title: how, where and when its outputs were computed."""
    entry = lesson.entry
    links = ["[Run it yourself](../run.md)"]
    if lesson.exercise:
        links.insert(0, f"[Exercises for this lesson](../exercises/{lesson.name}.ipynb)")
    if lesson.executed is None:
        return _admonition("warning", "Not executed yet", f"""
This page shows the lesson without its outputs: it has not been run for this build of the site.
`make run LESSONS={lesson.number}`, then `make site`, fills them in.

{' · '.join(links)}""")
    profile = entry.get("profile", "")
    how = ctx["how"]
    when = f" on {entry['finished'][:10]}" if entry.get("finished") else ""
    minutes = f", {entry['minutes']:.1f} min on {entry.get('cpus', '?')} CPU cores" \
        if isinstance(entry.get("minutes"), (int, float)) else ""
    profile_text = f"in the **{profile}** profile" if profile else "(profile not recorded)"
    smoke = (" The smoke profile uses tiny sizes to keep the test suite fast: its numbers are not the "
             "lesson's laptop-profile results.") if profile == "smoke" else ""
    stale = ("\n\n**The lesson's code has changed since this run**: the outputs below may be out of date."
             if lesson.stale else "")
    error = _cell(entry.get("error")) or "see the failing cell"
    failed = (f"\n\n**This run stopped with an error** ({error}): the outputs below end there."
              if entry.get("status") == "FAILED" else "")
    headline = "; ".join(f"{h['label']}: **{h['value']}**" for h in lesson.headlines)
    return _admonition("error" if failed else "note", f"Executed {profile_text}", f"""
Every output on this page was computed by {how}{when}{minutes}.{smoke}{stale}{failed}
{f"Headline: {headline}." if headline else ""}

{' · '.join(links)}""")


def prepare_lesson(lesson: Lesson, ctx: dict, targets: dict[str, dict[str, str]]) -> nbformat.NotebookNode:
    """The lesson notebook as its page renders it (outputs untouched, presentation added)."""
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    nb = nbformat.read(lesson.executed or lesson.source, as_version=4)
    nb.metadata.pop("widgets", None)  # widget state would pull the widget manager from a CDN
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})
    section, prose = "", ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            headings = re.findall(r"^#{1,3} +(.+)$", cell.source, re.MULTILINE)
            section = headings[-1].strip() if headings else section
            prose = plain_sentence(cell.source)
            cell.source = _mentions_to_links(cell.source, targets)
        elif cell.cell_type == "code":
            _drop_headline_echo(cell)
            _collapse_long_outputs(cell)
            if any(mime.startswith("image/") for out in cell.get("outputs", [])
                   for mime in out.get("data", {})):
                meta = cell.setdefault("metadata", {}).setdefault("mystnb", {})
                meta.setdefault("image", {})["alt"] = alt_text(lesson.title, section, cell.source, prose)
    nb.cells.insert(1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0,
                    _lesson_banner(lesson, ctx))
    return nb


def _checks_in(nb) -> list[str]:
    """The ids of the visible check cells of an exercise notebook."""
    ids = []
    for cell in nb.cells:
        if "check" in cell.get("metadata", {}).get("tags", []):
            m = re.search(r"""check\(\s*["']([^"']+)["']""", cell.source)
            if m:
                ids.append(m.group(1))
    return ids


def prepare_exercise(path: Path, lesson: Lesson | None, ctx: dict,
                     targets: dict[str, dict[str, str]]) -> nbformat.NotebookNode:
    """A blank exercise notebook with a box on how to get it and how it is checked."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None  # blank, as a learner gets it
        elif cell.cell_type == "markdown":
            cell.source = _mentions_to_links(cell.source, targets)
    checks = _checks_in(nb)
    rel = f"exercises/{path.name}"
    get = (f"[`{rel}`]({ctx['repository']}/blob/{ctx['branch']}/{rel}) in the course repository"
           if ctx["repository"] else
           f'<a href="../source/{rel}" download>{path.name}</a> (also `{rel}` in the course repository)')
    lesson_link = f"[{lesson.title}](../notebooks/{lesson.name}.ipynb)" if lesson else "its lesson"
    body = f"""
- **Get it**: {get}. Open it in Jupyter from the course folder (`.venv/bin/jupyter lab exercises/`),
  after working through {lesson_link}.
- **Do it**: write your code where it says `# YOUR CODE HERE` (delete the `raise NotImplementedError`).
- **Check it**: run the check cell under each exercise: it prints ✓ with your points, or ✗ with a hint
  that says what to fix. This notebook has {len(checks)} visible check{'s' if len(checks) != 1 else ''}
  ({', '.join(f'`{c}`' for c in checks) or 'none'}); the grader adds hidden checks that recompute
  what it trusts on its own data.
- **Hand it in**: your instructor grades a folder of submissions with `python -m course_utils grade`
  (see the [instructor notes](../docs/grading.md)).
"""
    nb.cells.insert(1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0,
                    _admonition("tip", "How to get and check this exercise", body))
    return nb


def readme_section(readme: str, heading: str) -> str:
    """A ``## heading`` section of the README (heading included), or an error naming it."""
    m = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", readme, re.MULTILINE | re.DOTALL)
    if m is None:
        raise SystemExit(f"README.md has no section '## {heading}' (site/run.md includes it): "
                         "rename the marker in site/run.md or restore the heading")
    return m.group(0).strip()


def _cell(text: str | None) -> str:
    """Text made safe for one line of Markdown and one cell of a pipe table (no ANSI colours)."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(text or "")).split()).replace("|", "\\|")


def syllabus(lessons: list[Lesson]) -> str:
    """The home page's syllabus table: lesson, what you do, headline, minutes, exercises."""
    profiles = sorted({les.entry.get("profile", "") for les in lessons if les.executed} - {""})
    label = "/".join(profiles) or "recorded"
    rows = []
    for les in lessons:
        minutes = les.entry.get("minutes")
        status = les.entry.get("status", "ok")
        if les.executed is None:
            result = "*not executed in this build*"
        elif status != "ok":
            result = f"*failed*: {_cell(les.entry.get('error', ''))}"
        else:
            result = "; ".join(f"{_cell(h['label'])}: **{_cell(h['value'])}**" for h in les.headlines) or "–"
        exercise = f"[exercises](exercises/{les.name}.ipynb)" if les.exercise else "–"
        rows.append(f"| [{_cell(les.title)}](notebooks/{les.name}.ipynb) | {_cell(les.goal)} | {result} "
                    f"| {f'{minutes:.1f}' if isinstance(minutes, (int, float)) else '–'} | {exercise} |")
    table = "\n".join([f"| lesson | what you will do | headline ({label} profile) | minutes | |",
                       "|---|---|---|---|---|", *rows])
    return f":::{{table}}\n:class: syllabus\n:widths: auto\n\n{table}\n:::"


def _results_note(lessons: list[Lesson], ctx: dict) -> str:
    """What produced the syllabus' numbers (smoke runs are labelled as such)."""
    entries = [les.entry for les in lessons if les.entry]
    profiles = sorted({e.get("profile", "") for e in entries} - {""})
    cpus = sorted({str(e.get("cpus")) for e in entries if e.get("cpus")})
    dates = sorted(e["finished"][:10] for e in entries if e.get("finished"))
    text = (f"Headline numbers and minutes as measured by {ctx['how']}"
            + (f" in the {'/'.join(profiles)} profile" if profiles else "")
            + (f", on {'/'.join(cpus)} CPU cores" if cpus else "")
            + (f", {dates[0]}" + (f" to {dates[-1]}" if dates[-1] != dates[0] else "") if dates else "")
            + ".")
    if "smoke" in profiles:
        text += (" **These are smoke-profile numbers**: tiny sizes that keep the test suite fast, not the "
                 "lessons' results. `make run && make site` publishes the laptop profile's.")
    return text


def _toctrees(lessons: list[Lesson]) -> str:
    """The hidden tables of contents that give the site its navigation."""
    def tree(caption: str, entries: list[str]) -> str:
        return "```{toctree}\n:hidden:\n:caption: " + caption + "\n\n" + "\n".join(entries) + "\n```\n"
    return "\n".join([
        tree("Lessons", [f"notebooks/{les.name}" for les in lessons]),
        tree("Exercises", [f"exercises/{les.name}" for les in lessons if les.exercise]),
        tree("Using the course", ["run", "Instructor notes <docs/grading>"]),
    ])


def home_page(lessons: list[Lesson], ctx: dict) -> str:
    """site/index.md with the README's introduction, the syllabus and the navigation filled in."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    intro = readme.split("\n\n")[1].strip() if "\n\n" in readme else ""
    page = (SITE_DIR / "index.md").read_text(encoding="utf-8")
    return (page.replace("<!-- course:intro -->", intro)
            .replace("<!-- course:syllabus -->", _results_note(lessons, ctx) + "\n\n" + syllabus(lessons))
            .replace("<!-- course:toctrees -->", _toctrees(lessons)))


def run_page() -> str:
    """site/run.md with the README sections it names filled in."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = (SITE_DIR / "run.md").read_text(encoding="utf-8")
    return README_SECTIONS_MARK.sub(lambda m: readme_section(readme, m.group(1)), page)


# --------------------------------------------------------------------------------------------
# Building


def repository_settings(pyproject: Path | None = None) -> dict:
    """``[tool.course]`` of pyproject.toml: the public ``repository`` URL and its ``branch``."""
    import tomllib  # Python >= 3.11, as Sphinx 9 is

    data = tomllib.loads((pyproject or ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    course = data.get("tool", {}).get("course", {})
    repo = str(course.get("repository", "")).strip().rstrip("/")
    return {"repository": repo.removesuffix(".git"), "branch": str(course.get("branch", "main"))}


def stage(executed_dir: Path, src: Path) -> list[Lesson]:
    """Write every page's source into ``src`` (emptied first); return the lessons found."""
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    lessons = find_lessons(executed_dir)
    if not lessons:
        raise SystemExit(f"no lessons in {ROOT / 'notebooks'} (expected NN_name.ipynb)")
    settings = repository_settings()
    profiles = {les.entry.get("profile") for les in lessons if les.entry}
    how = ("the test suite (`make test`)" if profiles == {"smoke"} and executed_dir.name == "smoke"
           else "`make run`" if executed_dir.resolve() == (ROOT / "build").resolve()
           else f"the run that wrote `{executed_dir}`")
    ctx = {**settings, "how": how}
    targets = {"notebooks": {les.name: f"../notebooks/{les.name}.ipynb" for les in lessons},
               "exercises": {les.name: f"../exercises/{les.name}.ipynb" for les in lessons if les.exercise}}
    sources = {"index": "site/index.md", "run": "README.md", "docs/grading": "docs/grading.md"}
    (src / "notebooks").mkdir()
    (src / "exercises").mkdir()
    (src / "docs").mkdir()
    for les in lessons:
        nbformat.write(prepare_lesson(les, ctx, targets), src / "notebooks" / les.source.name)
        sources[f"notebooks/{les.name}"] = f"notebooks/{les.source.name}"
        if les.exercise:
            nbformat.write(prepare_exercise(les.exercise, les, ctx, targets),
                           src / "exercises" / les.exercise.name)
            sources[f"exercises/{les.name}"] = f"exercises/{les.exercise.name}"
    (src / "index.md").write_text(home_page(lessons, ctx), encoding="utf-8")
    (src / "run.md").write_text(run_page(), encoding="utf-8")
    shutil.copy2(ROOT / "docs" / "grading.md", src / "docs" / "grading.md")
    (src / CONTEXT_FILE).write_text(json.dumps({**settings, "sources": sources}, indent=1), encoding="utf-8")
    return lessons


def build(executed_dir: Path | None = None, out_dir: Path | None = None, quiet: bool = False) -> int:
    """Build the website from ``executed_dir`` (default ``build/``) into ``out_dir``; exit code."""
    from sphinx.cmd.build import build_main

    executed_dir = Path(executed_dir or ROOT / "build")
    out_dir = Path(out_dir or ROOT / "build" / "site")
    if not course_lessons.notebooks_in(executed_dir):
        print(f"No executed lessons in {executed_dir}/: run `make run` first (the laptop profile), or "
              "build from the test suite's smoke outputs with `make site EXECUTED=build/smoke`.",
              file=sys.stderr)
        return 1
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / ".buildinfo").exists():
        print(f"{out_dir} exists and is not a site this command built: not overwriting it.", file=sys.stderr)
        return 1
    start = time.perf_counter()
    # Sphinx and myst-nb work in a folder of their own (myst-nb writes figures beside the
    # output folder, so the HTML is built there and then moved into place).
    work = out_dir.parent / f".{out_dir.name}-work"
    src, html = work / "src", work / "html"
    lessons = stage(executed_dir, src)
    for les in lessons:
        noise = noise_lines(nbformat.read(les.executed, as_version=4)) if les.executed else []
        if noise:
            print(f"warning: {les.name} has start-up noise in its outputs: {noise[:3]}", file=sys.stderr)
    if html.exists():
        shutil.rmtree(html)  # pages of lessons that no longer exist must go too
    args = ["-b", "html", "-c", str(SITE_DIR), "-d", str(work / "doctrees"), str(src), str(html)]
    code = build_main(["-q", *args] if quiet else args)
    if code == 0:
        sources = json.loads((src / CONTEXT_FILE).read_text(encoding="utf-8"))["sources"]
        for rel in sorted(set(sources.values())):  # what each page's source link points at
            (html / "source" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, html / "source" / rel)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        html.rename(out_dir)
    missing = [les.name for les in lessons if les.executed is None]
    print(f"site: {len(lessons)} lessons ({len(lessons) - len(missing)} executed, from {executed_dir}), "
          f"{sum(1 for les in lessons if les.exercise)} exercises, built in "
          f"{time.perf_counter() - start:.0f} s -> {out_dir / 'index.html'}")
    if missing:
        print(f"not executed (shown without outputs): {', '.join(missing)}; `make run LESSONS=NN` runs one")
    stale = [les.name for les in lessons if les.stale]
    if stale:
        print(f"changed since executed (outputs may be stale): {', '.join(stale)}")
    return code


# --------------------------------------------------------------------------------------------
# The Sphinx extension (site/conf.py lists this module)


def _on_config_inited(app, config) -> None:
    """With a public repository configured, turn on the theme's repository and launch buttons."""
    ctx = _page_context(app)
    if not ctx.get("repository"):
        return
    config.html_theme_options = {
        **config.html_theme_options,
        "repository_url": ctx["repository"], "repository_branch": ctx["branch"], "path_to_docs": "",
        "use_repository_button": True,
        "launch_buttons": {"colab_url": "https://colab.research.google.com",
                           "binderhub_url": "https://mybinder.org", "notebook_interface": "jupyterlab"},
    }


def _page_context(app) -> dict:
    """The staged sources' context file (repository settings, each page's source file)."""
    path = Path(app.srcdir) / CONTEXT_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"sources": {}}


def _on_page_context(app, pagename, templatename, context, doctree) -> None:
    """Add the header button linking the page's source file (repository, or the copy in the site)."""
    ctx = _page_context(app)
    rel = ctx["sources"].get(pagename)
    if not rel or "header_buttons" not in context:
        return
    if ctx.get("repository"):
        url, where = f"{ctx['repository']}/blob/{ctx['branch']}/{rel}", "in the repository"
    else:
        url, where = context["pathto"](f"source/{rel}", 1), "as in the repository"
    context["header_buttons"].append({
        "type": "link", "url": url, "text": rel, "tooltip": f"Source: {rel} ({where})",
        "icon": "fas fa-file-code", "label": "course-source-button"})


def setup(app) -> dict:
    """Register the site's per-page source links and optional launch buttons with Sphinx."""
    app.connect("config-inited", _on_config_inited)
    app.connect("html-page-context", _on_page_context, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
