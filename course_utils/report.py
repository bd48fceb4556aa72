"""A lesson's headline number: shown in the notebook and collected by the run summary."""

from __future__ import annotations

import json
import os
from pathlib import Path

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
