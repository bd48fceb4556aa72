"""Command line: ``python -m course_utils {doctor,fetch,run,release,grade}``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Dispatch the course's subcommands; return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out
    if argv and argv[0] in ("grade", "release"):
        import importlib

        module = importlib.import_module(
            "course_utils.grading" if argv[0] == "grade" else "course_utils.release")
        return module.main(argv[1:])

    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("doctor", help="show versions, devices, profile and every asset's status")
    p.add_argument("--profile", choices=["smoke", "laptop", "full"])
    p = sub.add_parser("fetch", help="download everything a profile needs (cache or --to DIR)")
    p.add_argument("--profile", choices=["smoke", "laptop", "full"])
    p.add_argument("--to", type=Path, help="write a mirror-layout folder here (e.g. a USB stick)")
    p = sub.add_parser("run", help="execute lessons headless, write build/*.ipynb and *.html")
    p.add_argument("lessons", nargs="*", help="lesson numbers or names (default: all)")
    p.add_argument("--profile", choices=["smoke", "laptop", "full"])
    p.add_argument("--out", type=Path, help="output folder (default: build/)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameters-cell value, e.g. -p EPOCHS=3")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    sub.add_parser("grade", help="grade submissions (see `grade --help`)")
    sub.add_parser("release", help="generate exercises/ from solutions/ (see `release --help`)")
    args = parser.parse_args(argv)

    if args.command == "doctor":
        from course_utils import doctor

        return doctor.run(args.profile)
    if args.command == "fetch":
        from course_utils import catalog

        print(f"Fetching what the {args.profile or 'current'} profile needs"
              + (f" into {args.to}" if args.to else " into your Keras cache") + " ...")
        results = catalog.fetch(args.profile, args.to)
        width = max(len(name) for name, _ in results)
        for name, status in results:
            print(f"  {name.ljust(width)}  {status}")
        missing = [n for n, s in results if s.startswith("MISSING") and "(optional)" not in s]
        return 1 if missing else 0
    if args.command == "run":
        from course_utils import runner

        results = runner.run(args.lessons, args.profile, args.out, runner.parse_params(args.param),
                             args.timeout)
        return 0 if all(r.status == "ok" for r in results) else 1
    return 2  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
