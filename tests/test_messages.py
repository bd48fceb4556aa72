"""What the grader's client parses and keeps of a kernel's messages: bounded, whatever the kernel sends."""

from __future__ import annotations

import json

from jupyter_client.session import Session

from course_utils.messages import DROPPED, BoundedSession, MessageBounds, OutputBudget


def frames(session: Session, kind: str, content: dict, parent: dict | None = None, buffers=(),
           header: dict | None = None) -> list[bytes]:
    message = session.msg(kind, content, parent=parent or {}, header=header)
    message["buffers"] = list(buffers)
    wire = session.serialize(message)
    return wire[wire.index(b"<IDS|MSG>") + 1:]


def bounded() -> BoundedSession:
    session = BoundedSession(key=b"k")
    session.bounds = MessageBounds()
    return session


def test_only_the_types_the_grader_reads_are_parsed() -> None:
    session = bounded()
    kernel = Session(key=b"k")
    parent = kernel.msg_header("execute_request")
    kept = session.deserialize(frames(kernel, "stream", {"name": "stdout", "text": "hi"}, parent))
    assert kept["msg_type"] == "stream" and kept["content"]["text"] == "hi"
    assert kept["parent_header"]["msg_id"] == parent["msg_id"]
    for kind in ("update_display_data", "comm_msg", "comm_open", "clear_output", "course_unknown"):
        dropped = session.deserialize(frames(kernel, kind, {"data": "x" * 1000}, parent, [b"y" * 10**6]))
        assert dropped["msg_type"] == DROPPED and dropped["parent_header"] == {} and dropped["buffers"] == []


def test_oversized_frames_are_never_parsed() -> None:
    session = bounded()
    kernel = Session(key=b"k")
    parent = kernel.msg_header("execute_request")
    big = session.deserialize(frames(kernel, "error", {"ename": "E", "evalue": "x" * 10**6, "traceback": []},
                                     parent))
    assert big["msg_type"] == "error" and "too long" in big["content"]["evalue"]
    assert big["parent_header"]["msg_id"] == parent["msg_id"]  # the cell still learns that it raised
    header = kernel.msg_header("stream")
    header["pad"] = "x" * 10**6
    assert session.deserialize(frames(kernel, "stream", {"text": "."}, parent, header=header))[
        "msg_type"] == DROPPED
    nested = frames(kernel, "stream", {"text": "."}, parent)
    nested[4] = b"[" * 50_000 + b"]" * 50_000  # valid JSON, nested past the recursion limit, signed
    nested[0] = kernel.sign(nested[1:5])
    assert session.deserialize(nested)["msg_type"] == DROPPED
    nested[4] = json.dumps({"text": "."}).encode()  # the same message, its signature now wrong
    assert session.deserialize(nested)["msg_type"] == DROPPED
    assert session.deserialize([b"", b"not json", b"{}", b"{}", b"{}"])["msg_type"] == DROPPED
    assert session.deserialize([b"x"])["msg_type"] == DROPPED


def test_outputs_are_budgeted_per_cell_per_notebook_and_per_entry() -> None:
    budget = OutputBudget(MessageBounds(output_bytes=10_000, cell_output_bytes=6_000, output_entries=5,
                                        entry_overhead=100))
    assert budget.admit("stream", {"text": "x" * 5000}, 0)
    assert not budget.admit("stream", {"text": "x" * 1000}, 0)  # the cell's budget
    assert budget.admit("stream", {"text": "x" * 1000}, 1)
    error = {"ename": "E" * 500, "evalue": "v" * 10**5, "traceback": ["t" * 10**5] * 100}
    assert budget.admit("error", error, 0)  # a cell's first error is always kept, cut
    assert len(error["evalue"]) == 2000 and len(error["traceback"]) == 20 and len(error["ename"]) == 200
    assert not budget.admit("error", dict(error), 0)  # a second one counts against the budget
    for cell in range(2, 10):
        budget.admit("stream", {"text": "."}, cell)
    assert budget.entries == 5
    assert budget.note() is not None and budget.note() is None
