"""The course's command line: ``python -m course_utils {doctor,fetch,run,site,release,taught,grade}``.

Every subcommand is declared here; each lives in its own module and is imported only
when used, so ``doctor --help`` does not import TensorFlow, and only ``grade`` and ``release``
import the grader (``course_utils.grading``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from course_utils import profiles


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="show versions, devices, profile and every asset's status")
    p = sub.add_parser("fetch", help="download everything the lessons need (cache or --to DIR)")
    p.add_argument("--to", type=Path, help="write a mirror-layout folder here (e.g. a USB stick)")
    p.add_argument("--tfds", action="store_true",
                   help="also download and prepare the TensorFlow Datasets sets (optional, 230 MB)")
    p = sub.add_parser("run", help="execute lessons headless, write build/*.ipynb and *.html")
    p.add_argument("lessons", nargs="*", help="lesson numbers or names (default: all)")
    p.add_argument("--profile", choices=list(profiles.PROFILES))
    p.add_argument("--out", type=Path, help="output folder (default: build/)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameters-cell value, e.g. -p EPOCHS=3")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    p = sub.add_parser("site", help="build the website build/site/ from executed lessons (runs nothing)")
    p.add_argument("--executed", type=Path, metavar="DIR",
                   help="executed lessons (default: build/, from `run`; build/smoke/: the tests')")
    p.add_argument("--out", type=Path, metavar="DIR", help="where the site goes (default: build/site/)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only warnings and the summary")
    p = sub.add_parser("release", help="generate exercises/ from solutions/")
    p.add_argument("--solutions", default="solutions", help="solution notebooks folder")
    p.add_argument("--exercises", default="exercises", help="exercise notebooks folder")
    p.add_argument("--check", action="store_true", help="only report stale exercises; exit 1 if any")
    p = sub.add_parser("taught", help="write course_utils/taught/ from the lessons' `# @save` cells")
    p.add_argument("--check", action="store_true", help="only report stale modules; exit 1 if any")
    p = sub.add_parser("grade", help="grade submissions against solutions/ (see docs/grading.md)")
    from course_utils.cli import grade

    grade.add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Dispatch the course's subcommands; return the exit code."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    # This process's own TensorFlow (doctor imports it): warnings off, as in every kernel.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.command == "doctor":
        from course_utils.cli import doctor

        return doctor.run()
    if args.command == "fetch":
        return _fetch(args.to, args.tfds)
    if args.command == "run":
        from course_utils.cli import run

        results = run.run(args.lessons, args.profile, args.out, run.parse_params(args.param), args.timeout)
        return 0 if all(r.status == "ok" for r in results) else 1
    if args.command == "site":
        from course_utils.cli import site

        return site.build(args.executed, args.out, args.quiet)
    if args.command == "release":
        return _release(args.solutions, args.exercises, args.check)
    if args.command == "taught":
        from course_utils.cli import taught

        return taught.run(args.check)
    if args.command == "grade":
        from course_utils.cli import grade

        return grade.run(args)
    return 2  # pragma: no cover


def _fetch(to: Path | None, tfds: bool = False) -> int:
    """Fetch every asset; exit 1 if a required one is still missing."""
    from course_utils import fetching

    print("Fetching what the lessons need" + (f" into {to}" if to else " into your Keras cache") + " ...")
    results = fetching.fetch(to, tfds=tfds)
    width = max(len(r.name) for r in results)
    for r in results:
        shown = r.message if r.state is fetching.State.AVAILABLE else f"{r.state.value}: {r.message}"
        print(f"  {r.name.ljust(width)}  {shown}")
    return 1 if any(r.state.blocks for r in results) else 0


def _release(solutions: str, exercises: str, check_only: bool) -> int:
    """Regenerate exercises/ from solutions/, or with ``check_only`` report stale ones."""
    from course_utils.grading import release

    if check_only:
        problems = release.stale_exercises(solutions, exercises)
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    for path in release.release_all(solutions, exercises):
        print(f"wrote {path}")
    return 0
