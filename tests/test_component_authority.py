"""Who may add what to a filed record (a hostile review's finding): a component that changes
what the record reads as (正文), what outside units are shown (签字扫描件) or its final text
(定稿) is the responsible people's, not every colleague's; the 归档PDF is the stamped
rendition's. A file that is already in a record the filer may not see is not named to her."""

from __future__ import annotations

from pathlib import Path

import pytest
from access_fixtures import PASS, Station, make_station

from archive.errors import AccessDenied, ValidationError


@pytest.fixture
def st(arc, home: Path, clock, tmp_path: Path):
    arc.users.add("zhou", "social_worker", PASS)  # a second social worker
    yield from make_station(arc, home, clock, tmp_path)


def _service_record(st: Station, worker: str) -> str:
    return st.file(f"{worker}走访.txt", f"{worker}的入户走访记录".encode(), user=worker,
                   category="FW", household="H0001")


@pytest.mark.parametrize("kind", ["正文", "签字扫描件", "定稿", "归档PDF"])
def test_a_colleague_cannot_change_what_anothers_service_record_reads_as(st: Station,
                                                                         kind: str) -> None:
    ref = _service_record(st, "zhao")
    forged = st.write("forged.txt", b"FORGED BY ZHOU")
    zhou = st.as_("zhou")
    with pytest.raises(AccessDenied):
        zhou.records.file([forged], of=ref, kind=kind, reason="顺手更新")
    # nothing was added, and the owner still reads her own text
    zhao = st.as_("zhao")
    assert [c["kind"] for c in zhao.records.show(ref)["components"]] == ["正文"]
    out = zhao.records.get(ref, st.tmp / "back.txt", reason="核对")
    assert out.read_bytes() == "zhao的入户走访记录".encode()
    denied = [e for e in st.as_("zhangsan").kernel.audit.entries() if e.action == "denied"]
    assert denied and denied[-1].ref == ref


def test_the_responsible_worker_completes_her_record_without_a_reason(st: Station) -> None:
    ref = _service_record(st, "zhao")
    zhao = st.as_("zhao")
    [scan] = zhao.records.file([st.write("签字页.txt", b"signed page")], of=ref,
                               kind="签字扫描件")
    [final] = zhao.records.file([st.write("定稿.txt", b"final text")], of=ref, kind="定稿")
    assert (scan.status, final.status) == ("component", "component")
    # the archivist files for the station, also without a reason
    st.as_("wang").records.file([st.write("签字页2.txt", b"signed page 2")], of=ref,
                                kind="签字扫描件")
    # anything else goes on as before: an attachment needs no correction rights
    [att] = st.as_("zhou").records.file([st.write("附件.txt", b"attachment")], of=ref,
                                        kind="附件")
    assert att.status == "component"


def test_a_second_body_is_a_correction_and_needs_a_reason(st: Station) -> None:
    ref = _service_record(st, "zhao")
    zhao = st.as_("zhao")
    with pytest.raises(ValidationError, match="更正原因"):
        zhao.records.file([st.write("new.txt", b"new body")], of=ref, kind="正文")
    zhao.records.file([st.write("new.txt", b"new body")], of=ref, kind="正文",
                      reason="补记走访结论")
    out = zhao.records.get(ref, st.tmp / "now.txt", reason="核对")
    assert out.read_bytes() == b"new body"


def test_an_admin_record_is_completed_by_its_filer_or_a_manager(st: Station) -> None:
    ref = st.file("通知.txt", "站务通知".encode(), user="zhao", category="XZ")
    st.as_("zhao").records.file([st.write("签字.txt", b"signed")], of=ref, kind="签字扫描件")
    st.as_("wang").records.file([st.write("定稿.txt", b"final")], of=ref, kind="定稿")
    with pytest.raises(AccessDenied):
        st.as_("zhou").records.file([st.write("x.txt", b"not mine")], of=ref, kind="签字扫描件")


def test_a_social_worker_cannot_add_an_archival_pdf_by_hand(st: Station) -> None:
    ref = _service_record(st, "zhao")
    with pytest.raises(AccessDenied):
        st.as_("zhao").records.file([st.write("a.pdf", b"%PDF-1.4\n%%EOF\n")], of=ref,
                                    kind="归档PDF")


def test_a_duplicate_of_a_hidden_record_is_not_named_and_is_filed_as_her_own(st: Station
                                                                             ) -> None:
    data = "人事任免通知（内部）".encode()
    hidden = st.file("任免.txt", data, user="zhangsan", category="RS")
    # the head sees the personnel record: a duplicate, named
    [again] = st.as_("zhangsan").records.file([st.write("again.txt", data)], category="RS")
    assert (again.status, again.ref) == ("duplicate", hidden)
    # a social worker may not see it: not named; her copy becomes her own service record
    zhao = st.as_("zhao")
    [mine] = zhao.records.file([st.write("copy.txt", data)], category="FW", household="H0002")
    assert mine.status == "filed" and mine.ref != hidden and "-FW-" in mine.ref
    assert zhao.records.get(mine.ref, st.tmp / "mine.txt", reason="核对").read_bytes() == data
    # and filing it once more finds her own record, which she may see
    [dup] = zhao.records.file([st.write("copy2.txt", data)], category="FW", household="H0002")
    assert (dup.status, dup.ref) == ("duplicate", mine.ref)


def test_a_duplicate_is_one_in_the_same_category(st: Station) -> None:
    """The same bytes filed under another 问题 are that category's record (an access letter
    under 行政 that a worker also filed in a service record), not a pointer to the other."""
    data = "介绍信：兹介绍我单位同志前来查阅".encode()
    service = st.file("介绍信.txt", data, user="zhao", category="FW", household="H0003")
    [admin] = st.as_("wang").records.file([st.write("letter.txt", data)], category="XZ")
    assert admin.status == "filed" and "-XZ-" in admin.ref and admin.ref != service
    [again] = st.as_("wang").records.file([st.write("letter2.txt", data)], category="XZ")
    assert (again.status, again.ref) == ("duplicate", admin.ref)
