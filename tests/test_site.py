"""The course website: built from the test suite's executed lessons, checked in headless Chromium.

The lessons run first in a test session (``testpaths``: notebooks/ before tests/) and the root
conftest writes each one, executed, to ``build/smoke/``; ``test_every_page_in_a_browser`` builds
the site from those with ``python -m course_utils site`` (nothing is executed again), opens each
page in Debian's Chromium (driven by Playwright, its own browser download not needed) and fails
on a JavaScript error, a request that leaves the site, a broken internal link or image, an image
without alt text, start-up noise, or a lesson page without its figures. One screenshot per page
is kept in ``build/site-screenshots/``. The other tests are fast unit tests of the site's glue.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest
from helpers import ROOT

from course_utils import lessons as course_lessons
from course_utils import report
from course_utils.cli import site

EXECUTED = Path(os.environ.get("COURSE_EXECUTED_DIR", ROOT / "build" / "smoke"))
SITE = ROOT / "build" / "site-smoke"
SHOTS = ROOT / "build" / "site-screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags for Chromium as root in a sandbox with no network (see .ci/run, which installs it).
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
PAGE_TIMEOUT_MS = 60_000  # a loaded 2-core machine
SCREENSHOT_MAX_HEIGHT = 16_000  # pixels; Chromium draws no taller surface


# --------------------------------------------------------------------------------------------
# The site in a browser


# This module is imported while the session collects, before any lesson has run: an executed
# lesson written after this moment was executed by this session.
COLLECTED_AT = time.time()
LESSONS_WAIT_SECONDS = 20 * 60  # the lessons still running on other workers: a few minutes at most


def lessons_of_this_session(items) -> set[str]:
    """The lesson files (names) this session executes: those with collected, unskipped cells."""
    return {Path(str(item.fspath)).name for item in items
            if hasattr(item, "cell") and item.get_closest_marker("skip") is None}


def wait_for_lessons(names: set[str], since: float, timeout: float = LESSONS_WAIT_SECONDS) -> set[str]:
    """Wait until each lesson in ``names`` is written to build/smoke/ after ``since`` (the conftest
    writes it after its last cell, passed or not); return those still missing at ``timeout``.

    Under pytest-xdist other workers run the lessons while this one reaches the site test, which
    is collected last: usually nothing is left to wait for."""
    deadline = time.monotonic() + timeout
    while True:
        missing = {name for name in names
                   if not (EXECUTED / name).is_file() or (EXECUTED / name).stat().st_mtime < since}
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(2)


@pytest.fixture(scope="module")
def built_site(request) -> Path:
    """The site built from build/smoke/ once this session's lessons are there (skipped when no
    lesson has been executed)."""
    missing = wait_for_lessons(lessons_of_this_session(request.session.items), COLLECTED_AT)
    assert not missing, f"lessons of this session never written to {EXECUTED}: {sorted(missing)}"
    if not course_lessons.notebooks_in(EXECUTED):
        pytest.skip(f"no executed lessons in {EXECUTED}: run the lessons first "
                    "(`make test` runs notebooks/ before tests/ and writes them there)")
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "course_utils", "site", "-q", "--executed", str(EXECUTED),
                          "--out", str(SITE)], capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    # Sphinx warnings are shown, not failed on: what breaks a page (a link, an image) the browser sees.
    print(f"site built in {time.perf_counter() - start:.0f} s: {res.stdout.strip()}\n{res.stderr[-3000:]}")
    return SITE


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium (skipped when it is not installed)."""
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH: `apt-get install chromium` (.ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements.txt")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        print(f"browser CPU: {_browser_cpu_seconds():.0f} s (user+sys of its processes)")
        chromium.close()


def _browser_cpu_seconds() -> float:
    """CPU seconds of the browser processes so far (theirs and their exited children's)."""
    import psutil

    total = 0.0
    for proc in psutil.Process().children(recursive=True):
        try:
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.Error:
            pass
    return total


_PAGE_FACTS = """() => ({
  text: document.body.innerText,
  images: Array.from(document.images).map(img => ({
    src: img.currentSrc || img.src, alt: img.getAttribute('alt') || '',
    loaded: img.complete && img.naturalWidth > 0,
    output: !!img.closest('.cell_output'), shown: img.getBoundingClientRect().width > 0})),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
})"""


def visit(browser, url: str, screenshot: Path) -> dict:
    """Load ``url``; return what happened (errors, requests) and what the page holds."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"JavaScript error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.on("requestfailed", lambda req: problems.append(f"failed to load {req.url}: {req.failure}"))
    page.on("request", lambda req: None if req.url.startswith(("file:", "data:", "about:", "blob:"))
            else problems.append(f"request leaves the site (offline?): {req.url}"))
    try:
        page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        page.wait_for_timeout(300)  # scripts that run after load (theme, search)
        facts = page.evaluate(_PAGE_FACTS)
        # The whole page in one picture: a viewport as tall as the page (Playwright's full_page
        # capture draws the theme's sticky navigation shifted), capped where Chromium's is.
        height = page.evaluate("() => document.documentElement.scrollHeight")
        page.set_viewport_size({"width": 1280, "height": min(max(height, 900), SCREENSHOT_MAX_HEIGHT)})
        page.wait_for_timeout(200)
        page.screenshot(path=str(screenshot), timeout=PAGE_TIMEOUT_MS)
    finally:
        page.close()
    return {**facts, "problems": problems}


_IDS: dict[Path, set[str]] = {}


def _broken(link: str, site_root: Path) -> str | None:
    """Why an internal link is broken (missing file or anchor), or None. Other links are skipped."""
    parsed = urlparse(link)
    if parsed.scheme != "file":
        return None
    path = Path(unquote(parsed.path))
    if site_root not in path.parents and path != site_root:
        return f"{link} points outside the site"
    if path.is_dir():
        path = path / "index.html"
    if not path.exists():
        return f"{link}: no such file"
    if parsed.fragment and path.suffix == ".html":
        if path not in _IDS:
            _IDS[path] = set(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8")))
        if unquote(parsed.fragment) not in _IDS[path]:
            return f"{link}: no anchor #{parsed.fragment}"
    return None


def test_every_page_in_a_browser(built_site, browser):
    """Home, every lesson, every exercise and the other pages: no errors, links, figures, alt text."""
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    SHOTS.mkdir(parents=True)
    lessons = site.find_lessons(EXECUTED)
    pages = ["index.html", *[f"notebooks/{les.name}.html" for les in lessons],
             *[f"exercises/{les.name}.html" for les in lessons if les.exercise],
             "run.html", "docs/grading.html"]
    failures, start = [], time.perf_counter()
    for rel in pages:
        facts = visit(browser, (built_site / rel).as_uri(), SHOTS / (rel.replace("/", "_")[:-5] + ".png"))
        problems = list(facts["problems"])
        for img in facts["images"]:
            if not img["loaded"]:
                problems.append(f"image does not load: {img['src']}")
            if not img["alt"].strip() or re.fullmatch(r"[\w./-]+\.(png|jpe?g|svg|gif)", img["alt"]):
                problems.append(f"image without alt text: {img['src']}")
        problems += [why for why in (_broken(link, built_site) for link in set(facts["links"])) if why]
        problems += [f"start-up noise on the page: {m.group(0)!r}"
                     for m in site.NOISE.finditer(facts["text"])]
        lesson = next((les for les in lessons if rel == f"notebooks/{les.name}.html"), None)
        if lesson is not None and lesson.executed is not None:
            shown = [img for img in facts["images"] if img["output"] and img["loaded"] and img["shown"]]
            expected = site.image_outputs(nbformat.read(lesson.executed, as_version=4))
            if expected == 0 or len(shown) < expected:
                problems.append(f"lesson page shows {len(shown)} figures; "
                                f"its executed notebook has {expected}")
        if lesson is not None and lesson.title not in facts["text"]:
            problems.append(f"lesson title {lesson.title!r} not on its page")
        failures += [f"{rel}: {p}" for p in problems]
    print(f"{len(pages)} pages checked in {time.perf_counter() - start:.0f} s; screenshots in {SHOTS}")
    not_run = [les.name for les in lessons if les.executed is None]
    if not_run:
        print(f"not executed in {EXECUTED} (pages without outputs): {', '.join(not_run)}")
    assert not failures, "\n".join(failures[:40])
    home = (built_site / "index.html").read_text(encoding="utf-8")
    for les in lessons:  # the syllabus links every lesson that exists, none configured by hand
        assert f'href="notebooks/{les.name}.html"' in home, f"{les.name} missing from the syllabus"


def test_search_works_offline(built_site, browser):
    """The search page finds a lesson from the site's own index, with no server."""
    page = browser.new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        page.goto((built_site / "search.html").as_uri() + "?q=MobileNetV2", timeout=PAGE_TIMEOUT_MS)
        page.wait_for_selector("#search-results ul.search li", timeout=PAGE_TIMEOUT_MS)
        hits = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.href)")
    finally:
        page.close()
    assert not problems, problems
    assert any("/notebooks/" in hit for hit in hits), f"no lesson among the search hits: {hits[:10]}"


