"""The one plain-text table formatter of the command line (doctor, run summary, grades)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def format_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    """Format dict rows as a fixed-width text table with a header and a rule under it."""
    widths = {c: max([len(c), *(len(str(r.get(c, ""))) for r in rows)]) for c in columns}
    out = ["  ".join(c.ljust(widths[c]) for c in columns).rstrip(),
           "  ".join("-" * widths[c] for c in columns)]
    out += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns).rstrip() for r in rows]
    return "\n".join(out)
