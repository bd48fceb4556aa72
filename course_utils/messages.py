"""Kernel messages at a bounded cost: what the grader's client parses, keeps and drops.

A kernel the grader runs belongs to a student, who can send any message on any of its
sockets (the connection key is in the kernel's own connection file). A client that parses
and stores what it receives (nbclient keeps every output, every display update applied to
every output with that display id, every comm's state and binary buffers) then grows
without bound. :class:`BoundedSession` is the jupyter_client ``Session`` the grader's client
uses: before anything is parsed it checks each frame's size and the message type, parses
only the types the grader reads (``status``, replies, ``stream``, ``error``, displays), each
within its own size, and drops everything else unread (display updates, ``clear_output``,
comms and widgets, binary buffers, unknown types). :class:`OutputBudget` then decides which
outputs are kept, per cell and per notebook, counting each entry's overhead too (a million
one-byte prints are a million entries). What ZeroMQ itself buffers is bounded by
:attr:`MessageBounds.frame_bytes` (one frame) and :attr:`MessageBounds.queue_messages`; a
message of very many frames is bounded only by the memory limit of the process that reads
it (the grader reads kernels in a child process with its own limit: ``grading/executor.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.session import Session, extract_dates

DROPPED = "course_dropped"  # the type a dropped message gets: no caller waits for it
OUTPUT_TYPES = ("stream", "error", "display_data", "execute_result")
# The message types a grader's client reads, with the largest content it parses for each.
CONTENT_BYTES = {
    "status": 4096,
    "execute_reply": 65536,
    "kernel_info_reply": 65536,
    "shutdown_reply": 4096,
    "interrupt_reply": 4096,
    "error": 65536,
    "stream": 262144,
    "display_data": 262144,
    "execute_result": 262144,
}
TOO_LARGE = "[an output too large to keep was dropped]"
# What a kept type's content becomes when it is larger than its bound.
REPLACEMENTS = {
    "status": {"execution_state": "busy"},
    "execute_reply": {"status": "error", "ename": "Error", "evalue": "the kernel's reply was too large",
                      "traceback": []},
    "kernel_info_reply": {"status": "ok"},
    "shutdown_reply": {"status": "ok"},
    "interrupt_reply": {"status": "ok"},
    "error": {"ename": "Error", "evalue": "(the error's text was too long to keep)", "traceback": []},
    "stream": {"name": "stderr", "text": TOO_LARGE + "\n"},
    "display_data": {"data": {"text/plain": TOO_LARGE}, "metadata": {}},
    "execute_result": {"data": {"text/plain": TOO_LARGE}, "metadata": {}},
}


@dataclass(frozen=True)
class MessageBounds:
    """What a client keeps of a kernel's messages, and how much ZeroMQ may buffer for it."""

    frame_bytes: int = 8 * 2**20  # ZeroMQ MAXMSGSIZE: a larger frame drops the connection
    queue_messages: int = 16  # ZeroMQ RCVHWM per socket: a faster kernel waits (or its iopub drops)
    envelope_bytes: int = 16384  # header, parent header, metadata: a larger one drops the message unread
    content_bytes: Mapping[str, int] = field(default_factory=lambda: dict(CONTENT_BYTES))
    output_bytes: int = 2**20  # outputs kept per notebook (the grader reads only errors)
    cell_output_bytes: int = 256 * 2**10  # ... and per cell
    output_entries: int = 2000  # output entries kept per notebook
    entry_overhead: int = 512  # what one kept entry costs besides its text, counted in the budgets
    text_chars: int = 2000  # an error's message and each traceback line are cut to this
    traceback_lines: int = 20


def dropped_message() -> dict[str, Any]:
    """A message nothing waits for (no parent, an unknown type): what a dropped message becomes."""
    return {"header": {"msg_type": DROPPED, "msg_id": ""}, "msg_id": "", "msg_type": DROPPED,
            "parent_header": {}, "metadata": {}, "content": {}, "buffers": []}


def _load(frame: bytes) -> Any:
    return json.loads(bytes(frame).decode("utf-8", "replace"))


