"""The plan: which cells the grader executes for a submission, from its solution's check cells.

Every check cell of the submission is replaced by the solution's (edits are reported),
deleted check cells are restored, and hidden checks are inserted after the cell that
precedes them in the solution.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from nbformat import NotebookNode

from course_utils.grading.notebook import check_key, is_check_cell, is_hidden_check_cell, parse_check_call

END = -1  # anchor meaning "after the last submission cell"


@dataclass(frozen=True)
class GradedCheck:
    """A graded position taken from the solution notebook (visible or hidden check)."""

    key: str
    name: str
    artifacts: dict[str, str]
    hidden: bool
    source: str
    cell_id: str
    solution_index: int
    max_points: float = 0.0


class StepKind(enum.Enum):
    """What a cell of the executed notebook is."""

    STUDENT = "student"  # a code cell of the submission, as the student wrote it
    CAPTURE = "capture"  # the grader's capture of a check's artifacts (in place of the check cell)


@dataclass(frozen=True)
class Step:
    """One cell of the notebook the grader executes: student code or an artifact capture."""

    kind: StepKind
    source: str = ""
    check: GradedCheck | None = None
    cell_number: int | None = None  # 1-based position in the submission, if any


def solution_checks(solution: NotebookNode) -> list[GradedCheck]:
    """List the graded check cells of a solution notebook, in order."""
    checks = []
    for index, cell in enumerate(solution.cells):
        hidden = is_hidden_check_cell(cell)
        if not (hidden or is_check_cell(cell)):
            continue
        call = parse_check_call(cell.source)
        if call is None:
            raise ValueError(f"solution cell {index + 1} is not a single check(...) call")
        checks.append(
            GradedCheck(
                key=check_key(cell) or call.name,
                name=call.name,
                artifacts=call.artifacts,
                hidden=hidden,
                source=cell.source,
                cell_id=str(cell.get("id", "")),
                solution_index=index,
            )
        )
    return checks


def _same_source(a: str, b: str) -> bool:
    """Compare cell sources ignoring trailing whitespace on lines and at the end."""
    return [line.rstrip() for line in a.strip().splitlines()] == [
        line.rstrip() for line in b.strip().splitlines()
    ]


def _match_visible_checks(checks: list[GradedCheck], cells: list[NotebookNode]) -> dict[str, int]:
    """Map each visible check key to a submission cell index, by metadata, id, then call."""

    def by_metadata(cell: NotebookNode, check: GradedCheck) -> bool:
        return cell.get("metadata", {}).get("check_id") == check.key

    def by_cell_id(cell: NotebookNode, check: GradedCheck) -> bool:
        return bool(check.cell_id) and cell.get("id") == check.cell_id

    def by_call(cell: NotebookNode, check: GradedCheck) -> bool:
        call = parse_check_call(cell.source)
        return call is not None and call.name == check.name

    matched: dict[str, int] = {}
    for rule in (by_metadata, by_cell_id, by_call):
        for check in checks:
            if check.hidden or check.key in matched:
                continue
            for index, cell in enumerate(cells):
                if cell.cell_type == "code" and index not in matched.values():
                    if rule(cell, check):
                        matched[check.key] = index
                        break
    return matched


def plan_execution(
    solution: NotebookNode, submission: NotebookNode, checks: list[GradedCheck] | None = None
) -> tuple[list[Step], list[str]]:
    """Build the cells to execute for a submission, plus notes on edited/deleted checks."""
    checks = solution_checks(solution) if checks is None else checks
    cells = submission.cells
    matched = _match_visible_checks(checks, cells)
    key_at = {index: key for key, index in matched.items()}
    by_key = {check.key: check for check in checks}
    notes = []
    for check in checks:
        if check.hidden:
            continue
        if check.key not in matched:
            notes.append(f"the check cell for {check.key} was deleted; the original was restored")
        elif not _same_source(cells[matched[check.key]].source, check.source):
            number = matched[check.key] + 1
            notes.append(f"check cell {number} ({check.key}) was edited; the original was used")

    submission_ids = {}
    for index, cell in enumerate(cells):
        submission_ids.setdefault(cell.get("id"), index)
    solution_keys = {check.solution_index: check.key for check in checks}
    inserts: dict[int, list[GradedCheck]] = {}
    for check in checks:
        if check.key in matched:
            continue
        anchor = END
        for index in range(check.solution_index - 1, -1, -1):
            earlier_key = solution_keys.get(index)
            if earlier_key is not None:
                if earlier_key in matched:
                    anchor = matched[earlier_key]
                    break
                continue  # an inserted check: keep looking for a real anchor
            cell_id = solution.cells[index].get("id")
            if cell_id in submission_ids:
                anchor = submission_ids[cell_id]
                break
        inserts.setdefault(anchor, []).append(check)

    steps: list[Step] = []
    for index, cell in enumerate(cells):
        if cell.cell_type == "code":
            if index in key_at:
                steps.append(Step(StepKind.CAPTURE, check=by_key[key_at[index]], cell_number=index + 1))
            else:
                steps.append(Step(StepKind.STUDENT, source=cell.source, cell_number=index + 1))
        steps.extend(Step(StepKind.CAPTURE, check=check) for check in inserts.get(index, []))
    steps.extend(Step(StepKind.CAPTURE, check=check) for check in inserts.get(END, []))
    return steps, notes


# --------------------------------------------------------------------------- 4. box
