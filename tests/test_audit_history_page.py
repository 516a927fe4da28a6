"""`AuditService.history(limit=, before=)`: one page of a long log, newest entries, in order."""

from __future__ import annotations

from typing import Any


def test_history_pages_from_the_newest(arc: Any) -> None:
    for i in range(30):
        arc.kernel.log("test.event", f"R-{i:02d}", n=i)
    everything = arc.audit.history(action="test.event")
    assert [e["ref"] for e in everything] == [f"R-{i:02d}" for i in range(30)]
    page = arc.audit.history(action="test.event", limit=10)
    assert [e["ref"] for e in page] == [f"R-{i:02d}" for i in range(20, 30)]
    assert page[-1]["detail"] == {"n": 29}  # the head reads details
    older = arc.audit.history(action="test.event", limit=10, before=page[0]["seq"])
    assert [e["ref"] for e in older] == [f"R-{i:02d}" for i in range(10, 20)]
    assert arc.audit.history(action="test.event", limit=10, before=everything[0]["seq"]) == []
    # reading a page is audited like reading the whole log
    reads = arc.audit.history(action="audit.read")
    assert len(reads) >= 4
