"""`Records` over a format-2 catalogue: descriptive fields sealed on insert, opened for members,
"（无权查看）" for everyone else; the household filter works for both through keyed tags."""

from __future__ import annotations

from pathlib import Path

import pytest
from vault2_fixtures import PASS, WF, Session, golden_copy

from archive.catalog.numbering import ArchivalRef
from archive.catalog.records import Records
from archive.errors import AccessDenied
from archive.vault.sealed import NO_ACCESS, kind
from archive.vault.sealed_catalogue import TAG_HOUSEHOLD, RecordSealing
from archive.vault.upgrade import upgrade


@pytest.fixture
def upgraded(tmp_path: Path) -> Path:
    h = golden_copy(tmp_path)
    upgrade(h, user="zhangsan", passphrase=PASS, work_factor=WF)
    return h


def _records(s: Session) -> Records:
    return Records(s.db, RecordSealing(s.sealer, s.catalogue.secret(TAG_HOUSEHOLD)))


def test_members_read_fields_others_see_no_access(upgraded: Path) -> None:
    home = upgraded
    for name, visible in (("lisi", True), ("wangwu", False)):
        s = Session.open(home, name)
        try:
            recs = _records(s)
            fw = [r for r in recs.list() if r.cls == "FW"]
            assert len(fw) == 2
            for r in fw:
                assert r.compartment == "service" and r.readable is visible
                assert (r.title == NO_ACCESS) is (not visible)
                comps = recs.components(r.id)
                assert (comps[0].filename == NO_ACCESS) is (not visible)
            # the household filter works without the key (keyed tag), never shows the title
            hh = list(recs.list(household="h-0001"))
            assert [r.ref for r in hh] == [fw[0].ref]
            assert recs.get(fw[0].ref).household == ("H-0001" if visible else NO_ACCESS)
        finally:
            s.close()


def test_write_only_insert_and_component_then_member_reads(upgraded: Path) -> None:
    home = upgraded
    s = Session.open(home, "wangwu")
    try:
        recs = _records(s)
        with s.db.transaction():
            ref = ArchivalRef("Z001", "WS", 2027, "D30", "FW", 1)
            rid = recs.insert(ref, {"title": "吴秀兰走访", "title_source": "given",
                                    "household": "H-0100", "secrecy": "",
                                    "filed_at": "2027-01-05T09:00:00Z", "filed_by": "wangwu"})
            row = s.db.execute("SELECT title, household, sealed FROM records WHERE id = ?",
                               (rid,)).fetchone()
            assert row[0] == "" and row[1] == "" and kind(row[2]) == "public"
        assert recs.get(str(ref)).title == NO_ACCESS
        with pytest.raises(AccessDenied):
            recs.update_fields(rid, {"note": "补充"})
    finally:
        s.close()
    m = Session.open(home, "zhaoliu")
    try:
        recs = _records(m)
        rec = recs.get("Z001-WS·2027-D30-FW-0001")
        assert rec.title == "吴秀兰走访" and rec.household == "H-0100"
        with m.db.transaction():
            recs.update_fields(rec.id, {"note": "督导意见"})
        assert recs.get(rec.ref).note == "督导意见" and recs.get(rec.ref).title == "吴秀兰走访"
    finally:
        m.close()


def test_archivist_files_write_only_and_a_member_unlock_settles(arc, home: Path, clock,
                                                                make_file) -> None:
    """Through the Archive: the archivist's service filing is sealed public-key (she cannot
    read it back); the next service member's unlock re-seals it symmetrically; the text she
    filed reaches the service index through the queue."""
    from archive.app import Archive

    arc.users.add("wangwu", "archivist", "archivist-pass")
    arc.users.add("lisi", "social_worker", "worker-passphrase")
    with Archive.unlock(home, user="wangwu", passphrase="archivist-pass", clock=clock,
                        kdf_work_factor=WF) as a:
        [res] = a.records.file([make_file("走访.txt", "钱小红家庭走访：低保复核")], category="FW",
                               title="钱小红走访", household="H-7", responsible="lisi")
        assert a.records.show(res.ref)["title"] == NO_ACCESS
        assert a.search.query("钱小红").total == 0
    row = arc.kernel.db.execute("SELECT sealed FROM records WHERE ref = ?", (res.ref,)).fetchone()
    assert kind(row[0]) == "public"
    with Archive.unlock(home, user="lisi", passphrase="worker-passphrase", clock=clock,
                        kdf_work_factor=WF) as w:
        row = w.kernel.db.execute("SELECT sealed FROM records WHERE ref = ?",
                                  (res.ref,)).fetchone()
        assert kind(row[0]) == "symmetric"
        assert w.records.show(res.ref)["title"] == "钱小红走访"
        hits = w.search.query("钱小红")
        assert [h.ref for h in hits.hits] == [res.ref]
        assert "index.queue.read" in [e.action for e in w.kernel.audit.entries()]
