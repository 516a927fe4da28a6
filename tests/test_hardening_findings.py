"""Issue 11, end to end: one test per finding of the hostile review (`test_findingN_…`).

Each test reproduces what the reviewer did (as a careless clerk, a thief of the backup disk or a
curious colleague) through the library services or the `sgz` command, and checks the fix.
The library pieces (safetext, fs.atomic, anonymize.names, extraction limits) have their own
tests; these check that every path uses them. Finding 3 (the PDF bomb) is
tests/test_hostile_corpus.py; finding 4's whole-tree permission scan is tests/test_canary.py.
Tests that run several `sgz` processes are marked slow (`make test` runs them, as CI does).
"""

from __future__ import annotations

import csv
import errno
import io
import os
import stat
from pathlib import Path
from typing import Any

import docx
import pytest
from access_fixtures import Station, docx_blobs, make_station
from conftest import PASS, run_sgz, sgz_env

from archive.errors import AccessDenied, Conflict, StorageError, ValidationError
from archive.kernel.home import HomePaths
from archive.vault.userkeys import KeyslotsV2

HH = "H-0042"
HEAD = "孙桂芝"  # 户主（主要服务对象）
SON = "司马蓝锦"
VILLAGE = "长岭村"


@pytest.fixture
def st(arc, home: Path, clock, tmp_path: Path):
    yield from make_station(arc, home, clock, tmp_path)


def _docx(*paragraphs: str, table: list[list[str]] | None = None, title: str = "",
          header: str = "") -> bytes:
    d = docx.Document()
    d.core_properties.title = title
    if header:
        d.sections[0].header.paragraphs[0].text = header
    for p in paragraphs:
        d.add_paragraph(p)
    if table:
        t = d.add_table(rows=len(table), cols=len(table[0]))
        for i, row in enumerate(table):
            for j, cell in enumerate(row):
                t.cell(i, j).text = cell
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _all_text(data: bytes) -> str:
    return "\n".join(b.decode("utf-8", "replace") for b in docx_blobs(data).values())


# ---------------------------------------------------------------------- finding 1
def test_finding1_subject_export_is_a_read_reason_audit_flag(st: Station, tmp_path: Path) -> None:
    a = st.file("a.txt", "走访记录".encode(), category="FW", title="走访", household=HH,
                responsible="zhao")
    b = st.file("b.txt", "评估记录".encode(), category="FW", title="评估", household=HH,
                responsible="zhao")
    # vault format 2: the archivist holds no service-record keys (附件2 八.3), so she cannot
    # hand them out, whatever the reason; the head can, with a reason, audited per item
    wang = st.as_("wang")
    with pytest.raises(AccessDenied, match="密钥"):
        wang.rights.export_subject(HH, tmp_path / "w", reason="服务对象本人书面申请")
    head_arc = st.as_("zhangsan")
    with pytest.raises(ValidationError, match="事由"):
        head_arc.rights.export_subject(HH, tmp_path / "x", reason="")
    assert not (tmp_path / "x").exists() and not (tmp_path / "w").exists()
    with pytest.raises(ValidationError):
        head_arc.records.get(a, tmp_path / "g.txt", reason="")  # the same rule as get
    res = head_arc.rights.export_subject(HH, tmp_path / "out", reason="服务对象本人书面申请")
    assert len(res.files) == 2 and not res.flagged  # the head reads service records unflagged
    head = head_arc.kernel
    per_item = [e for e in head.audit.entries() if e.action == "record.export_subject"]
    assert [e.ref for e in per_item] == [a, b]
    assert all(head.audit.detail_of(e)["reason"] == "服务对象本人书面申请" for e in per_item)
    # the responsible social worker reads without a flag, as with get
    res2 = st.as_("zhao").rights.export_subject(HH, tmp_path / "out2", reason="本人申请")
    assert not res2.flagged and st.as_("zhangsan").access.flags() == []
    # roles that could not `get` are refused before anything is written
    with pytest.raises(AccessDenied):
        st.as_("qian").rights.export_subject(HH, tmp_path / "y", reason="督导检查")
    with pytest.raises(AccessDenied):
        st.as_("lisi").rights.export_subject(HH, tmp_path / "z", reason="副站长")
    assert not (tmp_path / "y").exists() and not (tmp_path / "z").exists()