class BoundedSession(Session):
    """A jupyter_client ``Session`` that parses only bounded frames of the message types it reads.

    ``deserialize`` never raises for what a kernel sends: a malformed, oversized, unsigned
    or unknown message becomes :func:`dropped_message`; binary buffers are never kept.
    """

    bounds: MessageBounds = MessageBounds()

    def deserialize(self, msg_list: list, content: bool = True, copy: bool = True) -> dict[str, Any]:
        frames = [frame if isinstance(frame, bytes) else bytes(getattr(frame, "bytes", frame))
                  for frame in msg_list[:5]]
        if len(frames) < 5 or any(len(frame) > self.bounds.envelope_bytes for frame in frames[:4]):
            return dropped_message()
        try:
            header = _load(frames[1])
            msg_type = header.get("msg_type") if isinstance(header, dict) else None
        except Exception:
            return dropped_message()
        limit = self.bounds.content_bytes.get(msg_type) if isinstance(msg_type, str) else None
        if limit is None:
            return dropped_message()
        if len(frames[4]) > limit:
            try:
                parent = _load(frames[2])
            except Exception:
                return dropped_message()
            if not isinstance(parent, dict):
                return dropped_message()
            return {"header": extract_dates(header), "msg_id": str(header.get("msg_id", "")),
                    "msg_type": msg_type, "parent_header": extract_dates(parent), "metadata": {},
                    "content": json.loads(json.dumps(REPLACEMENTS[msg_type])), "buffers": []}
        try:
            message = super().deserialize(frames, content=content, copy=True)
        except Exception:  # a bad signature, a replayed one, JSON nested too deep, ...
            return dropped_message()
        for key in ("parent_header", "metadata", "content"):
            if not isinstance(message.get(key), dict):
                return dropped_message()
        message["buffers"] = []
        return message


class OutputBudget:
    """Which outputs a notebook keeps: bytes per cell and per notebook, and a number of entries.

    Errors are what the grader reads: a cell's first error is always kept (its text cut to
    :attr:`MessageBounds.text_chars`, its traceback to the last lines), later ones count
    against the budget like any output. One entry per notebook says that outputs were dropped.
    """

    def __init__(self, bounds: MessageBounds) -> None:
        self.bounds = bounds
        self.total = 0
        self.entries = 0
        self.per_cell: dict[int, int] = {}
        self.errors: set[int] = set()  # cells whose first error was kept
        self.noted = False

    def trim_error(self, content: dict[str, Any]) -> None:
        """Cut an error's texts to the bounds (in place)."""
        chars = self.bounds.text_chars
        content["ename"] = str(content.get("ename", "Error"))[:200]
        content["evalue"] = str(content.get("evalue", ""))[:chars]
        traceback = content.get("traceback")
        lines = traceback[-self.bounds.traceback_lines:] if isinstance(traceback, list) else []
        content["traceback"] = [str(line)[:chars] for line in lines]

    def size(self, content: dict[str, Any]) -> int:
        """What keeping ``content`` costs: its text and data, plus the entry's own overhead."""
        data = content.get("data")
        data_size = sum(len(str(k)) + len(str(v)) for k, v in data.items()) if isinstance(data, dict) else 0
        traceback = content.get("traceback") or []
        return (self.bounds.entry_overhead + len(str(content.get("text", ""))) + data_size
                + len(str(content.get("evalue", ""))) + sum(len(str(line)) for line in traceback))

    def admit(self, msg_type: str, content: dict[str, Any], cell_index: int) -> bool:
        """Whether to keep this output (and count it); errors are trimmed first."""
        if msg_type == "error":
            self.trim_error(content)
            if cell_index not in self.errors:
                self.errors.add(cell_index)
                self.entries += 1
                return True
        size = self.size(content)
        cell = self.per_cell.get(cell_index, 0)
        if (self.total + size > self.bounds.output_bytes or cell + size > self.bounds.cell_output_bytes
                or self.entries >= self.bounds.output_entries):
            return False
        self.total += size
        self.per_cell[cell_index] = cell + size
        self.entries += 1
        return True

    def note(self) -> str | None:
        """The one line saying outputs were dropped (the first time only)."""
        if self.noted:
            return None
        self.noted = True
        return (f"[outputs beyond {self.bounds.output_bytes} bytes per notebook, "
                f"{self.bounds.cell_output_bytes} per cell or {self.bounds.output_entries} entries "
                "were dropped]\n")
