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


def test_reading_backwards_matches_reading_forwards(arc: Any) -> None:
    from archive.audit.log import AuditLog

    for i in range(200):
        arc.kernel.log("test.bulk", f"B-{i:03d}", pad="x" * (i * 7 % 300))
    log: AuditLog = arc.kernel.audit
    forwards = [e.raw for e in log.entries()]
    for block in (17, 64, 1000, 1 << 16):
        assert list(log._raw_lines_backwards(block=block)) == forwards[::-1]
    # a torn last line (a crash mid-append) is skipped both ways
    with open(log.path, "ab") as f:
        f.write(b'{"v":1,"seq":99999,"torn')
    assert [e.raw for e in log.entries(newest_first=True)] == forwards[::-1]
    assert list(log._raw_lines_backwards(block=5)) == forwards[::-1]