@pytest.mark.slow  # several `sgz` processes
def test_finding1_cli_requires_reason(cli_home: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    home, env = cli_home
    src = tmp_path / "a.txt"
    src.write_text("记录", encoding="utf-8")
    assert run_sgz(["file", str(src), "--category", "FW", "--household", HH], env).returncode == 0
    r = run_sgz(["subject", "export", "--household", HH, "-o", str(tmp_path / "o")], env)
    assert r.returncode == 2 and "--reason" in r.stderr and not (tmp_path / "o").exists()
    r = run_sgz(["subject", "export", "--household", HH, "-o", str(tmp_path / "o"), "--reason",
                 "本人申请"], env)
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------------- finding 2
def test_finding2_anonymiser_knows_every_name_without_names(st: Station, tmp_path: Path) -> None:
    family = [["姓名", "与户主关系", "年龄"], [HEAD, "户主", "67"], [SON, "孙子", "9"]]
    blob = _docx(f"户主（主要服务对象） {HEAD}", f"家住{VILLAGE}3组，社工张三入户走访。",
                 f"{SON}在校情况良好。", table=family, title=f"{HEAD}家庭走访",
                 header=f"{HEAD}户 走访记录")
    d = st.file("走访.docx", blob, category="FW", title=f"{HEAD}家庭走访", household=HH,
                responsible="zhao")
    # a text record that names the client only in running text: the catalogue title knows her
    t = st.file("便签.txt", f"今天再次看望{HEAD}，情况稳定。".encode(), category="FW",
                title=f"{HEAD}家庭走访（续）", household=HH, responsible="zhao")
    res = st.as_("zhao").rights.export_anonymized([d, t], tmp_path / "anon")  # no --names
    out = {f["ref"]: tmp_path / "anon" / f["file"] for f in res.files}
    text = _all_text(out[d].read_bytes())
    for secret in (HEAD, SON, VILLAGE, "张三"):
        assert secret not in text, secret
    assert HEAD not in out[t].read_text(encoding="utf-8")
    summaries = {f["ref"]: f["summary"] for f in res.files}
    assert "服务对象及家庭成员姓名" in summaries[t] or "文档字段中的姓名" in summaries[t]
    assert "工作人员姓名" in summaries[d]  # 张三, the station head in station.toml
    with open(tmp_path / "anon" / "清单.csv", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [r["已遮蔽"] for r in rows] == [summaries[d], summaries[t]]


@pytest.mark.slow  # several `sgz` processes
def test_finding2_warns_when_a_name_field_masked_nothing(cli_home: tuple[Path, dict[str, str]],
                                                        tmp_path: Path) -> None:
    home, env = cli_home
    src = tmp_path / "表.txt"
    src.write_text("姓名：Alice Brown\n监护人：Bob\n情况：良好\n", encoding="utf-8")
    ref = run_sgz(["file", str(src), "--category", "FW", "--title", "登记表"], env).stdout.strip()
    r = run_sgz(["export", ref, "--anonymize", "-o", str(tmp_path / "anon")], env)
    assert r.returncode == 0, r.stderr
    assert f"{ref}：未遮蔽任何内容" in r.stderr  # the summary per file
    assert "没有遮蔽任何姓名" in r.stderr and "--names" in r.stderr  # the warning


# ---------------------------------------------------------------------- finding 4
def _loose(root: Path) -> list[str]:
    out = []
    for p in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(os.lstat(p).st_mode)
        if mode != (0o700 if p.is_dir() else 0o600):
            out.append(f"{oct(mode)} {p}")
    return out


def test_finding4_home_backup_restore_and_outputs_are_private(
        arc: Any, make_file: Any, tmp_path: Path, clock: Any) -> None:
    from archive.app import Archive

    old = os.umask(0o022)  # the usual umask: sgz must not depend on it
    try:
        ref = arc.records.file([make_file("a.txt", "服务对象资料")], category="FW",
                               household=HH)[0].ref
        arc.search.query("资料")
        arc.maintenance.backup(tmp_path / "bk")
        got = arc.records.get(ref, tmp_path / "get.txt", reason="核对")
        sub = arc.rights.export_subject(HH, tmp_path / "subject", reason="本人申请")
        anon = arc.rights.export_anonymized([ref], tmp_path / "anon")
        Archive.restore(tmp_path / "bk", tmp_path / "restored", clock=clock, unlock=lambda r:
                        Archive.unlock(r, user="zhangsan", passphrase=PASS, clock=clock))
    finally:
        os.umask(old)
    home = arc.kernel.home.root
    assert list((home / "indexes").glob("*.db"))  # one index per key compartment
    for root in (home, tmp_path / "bk", tmp_path / "restored", sub.out_dir, anon.out_dir):
        assert _loose(root) == [], root
    assert stat.S_IMODE(got.stat().st_mode) == 0o600


# ---------------------------------------------------------------------- finding 5
@pytest.mark.slow  # several `sgz` processes
def test_finding5_cli_damaged_keyslot_and_catalogue_exit_8(home: Path) -> None:
    env = sgz_env(home)
    assert run_sgz(["init", "--user", "zhangsan", "--role", "head"], env).returncode == 0
    paths = HomePaths(home)
    slot = KeyslotsV2(paths.keys, paths.read_vault_id()).path("zhangsan")
    good = slot.read_bytes()
    slot.write_bytes(good[:-20])
    r = run_sgz(["ls"], env)
    assert r.returncode == 8 and slot.name in r.stderr and "Traceback" not in r.stderr, r.stderr
    slot.write_bytes(good)
    raw = bytearray(paths.catalog.read_bytes())
    raw[300] ^= 0x01
    paths.catalog.write_bytes(bytes(raw))
    r = run_sgz(["ls"], env)
    assert r.returncode == 8 and "catalog.db" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert "口令错误" not in r.stderr


# ---------------------------------------------------------------------- finding 6
@pytest.mark.slow  # several `sgz` processes
def test_finding6_long_stored_name_exports_without_traceback(
        cli_home: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    home, env = cli_home
    src = tmp_path / ("很长的文件名" * 13 + ".txt")  # 238 bytes, allowed by ext4 (255)
    assert len(src.name.encode()) >= 215
    src.write_text("记录", encoding="utf-8")
    assert run_sgz(["file", str(src), "--category", "FW", "--household", HH], env).returncode == 0
    r = run_sgz(["subject", "export", "--household", HH, "-o", str(tmp_path / "o"), "--reason",
                 "本人申请"], env)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    names = [p.name for p in (tmp_path / "o").iterdir()]
    assert len(names) == 2 and all(len(n.encode()) <= 200 for n in names)
    r = run_sgz(["get", "Z001-WS·2026-D30-FW-0001", "-o", str(tmp_path), "--reason", "核对"], env)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr


class _FullDisk(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_finding6_backup_to_full_disk_is_storage_error(
        cli_home: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from archive.cli.main import main

    home, env = cli_home
    src = tmp_path / "a.txt"
    src.write_text("记录", encoding="utf-8")
    assert run_sgz(["file", str(src), "--category", "FW"], env).returncode == 0
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr("archive.ops.backup.private_open_for_write",
                        lambda *a, **k: _FullDisk())
    with pytest.raises(SystemExit) as exc:
        main(["backup", str(tmp_path / "bk")])
    err = capsys.readouterr().err
    assert exc.value.code == StorageError.exit_code == 9
    assert err.startswith("错误：磁盘空间不足") and "Traceback" not in err
    assert not (tmp_path / "bk").exists() and not (tmp_path / "bk.partial").exists()


@pytest.mark.slow  # several `sgz` processes
def test_finding6_unwritable_destinations_exit_9(cli_home: tuple[Path, dict[str, str]],
                                                 tmp_path: Path) -> None:
    home, env = cli_home
    src = tmp_path / "a.txt"
    src.write_text("记录", encoding="utf-8")
    ref = run_sgz(["file", str(src), "--category", "FW", "--household", HH], env).stdout.strip()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for args in (["backup", str(blocker / "bk")],
                 ["subject", "export", "--household", HH, "-o", str(blocker / "o"), "--reason",
                  "本人申请"],
                 ["export", ref, "--anonymize", "-o", str(blocker / "anon")]):
        r = run_sgz(args, env)
        assert r.returncode == 9 and "Traceback" not in r.stderr, (args, r.stderr)
        assert r.stderr.startswith("错误：") and "Not a directory" not in r.stderr, r.stderr
    r = run_sgz(["get", ref, "-o", str(blocker / "g.txt"), "--reason", "核对"], env)
    assert r.returncode == 3 and "目标文件夹不存在" in r.stderr, r.stderr
    # a missing parent folder is created (0700) rather than failing
    r = run_sgz(["backup", str(tmp_path / "new" / "deeper" / "bk")], env)
    assert r.returncode == 0, r.stderr
    r = run_sgz(["restore", str(tmp_path / "new" / "deeper" / "bk"), "--home",
                 str(blocker / "home")], env)
    assert r.returncode == 9 and "恢复未完成" in r.stderr and "Traceback" not in r.stderr, r.stderr


# ---------------------------------------------------------------------- finding 7
def test_finding7_control_and_bidi_never_stored(arc: Any, make_file: Any) -> None:
    evil = "走访\u202egpj.exe\n伪造的第二行\x1b[2J"
    p = make_file("记录\u202etxt.exe\r\n.txt", "内容")
    res = arc.records.file([p], category="FW", title=evil)
    rec = arc.kernel.records.get(res[0].ref)
    comp = arc.kernel.records.components(rec.id)[0]
    for stored in (rec.title, comp.filename, res[0].title):
        assert not any(ch in stored for ch in "\u202e\n\r\x1b"), repr(stored)
    assert rec.title == "走访gpj.exe 伪造的第二行[2J"
    with pytest.raises(ValidationError):
        arc.records.file([make_file("b.txt", "x")], category="FW", title="\u202e\n")
    # a title taken from the file name is cleaned the same way
    res2 = arc.records.file([make_file("名单\u2066\u200b.txt", "另一份")], category="FW")
    assert arc.kernel.records.get(res2[0].ref).title == "名单"


# ---------------------------------------------------------------------- finding 8
def test_finding8_check_finds_a_flipped_byte_in_the_index(arc: Any, make_file: Any) -> None:
    for i in range(40):
        arc.records.file([make_file(f"{i}.txt", f"第{i}份服务记录，" + "走访内容" * 200)],
                         category="FW")
    assert arc.maintenance.check().ok
    arc.search.close()
    path = arc.kernel.home.indexes / "service.db"  # the service records' own index
    raw = bytearray(path.read_bytes())
    assert len(raw) > 8 * 4096
    raw[6 * 4096 + 1000] ^= 0x01
    path.write_bytes(bytes(raw))
    rep = arc.maintenance.check()
    assert [p.code for p in rep.problems] == ["index"] * len(rep.problems) and rep.problems
    assert "全文索引" in rep.problems[0].message and "rebuild" in rep.problems[0].fix
    assert path.read_bytes() == bytes(raw)  # check never alters what it inspects
    arc.search.rebuild()
    assert arc.maintenance.check().ok


def test_finding8_check_finds_missing_and_stale_documents(arc: Any, make_file: Any) -> None:
    a = arc.records.file([make_file("a.txt", "甲")], category="FW")[0].ref
    arc.records.file([make_file("b.txt", "乙")], category="FW", index=False)
    rep = arc.maintenance.check()  # e.g. a filing killed after its commit: reported, not fatal
    assert rep.ok and any("全文索引缺少 1 个文档" in n and "rebuild" in n for n in rep.notes)
    assert arc.search.query("乙").unindexed == 1  # `search` warns too
    arc.search.rebuild()
    rep = arc.maintenance.check()
    assert rep.ok and not any("全文索引缺少" in n for n in rep.notes)
    # text of a record no longer live left in the index is a problem
    rec = arc.kernel.records.get(a)
    with arc.kernel.db.transaction():
        arc.kernel.db.execute("UPDATE records SET status = 'destroyed' WHERE id = ?", (rec.id,))
    rep = arc.maintenance.check()
    assert any(p.code == "index" and "不属于任何在库档案" in p.message for p in rep.problems)


def test_finding8_check_reports_pending_disposals(arc: Any, make_file: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    arc.users.add("lisi", "archivist", PASS)
    refs = [arc.records.file([make_file(f"{i}.txt", f"重复件{i}")], category="XZ")[0].ref
            for i in range(2)]
    batch = arc.disposal.propose(refs, appraisal_note="重复件")
    arc.disposal.approve(batch.id)
    rep = arc.maintenance.check()
    assert rep.ok and any(batch.id in n and "尚未执行" in n for n in rep.notes)

    def crash(*a: Any, **k: Any) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(arc.disposal, "_destroy_one", crash)
    with pytest.raises(RuntimeError):
        arc.disposal.execute(batch.id, witnesses=["lisi", "赵敏"])
    monkeypatch.undo()
    rep = arc.maintenance.check()
    assert [p.code for p in rep.problems] == ["disposal-interrupted"]
    assert batch.id in rep.problems[0].message and batch.id in rep.problems[0].fix
    arc.disposal.execute(batch.id, witnesses=["lisi", "赵敏"])
    assert not any(p.code.startswith("disposal") for p in arc.maintenance.check().problems)


# ---------------------------------------------------------------------- finding 9
def test_finding9_names_and_titles_stay_out_of_clear_files(st: Station, tmp_path: Path) -> None:
    blob = _docx(f"户主：{SON}", title=f"{SON}家庭走访")
    zhao = st.as_("zhao")
    ref = str(zhao.records.file([st.write(f"{HEAD}走访.docx", blob)], category="FW",
                                household=HH)[0].ref)
    dup = zhao.records.file([st.write(f"{HEAD}重复.docx", blob)], category="FW")
    assert dup[0].status == "duplicate"
    zhao.records.get(ref, tmp_path / "g.docx", reason="核对")
    zhao.rights.export_subject(HH, tmp_path / "s", reason="本人申请")
    zhao.rights.export_anonymized([ref], tmp_path / "a")
    zhao.records.show(ref)
    zhao.records.ls()
    st.as_("zhangsan").maintenance.backup(tmp_path / "bk")
    needles = [w.encode(enc) for w in (HEAD, SON, HH) for enc in ("utf-8", "utf-16-le")]
    for root in (st.home, tmp_path / "bk"):
        for p in root.rglob("*"):
            if p.is_file():
                data = p.read_bytes()
                assert not any(n in data for n in needles), p
    # an audit line's clear `ref` is a 档号, a request/batch number or a login name, never text
    head = st.as_("zhangsan")
    logins = {u.name for u in head.users.list()} | {"recovery"}  # SGZ_USER=recovery
    refs = {e.ref for e in head.kernel.audit.entries()} - {None}
    assert all(r.startswith("Z001-") or r in logins for r in refs), refs


# ---------------------------------------------------------------------- finding 10
@pytest.mark.slow  # several `sgz` processes
def test_finding10_restore_rebuilds_index_and_search_refuses_missing(
        cli_home: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    home, env = cli_home
    src = tmp_path / "a.txt"
    src.write_text("临时救助金申请", encoding="utf-8")
    assert run_sgz(["file", str(src), "--category", "FW"], env).returncode == 0
    assert run_sgz(["backup", str(tmp_path / "bk")], env).returncode == 0
    new = tmp_path / "restored"
    r = run_sgz(["restore", str(tmp_path / "bk"), "--home", str(new)], env)
    assert r.returncode == 0, r.stderr
    assert "已索引 1/1" in r.stderr and "全文索引已重建" in r.stderr
    env2 = sgz_env(new)
    r = run_sgz(["search", "救助"], env2)
    assert r.returncode == 0 and "Z001-WS·2026-D30-FW-0001" in r.stdout, r.stderr
    for p in (new / "indexes").iterdir():
        p.unlink()
    r = run_sgz(["search", "救助"], env2)
    assert r.returncode == Conflict.exit_code == 4
    assert "全文索引不存在" in r.stderr and "sgz index rebuild" in r.stderr and "共 0 条" not in r.stderr
    assert run_sgz(["index", "rebuild"], env2).returncode == 0
    assert "FW-0001" in run_sgz(["search", "救助"], env2).stdout
