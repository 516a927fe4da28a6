"""Search on the user's path (issue 12): the service passes the policy's Visibility into the
index, secret and service records stay where the policy puts them, an outdated index is
refused with its fix, `--json` carries text + spans, and 档号 input takes any spelling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CHEAP_WF, PASS

from archive.app import Archive
from archive.cli.main import cli
from archive.errors import Conflict
from archive.search.index import SearchIndex


def _user(arc: Archive, home: Path, clock, name: str, role: str) -> Archive:
    arc.users.add(name, role, f"{name}-passphrase")
    return Archive.unlock(home, user=name, passphrase=f"{name}-passphrase", clock=clock)


def test_each_role_finds_what_it_may_read(arc: Archive, home: Path, clock, make_file) -> None:
    arc.records.file([make_file("fw.txt", "困境儿童走访 王一")], category="FW", responsible="wangwu")
    arc.records.file([make_file("xz.txt", "困境儿童工作通知")], category="XZ")
    arc.records.file([make_file("rs.txt", "困境儿童 人事档案")], category="RS",
                     responsible="wangwu")
    arc.records.file([make_file("sec.txt", "困境儿童 秘密通知")], category="XZ", secrecy="秘密")
    users = {role: _user(arc, home, clock, name, role) for name, role in (
        ("wangwu", "social_worker"), ("liuda", "archivist"), ("chenfu", "deputy"),
        ("dudao", "supervisor"))}
    try:
        got = {role: sorted(h.ref[-7:] for h in u.search.query("困境儿童", limit=50).hits)
               for role, u in users.items()}
        got["head"] = sorted(h.ref[-7:] for h in arc.search.query("困境儿童").hits)
        assert got == {
            "head": ["FW-0001", "RS-0001", "XZ-0001", "XZ-0002"],
            "social_worker": ["FW-0001", "XZ-0001"],  # own service record; not RS, not 秘密
            "archivist": ["RS-0001", "XZ-0001", "XZ-0002"],  # FW only with a reason (sgz get)
            "deputy": ["RS-0001", "XZ-0001", "XZ-0002"],
            "supervisor": ["FW-0001", "XZ-0001"],
        }
        assert users["social_worker"].search.query("困境儿童").total == 2
        page = users["archivist"].search.query("困境儿童", limit=1, offset=1)
        assert page.total == 3 and len(page.hits) == 1
    finally:
        for u in users.values():
            u.close()


def test_an_outdated_index_is_refused_and_rebuild_fixes_it(arc: Archive, make_file) -> None:
    arc.records.file([make_file("a.txt", "临时救助金申请")], category="XZ")
    arc.search.close()
    path = arc.kernel.home.indexes / "general.db"  # 行政 records: the general compartment
    from archive.catalog.db import connect_keyed

    conn = connect_keyed(path, arc.kernel.keys.index_keys("general")[0])
    conn.execute("UPDATE meta SET value='1' WHERE key='schema'")
    conn.commit()
    conn.close()
    with pytest.raises(Conflict, match="sgz index rebuild"):
        arc.search.query("临时救助")
    assert path.exists()  # refused, not silently dropped
    assert arc.search.status()["needs_rebuild"] and arc.search.status()["outdated"]
    assert any("sgz index rebuild" in p for p in arc.search.verify().problems)
    assert arc.search.rebuild() == 1
    assert arc.search.query("临时救助").total == 1


def test_an_old_order_index_is_searched_and_status_suggests_a_rebuild(
        cli_home: tuple[Path, dict[str, str]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An index of schema 3 (rowids counting up, written before the newest-first order) still
    answers; `sgz index status` says a rebuild makes search faster, and the rebuild does."""
    home, env = cli_home
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    runner = CliRunner()
    for i in range(3):
        src = tmp_path / f"v{i}.txt"
        src.write_text(f"第{i + 1}次入户走访记录", encoding="utf-8")
        assert runner.invoke(cli, ["file", str(src), "--category", "XZ"]).exit_code == 0
    arc = Archive.unlock(home, user=env["SGZ_USER"], passphrase=env["SGZ_PASSPHRASE"])
    try:
        newest = [h.ref for h in arc.search.query("走访").hits]
        arc.search.close()
        path = arc.kernel.home.indexes / "general.db"
        key = arc.kernel.keys.index_keys("general")[0]
        ix = SearchIndex.open(path, key)
        cols = ("doc_id", "title", "text", "doc_no", "date", "category", "year", "retention",
                "household", "responsible", "compartment", "secret", "status")
        rows = [dict(zip(cols, r, strict=True)) for r in ix._conn.execute(
            f"SELECT {', '.join('t.text' if c == 'text' else 'd.' + c for c in cols)}"
            " FROM docs d JOIN texts t ON t.id = d.id ORDER BY d.id")]
        ix.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        old = SearchIndex.create(path, key)  # as a schema-3 writer wrote it: rowids count up
        old.newest_lowest = False
        old._conn.execute("UPDATE meta SET value='3' WHERE key='schema'")
        assert old.add_many(rows) == 3
        old.close()
    finally:
        arc.close()
    r = runner.invoke(cli, ["index", "status"])
    assert r.exit_code == 0 and "旧版排列" in r.output and "sgz index rebuild" in r.output
    r = runner.invoke(cli, ["search", "走访", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["total"] == 3
    assert [h["ref"] for h in json.loads(r.output)["hits"]] == newest  # same order
    assert runner.invoke(cli, ["index", "rebuild"]).exit_code == 0
    r = runner.invoke(cli, ["index", "status", "--json"])
    assert json.loads(r.output)["old_order"] == 0
    r = runner.invoke(cli, ["search", "走访", "--json"])
    assert [h["ref"] for h in json.loads(r.output)["hits"]] == newest


def test_json_gives_text_and_spans(cli_home: tuple[Path, dict[str, str]], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    home, env = cli_home
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    src = tmp_path / "visit.txt"
    src.write_text("第1次走访　　走访日期：2026年3月", encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(cli, ["file", str(src), "--category", "XZ"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["search", "走访", "--json"])
    assert r.exit_code == 0, r.output
    hit = json.loads(r.stdout)["hits"][0]
    snip = hit["snippet"]
    assert snip["text"] == "第1次走访　　走访日期：2026年3月"  # ideographic spaces kept
    assert [snip["text"][s:e] for s, e in snip["spans"]] == ["走访", "走访"]
    r = runner.invoke(cli, ["search", "走访"])  # not a terminal: brackets, no colour
    assert "第1次【走访】　　【走访】日期" in r.stdout and "\x1b[" not in r.stdout


def test_ref_spellings_reach_the_record(arc: Archive, make_file) -> None:
    [res] = arc.records.file([make_file("a.txt", "困境儿童走访")], category="XZ")
    typed = res.ref.replace("·", "-").lower()
    [comp] = arc.records.file([make_file("b.pdf.txt", "签字扫描件文字")], of=typed)
    assert comp.ref == res.ref and comp.seq == 2
    assert arc.records.show(res.ref.replace("·", "．").lower())["ref"] == res.ref
    rows = arc.audit.history(ref=typed)
    assert rows and all(r["ref"] == res.ref for r in rows)


def test_destroyed_records_are_never_found(arc: Archive, make_file) -> None:
    """After a destruction the live count (from the disposal items) equals the catalogue's,
    and a destroyed record the index still holds (crash before the fresh-key rebuild) is
    excluded from results and counts."""
    from datetime import date

    keep = arc.records.file([make_file("k.txt", "临时救助 保留")], category="XZ")[0].ref
    gone = arc.records.file([make_file("g.txt", "临时救助 销毁")], category="XZ", year=2015,
                            retention="D10")[0].ref
    arc.records.file([make_file("g2.txt", "附件 临时救助")], of=gone)
    before = arc.search.query("临时救助").total
    rec = arc.kernel.records.get(gone)
    saved = [{"doc_id": gone if c.seq == 1 else f"{gone}#{c.seq}",
              **arc.search._index_fields(rec, c, rec, "临时救助 销毁", "ok")}
             for c in arc.kernel.records.components(rec.id)]
    batch = arc.disposal.propose([gone], as_of=date(2026, 6, 1))
    arc.disposal.approve(batch.id)
    arc.disposal.execute(batch.id, witnesses=["李四（副站长）", "赵敏（街道社会事务办）"])
    assert gone in arc.search._destroyed_refs()
    assert before == 2 and arc.search.query("临时救助").total == 1
    arc.search._open_index("general").add_many(saved)  # as if the rebuild had not happened
    res = arc.search.query("临时救助")
    assert [h.ref for h in res.hits] == [keep] and res.total == 1


def test_web_marks_hits_by_offsets_not_brackets() -> None:
    """OCR text with real 【】 is shown as it is; only the spans become <mark>."""
    from archive.search.results import Hit
    from archive.web.pages.search import marked

    text = "【通知】第1次走访　　走访日期"
    hit = Hit("Z001-WS·2026-D30-XZ-0001", "t", "", text, 1.0,
              spans=((7, 9), (11, 13)), cut_after=True)
    assert marked(hit) == [("【通知】第1次", False), ("走访", True), ("　　", False),
                           ("走访", True), ("日期", False), ("…", False)]


def test_a_long_running_search_sees_what_another_process_filed(
        arc: Archive, home: Path, clock, make_file) -> None:
    """The service remembers what it derives from the catalogue and the indexes (counts,
    visibility) between searches; a commit by another connection must end that."""
    arc.records.file([make_file("a.txt", "临时救助金申请")], category="XZ")
    assert arc.search.query("临时救助").total == 1
    assert arc.search.query("临时救助").total == 1  # served from the remembered facts
    other = Archive.unlock(home, user=arc.kernel.user.name, passphrase=PASS,
                           clock=clock)
    try:
        other.records.file([make_file("b.txt", "临时救助审批表")], category="XZ")
        other.records.file([make_file("c.txt", "服务记录 临时救助")], category="FW",
                           responsible="wangwu")
    finally:
        other.close()
    res = arc.search.query("临时救助")
    assert (res.total, res.unindexed) == (3, 0)
    assert {h.ref[-7:] for h in res.hits} == {"XZ-0001", "XZ-0002", "FW-0001"}
    other = Archive.unlock(home, user=arc.kernel.user.name, passphrase=PASS, clock=clock)
    try:  # only the catalogue changes: the index must now be reported incomplete
        other.records.file([make_file("d.txt", "临时救助回访")], category="XZ", index=False)
    finally:
        other.close()
    assert arc.search.query("临时救助").unindexed == 1


def test_live_counts_come_from_an_index_and_an_older_home_gains_it(arc, home: Path, clock,
                                                                    make_file) -> None:
    """Every search's first count after a write reads live records per compartment; without
    the (status, compartment) index SQLite reads every record's row (265 ms at 50,000)."""
    arc.records.file([make_file("a.txt", "入户走访")], category="FW")
    arc.records.file([make_file("b.txt", "会议纪要")], category="XZ")
    db = arc.kernel.db
    sql = ("SELECT r.compartment, count(*) FROM components c JOIN records r ON r.id = c.record_id"
           " WHERE r.status = 'active' GROUP BY r.compartment")
    plan = " ".join(str(tuple(r)) for r in db.execute(f"EXPLAIN QUERY PLAN {sql}"))
    assert "COVERING INDEX records_live" in plan and "SCAN r" not in plan
    assert arc.kernel.records.count_live_by_compartment() == {"service": 1, "general": 1}
    with db.transaction():  # a home from before this index
        db.execute("DROP INDEX records_live")
        db.execute("DELETE FROM schema_versions WHERE owner = 'catalog.sealing.live'")
    arc.close()
    again = Archive.unlock(home, user="zhangsan", passphrase=PASS, clock=clock,
                           kdf_work_factor=CHEAP_WF)
    try:
        names = {r[0] for r in again.kernel.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "records_live" in names
        assert again.search.query("入户走访").total == 1
    finally:
        again.close()