def test_no_launch_links_without_a_public_repository(built_site):
    """Colab/Binder buttons only where pyproject.toml names the repository (no dead links)."""
    if site.repository_settings()["repository"]:
        pytest.skip("pyproject.toml names a repository: launch links are expected")
    for page in (built_site / "notebooks").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "colab.research.google.com" not in text and "mybinder.org" not in text, page.name


# --------------------------------------------------------------------------------------------
# The glue, without a browser


def test_repository_setting_turns_on_launch_buttons(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n')
    assert site.repository_settings(pyproject)["repository"] == ""
    pyproject.write_text('[tool.course]\nrepository = "https://github.com/someone/course.git"\n'
                         'branch = "dev"\n')
    settings = site.repository_settings(pyproject)
    assert settings == {"repository": "https://github.com/someone/course", "branch": "dev"}

    class App:  # what the Sphinx hook reads: the staged context file, the theme options
        srcdir = tmp_path

    (tmp_path / site.CONTEXT_FILE).write_text(
        '{"repository": "https://github.com/someone/course", "branch": "dev", '
        '"sources": {"notebooks/01_x": "notebooks/01_x.ipynb"}}')
    config = type("Config", (), {"html_theme_options": {"show_toc_level": 2}})()
    site._on_config_inited(App, config)
    assert config.html_theme_options["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert config.html_theme_options["repository_url"] == "https://github.com/someone/course"
    context = {"header_buttons": [], "pathto": lambda *a: "unused"}
    site._on_page_context(App, "notebooks/01_x", "page.html", context, None)
    assert context["header_buttons"][0]["url"] == \
        "https://github.com/someone/course/blob/dev/notebooks/01_x.ipynb"


def test_figure_alt_text_comes_from_the_cell_titles():
    code = ('fig = plots.plot_histories(h, title=f"{len(train)} training photos, {IMAGE_SIZE} px")\n'
            'ax.set_title("Grad-CAM of the biased model")\nplt.title(f"{name} ({p:.0%})")')
    assert site.figure_titles(code) == ["… training photos, … px", "Grad-CAM of the biased model"]
    prose = site.plain_sentence("## 3 · Side by side\n\n**Dashed** lines are `train`, solid [val](#x). More.")
    assert prose == "Dashed lines are train, solid val."
    assert site.plain_sentence("## A\n\n- `COURSE_MIRROR` set: mirror\n- other\n\n## B\n") == ""
    first_item = site.plain_sentence("- `COURSE_MIRROR` is set: a mirror\n- other item")
    assert first_item == "COURSE_MIRROR is set: a mirror"
    long = site.plain_sentence("word " * 100)
    assert long.endswith(" …") and len(long) < 170
    alt = site.alt_text("05 · Data bias", "Attribution", code, prose)
    assert alt == ("Figure: … training photos, … px; Grad-CAM of the biased model. Dashed lines are train, "
                   "solid val. (05 · Data bias, section “Attribution”)")
    assert site.alt_text("00 · Setup", "", "plt.imshow(cat)") == "Figure in 00 · Setup"
    assert site.figure_titles('ax.set_title(f"{a} ({b})")') == []


def test_lesson_mentions_become_links_outside_code():
    targets = {"notebooks": {"01_what": "../notebooks/01_what.ipynb"},
               "exercises": {"01_what": "../exercises/01_what.ipynb"}}
    text = ("Next: `01_what.ipynb`. Practise: `exercises/01_what.ipynb`; not `solutions/01_what.ipynb`,\n"
            "nor `09_future.ipynb`.\n```\n`01_what.ipynb`\n```\n")
    out = site._mentions_to_links(text, targets)
    assert "[`01_what.ipynb`](../notebooks/01_what.ipynb)" in out
    assert "[`exercises/01_what.ipynb`](../exercises/01_what.ipynb)" in out
    assert "`solutions/01_what.ipynb`," in out and "[`solutions" not in out
    assert "`09_future.ipynb`" in out and "[`09" not in out
    assert out.endswith("```\n`01_what.ipynb`\n```\n")


def _lesson_nb(title: str, goal: str, headline: str | None = None, lines: int = 1):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n**Goal.** {goal}\n\nMore text."),
                nbformat.v4.new_code_cell("print('x')")]
    text = "".join(f"line {i}\n" for i in range(lines))
    if headline:
        text += f"Headline: {headline}\n"
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    return nb


def test_goal_completes_a_lead_in_with_the_first_item():
    """"**What you will be able to do.** After this lesson you can" then a list: the goal is a sentence."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(
        "# 01 · Intro\n\n**What you will be able to do.** After this lesson you can\n\n"
        "- explain why we reuse\n  pretrained networks;\n- write the two lines.\n\nMore.")]
    goal = "After this lesson you can explain why we reuse pretrained networks."
    assert site._title_and_goal(nb) == ("01 · Intro", goal)
    nb.cells[0].source = "# 02 · Pick\n\n**What you will be able to do.** Pick a model. By numbers."
    assert site._title_and_goal(nb)[1] == "Pick a model."


def test_a_new_lesson_is_picked_up_without_configuration(tmp_path):
    """Any notebooks/NN_*.ipynb is a lesson: found, titled, its headline read, in the syllabus."""
    notebooks, exercises, executed = tmp_path / "notebooks", tmp_path / "exercises", tmp_path / "build"
    for folder in (notebooks, exercises, executed):
        folder.mkdir()
    nbformat.write(_lesson_nb("10 · NLP transfer", "Reuse a text model. Then more."),
                   notebooks / "10_nlp.ipynb")
    nbformat.write(_lesson_nb("10 · NLP transfer", "Reuse a text model. Then more.", "val accuracy: 0.91",
                              lines=40), executed / "10_nlp.ipynb")
    nbformat.write(_lesson_nb("11 · Later", "Not run yet."), notebooks / "11_later.ipynb")
    report.write_summary(executed, {"10_nlp": {"profile": "smoke", "status": "ok", "minutes": 1.25,
                                               "headlines": [{"label": "val accuracy", "value": "0.91"}]}})
    lessons = site.find_lessons(executed, tmp_path)
    assert [les.name for les in lessons] == ["10_nlp", "11_later"]
    nlp, later = lessons
    assert (nlp.title, nlp.goal, nlp.headlines) == ("10 · NLP transfer", "Reuse a text model.",
                                                    [{"label": "val accuracy", "value": "0.91"}])
    assert later.executed is None and not later.stale and not nlp.stale
    table = site.syllabus(lessons)
    assert "[10 · NLP transfer](notebooks/10_nlp.ipynb)" in table and "**0.91**" in table
    assert "| 1.2 |" in table or "| 1.3 |" in table
    assert "not executed in this build" in table and "(smoke profile)" in table
    page = site.prepare_lesson(nlp, {"how": "the test suite", "repository": "", "branch": "main"},
                               {"notebooks": {}, "exercises": {}})
    assert "smoke" in page.cells[1].source and "0.91" in page.cells[1].source
    assert "hide-output" in page.cells[2].metadata["tags"], "a 41-line output is collapsed"
    echo = nbformat.v4.new_output("execute_result", data={"text/plain": "'0.91'"}, execution_count=2)
    nlp_nb = nbformat.read(nlp.executed, as_version=4)
    nlp_nb.cells[1].outputs.append(echo)
    nbformat.write(nlp_nb, nlp.executed)
    page = site.prepare_lesson(nlp, {"how": "the test suite", "repository": "", "branch": "main"},
                               {"notebooks": {}, "exercises": {}})
    assert [o.output_type for o in page.cells[2].outputs] == ["stream"], "headline's echo dropped"


def test_headlines_and_summary_round_trip(tmp_path):
    nb = _lesson_nb("01 · x", "y", "pretrained minus scratch: +0.450 (0.950 vs 0.500)")
    assert report.headlines_in(nb) == [{"label": "pretrained minus scratch",
                                        "value": "+0.450 (0.950 vs 0.500)"}]
    report.write_summary(tmp_path, {"01_x": {"minutes": 1.0}})
    report.write_summary(tmp_path, {"02_y": {"minutes": 2.0}})
    assert report.read_summary(tmp_path) == {"01_x": {"minutes": 1.0}, "02_y": {"minutes": 2.0}}


def _write_summaries(folder: str, worker: int) -> None:
    for k in range(15):
        report.write_summary(Path(folder), {f"{worker:02d}_{k:02d}": {"minutes": float(k)}})


def test_summaries_written_at_once_by_several_processes_keep_every_lesson(tmp_path):
    """Parallel test workers finish lessons at the same time: no entry may be lost."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_summaries, args=(str(tmp_path), w)) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert len(report.read_summary(tmp_path)) == 45


def test_site_waits_for_the_lessons_of_this_session_only(tmp_path, monkeypatch):
    """A lesson written before the session started does not count; one written during it does."""
    monkeypatch.setattr(sys.modules[__name__], "EXECUTED", tmp_path)
    (tmp_path / "01_old.ipynb").write_text("{}")
    since = time.time() + 1
    assert wait_for_lessons({"01_old.ipynb"}, since, timeout=0) == {"01_old.ipynb"}
    os.utime(tmp_path / "01_old.ipynb", (since + 1, since + 1))  # written again, during the session
    assert wait_for_lessons({"01_old.ipynb", "02_new.ipynb"}, since, timeout=0) == {"02_new.ipynb"}
    assert wait_for_lessons(set(), since, timeout=0) == set()


def test_run_page_includes_the_readme_sections():
    page = site.run_page()
    for heading in ("## Quick start", "## Profiles", "## Offline use"):
        assert heading in page
    assert "make run" in page and "make test" in page and "COURSE_MIRROR" in page
    with pytest.raises(SystemExit, match="no section '## Nowhere'"):
        site.readme_section("# x\n\n## Here\ntext\n", "Nowhere")


def test_start_up_noise_is_recognised():
    nb = _lesson_nb("01 · x", "y")
    assert site.noise_lines(nb) == []
    nb.cells[1].outputs.append(nbformat.v4.new_output(
        "stream", name="stderr", text="W0000 00:00:1733 cuda_dnn.cc:8310] Unable to register cuDNN\n"))
    assert site.noise_lines(nb), "a glog line from TensorFlow's start-up is noise"
