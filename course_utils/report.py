"""A lesson's headline number: shown in the notebook and collected by the run summary."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

from course_utils import files

ENV_VAR = "COURSE_REPORT_FILE"


def headline(label: str, value: float | str, fmt: str = "{:.3f}") -> str:
    """Print a lesson's headline result and record it for ``python -m course_utils run``.

    The runner sets ``COURSE_REPORT_FILE``; outside the runner this only prints.
    """
    text = fmt.format(value) if isinstance(value, (int, float)) else str(value)
    print(f"Headline: {label}: {text}")
    target = os.environ.get(ENV_VAR)
    if target:
        with open(Path(target), "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"label": label, "value": text}) + "\n")
    return text


def read_headlines(path: Path) -> list[dict]:
    """Return the headlines recorded in ``path`` (one JSON object per line)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


HEADLINE_PREFIX = "Headline: "
SUMMARY_NAME = "run-summary.json"  # next to the executed notebooks: build/, build/smoke/


def headlines_in(nb) -> list[dict]:
    """Return the headlines an executed notebook printed (``headline()``'s lines in its outputs).

    For notebooks executed without the runner (nbval in the test suite), which sets no
    ``COURSE_REPORT_FILE``.
    """
    found = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") != "stream":
                continue
            for line in str(output.get("text", "")).splitlines():
                if line.startswith(HEADLINE_PREFIX):
                    label, _, value = line[len(HEADLINE_PREFIX):].rpartition(": ")
                    found.append({"label": label, "value": value})
    return found


def summary_entry(profile: str, status: str, minutes: float, headlines: list[dict], error: str = "",
                  params: dict | None = None) -> dict:
    """One lesson's line of ``run-summary.json`` (what the site's syllabus shows), however it ran."""
    return {"profile": profile, "status": status, "minutes": round(minutes, 2), "headlines": headlines,
            "error": error, "params": {name: repr(value) for name, value in (params or {}).items()},
            "cpus": os.cpu_count(),
            "finished": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}


def write_summary(folder: Path, entries: dict[str, dict]) -> Path:
    """Merge per-lesson run results into ``folder/run-summary.json`` and return its path.

    ``entries`` maps a lesson name to its :func:`summary_entry`; lessons run earlier
    (``make run LESSONS=01``, then ``02``) keep their entries.
    """
    with files.locked(Path(folder) / SUMMARY_NAME):  # lessons finishing at once in parallel runs
        lessons = read_summary(folder)
        lessons.update(entries)
        return files.write_text(Path(folder) / SUMMARY_NAME,
                                json.dumps({"lessons": dict(sorted(lessons.items()))}, indent=1) + "\n")


def read_summary(folder: Path) -> dict[str, dict]:
    """Return the per-lesson entries of ``folder/run-summary.json`` (empty when there is none)."""
    path = Path(folder) / SUMMARY_NAME
    if not path.exists():
        return {}
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")).get("lessons", {}))
    except (ValueError, AttributeError):
        return {}
