"""Sphinx configuration of the course website (``make site`` / ``python -m course_utils site``).

Static settings only. ``course_utils.cli.site`` stages the pages (executed lessons, exercises,
instructor notes, generated home and "run it yourself" pages) into a build folder and runs
Sphinx on it with this folder as the configuration directory; its ``setup()`` (listed below as
an extension) adds the per-page source links and, when ``pyproject.toml`` names the public
repository, the launch buttons. Nothing here fetches anything: theme, fonts, icons and the
search index are files in the built site.
"""

project = "Hands-on transfer learning with Keras 3"
author = "the course authors"
copyright = "the course authors, MIT licence"

extensions = ["myst_nb", "course_utils.cli.site"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["course.css"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# The notebooks arrive executed (`make run`, or the test suite for build/smoke): render their
# stored outputs, never execute.
nb_execution_mode = "off"
nb_merge_streams = True
nb_render_markdown_format = "gfm"  # display(Markdown(...)) tables render as tables
nb_output_stderr = "show"  # lesson warnings are teaching material; TF start-up noise is absent
# Widgets need require.js and the widget manager from a CDN: the site is offline, so none.
nb_ipywidgets_js = {}
nb_code_prompt_show = "Show {type}"
nb_code_prompt_hide = "Hide {type}"
myst_enable_extensions = ["colon_fence", "deflist", "html_image"]
myst_heading_anchors = 3  # [text](#a-heading) links inside a lesson resolve

html_theme = "sphinx_book_theme"
html_title = "Transfer learning with Keras 3"
html_last_updated_fmt = None
html_show_sourcelink = False  # the header's source button says where each page comes from
html_copy_source = True  # the executed .ipynb stays downloadable from each lesson page
html_show_search_summary = False  # summaries are fetch()ed from the pages: fails on file://
# The theme's colour mode: light, so figures (white backgrounds) read best; the reader can switch.
html_context = {"default_mode": "light"}
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "navigation_with_keys": True,
    "show_navbar_depth": 1,
    "navbar_persistent": [],  # one search field, in the sidebar (not a second one in a top bar)
    # Launch buttons and the repository button are added by course_utils.cli.site only when
    # pyproject.toml's [tool.course] names the public repository (no dead links otherwise).
}
# Pygments styles are local; MathJax is not loaded unless a page has math (then from a CDN:
# the browser test fails on any request that leaves the site).
suppress_warnings = ["mystnb.unknown_mime_type"]
