"""Filing and retrieval through the library: round trips, numbering, components, bad input."""

from __future__ import annotations

import errno
import io
import zipfile
from pathlib import Path

import pytest
from conftest import CHEAP_WF, PASS

from archive.app import Archive
from archive.errors import (
    AccessDenied,
    Conflict,
    DecryptionFailed,
    NotFound,
    StorageError,
    UsageError,
    ValidationError,
)
from archive.vault.keyslots import UnknownUser


def _docx(title: str | None, heading: str) -> bytes:
    import docx

    d = docx.Document()
    if title:
        d.core_properties.title = title
    d.add_heading(heading, level=1)
    d.add_paragraph("正文内容")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _pdf(title: object) -> bytes:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Title"] = title
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def _odd_titles() -> list[tuple[object, str | None]]:
    """PDF /Title values as producers write them (and as they should not), with the title
    filing takes from each."""
    import pikepdf

    return [
        ("入户走访记录（张三）", "入户走访记录（张三）"),  # pikepdf writes UTF-16BE with a BOM
        (pikepdf.String("Caf\u00e9 \u2013 \u7ae0\u7a0b"), "Caf\u00e9 \u2013 \u7ae0\u7a0b"),
        (pikepdf.String(b"\xef\xbb\xbf\xe6\xa0\x87\xe9\xa2\x98"), "标题"),  # PDF 2.0 UTF-8
        (pikepdf.String("  题名前后有空白 \n"), "题名前后有空白"),
        (pikepdf.String(""), None),
        (pikepdf.String("abc\u202edef"), "abcdef"),  # a bidi override is cleaned out
        (pikepdf.Name("/Malformed"), "Malformed"),  # not a string: its bare name
        (42, None),
    ]


@pytest.mark.parametrize("index", [True, False], ids=["worker", "filing process"])
def test_pdf_titles_read_the_same_with_and_without_indexing(arc: Archive, make_file,
                                                              index: bool) -> None:
    """With indexing the extraction worker reads the title; without, the filing process.
    Both read it with the same function, so a record's title never depends on --no-index."""
    cases = _odd_titles()
    srcs = [make_file(f"文件{i}.pdf", _pdf(raw)) for i, (raw, _want) in enumerate(cases)]
    res = arc.records.file(srcs, category="XZ", index=index)
    got = [arc.records.show(r.ref)["title"] for r in res]
    assert got == [want or f"文件{i}" for i, (_raw, want) in enumerate(cases)]


def test_file_and_get_round_trip(arc: Archive, make_file, tmp_path: Path) -> None:
    data = "入户走访记录：王小明家庭困难情况".encode() * 1000
    src = make_file("走访.txt", data)
    [res] = arc.records.file([src], category="服务", title="入户走访记录", retention="D30", date="2026-05-06",
                     household="H0012")
    assert res.ref == "Z001-WS·2026-D30-FW-0001" and res.status == "filed"
    out = arc.records.get(res.ref, tmp_path / "out.txt", reason="督导检查")
    assert out.read_bytes() == data
    shown = arc.records.show(res.ref)
    assert shown["date"] == "20260506" and shown["household"] == "H0012"
    assert shown["components"][0]["filename"] == "走访.txt"
    actions = [e.action for e in arc.kernel.audit.entries()]
    assert actions[0] == "genesis" and "vault.init" in actions[:3]  # + recovery's user.add
    assert "record.file" in actions and "record.get" in actions


def test_numbering_per_class_gap_free(arc: Archive, make_file) -> None:
    refs = []
    for i in range(3):
        refs += [r.ref for r in arc.records.file([make_file(f"fw{i}.txt", f"服务{i}")], category="FW",
                                          retention="D30", year=2026)]
    refs += [r.ref for r in arc.records.file([make_file("xz.txt", "行政")], category="行政", retention="Y",
                                      year=2026)]
    refs += [r.ref for r in arc.records.file([make_file("fw-2025.txt", "去年")], category="FW",
                                      retention="D30", year=2025)]
    assert refs == [
        "Z001-WS·2026-D30-FW-0001", "Z001-WS·2026-D30-FW-0002", "Z001-WS·2026-D30-FW-0003",
        "Z001-WS·2026-Y-XZ-0001", "Z001-WS·2025-D30-FW-0001",
    ]


def test_duplicate_reported_not_stored_twice(arc: Archive, make_file) -> None:
    a = make_file("a.txt", "同一份文件")
    b = make_file("b.txt", "同一份文件")
    [first] = arc.records.file([a], category="FW")
    [second] = arc.records.file([b], category="FW")
    assert second.status == "duplicate" and second.ref == first.ref
    assert len(arc.kernel.objects.iter_ids()) == 1
    assert [r.ref for r in arc.records.ls()] == [first.ref]


def test_components_and_corrections(arc: Archive, make_file, tmp_path: Path) -> None:
    [rec] = arc.records.file([make_file("v1.txt", "身份证号 220102199001011234")], category="FW")
    [scan] = arc.records.file([make_file("scan.txt", "签字扫描件")], of=rec.ref, kind="签字扫描件")
    assert scan.status == "component" and scan.ref == rec.ref and scan.seq == 2
    with pytest.raises(ValidationError, match="更正原因"):
        arc.records.file([make_file("v2.txt", "更正后")], of=rec.ref, kind="更正版本")
    [fix] = arc.records.file([make_file("v2.txt", "更正后")], of=rec.ref, reason="身份证号笔误")
    assert fix.seq == 3
    comps = arc.records.show(rec.ref)["components"]
    assert [c["kind"] for c in comps] == ["正文", "签字扫描件", "更正版本"]
    assert comps[2]["reason"] == "身份证号笔误"
    # default get returns the newest version; the original is still there, never overwritten
    assert arc.records.get(rec.ref, tmp_path / "cur", reason="核对").read_text("utf-8") == "更正后"
    assert arc.records.get(rec.ref, tmp_path / "orig", reason="核对", component=1).read_text("utf-8").startswith("身份证号")


def test_titles_from_documents(arc: Archive, make_file) -> None:
    [d1] = arc.records.file([make_file("x.docx", _docx("核心属性题名", "一级标题"))], category="XZ")
    [d2] = arc.records.file([make_file("y.docx", _docx(None, "社工站档案管理制度"))], category="XZ")
    [p1] = arc.records.file([make_file("z.pdf", _pdf("PDF 的题名"))], category="XZ")
    [t1] = arc.records.file([make_file("会议纪要.txt", "纪要")], category="XZ")
    assert [arc.records.show(r.ref)["title"] for r in (d1, d2, p1, t1)] == [
        "核心属性题名", "社工站档案管理制度", "PDF 的题名", "会议纪要"]
    assert arc.records.show(t1.ref)["title_source"] == "filename"


@pytest.mark.parametrize(
    "name,data,exc,match",
    [
        ("fake.pdf", b"PK\x03\x04" + b"\x00" * 40, ValidationError, "扩展名"),
        ("fake.docx", b"MZ\x90\x00" + b"\x00" * 40, ValidationError, "可执行程序"),
        ("fake.jpg", b"%PDF-1.7\n", ValidationError, "扩展名"),
        ("empty.txt", b"", ValidationError, "文件为空"),
    ],
)
def test_bad_files_rejected_and_nothing_changes(arc: Archive, make_file, name, data, exc, match) -> None:
    good = make_file("good.txt", "正常文件")
    bad = make_file(name, data)
    with pytest.raises(exc, match=match):
        arc.records.file([good, bad], category="FW")  # the good one is not filed either
    assert arc.records.ls() == []
    assert arc.kernel.objects.iter_ids() == []


def test_missing_directory_and_usage_errors(arc: Archive, make_file, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        arc.records.file([tmp_path / "nope.pdf"], category="FW")
    with pytest.raises(ValidationError, match="文件夹"):
        arc.records.file([tmp_path], category="FW")
    f = make_file("a.txt", "x")
    with pytest.raises(ValidationError, match="未知的档案类别"):
        arc.records.file([f], category="娱乐")
    with pytest.raises(ValidationError, match="保管期限"):
        arc.records.file([f], category="FW", retention="D99")
    with pytest.raises(UsageError):
        arc.records.file([f])
    with pytest.raises(UsageError):
        arc.records.file([f, make_file("b.txt", "y")], category="FW", title="一个题名")
    assert arc.records.ls() == []


def test_unreadable_file(arc: Archive, make_file, monkeypatch) -> None:
    f = make_file("secret.txt", "x")
    real_open = open

    def fake_open(path, *a, **kw):  # root ignores chmod, so simulate the OS refusing
        if str(path) == str(f):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, *a, **kw)

    monkeypatch.setattr("builtins.open", fake_open)
    with pytest.raises(ValidationError, match="没有读取权限"):
        arc.records.file([f], category="FW")


def test_disk_full_during_write_changes_nothing(arc: Archive, make_file, monkeypatch) -> None:
    import archive.vault.objects as objects

    f = make_file("big.txt", "内容" * 600_000)  # > 3 write blocks of 1 MiB
    calls = {"n": 0}
    real_write = objects.os.write

    def full(fd, data):
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(objects.os, "write", full)
    with pytest.raises(StorageError, match="磁盘空间不足"):
        arc.records.file([f], category="FW")
    monkeypatch.undo()
    assert arc.records.ls() == [] and arc.kernel.objects.iter_ids() == []
    assert arc.kernel.objects.leftovers() == [] and list(arc.kernel.objects.session_dir().iterdir()) == []
    [r] = arc.records.file([f], category="FW")  # numbering did not advance
    assert r.ref.endswith("-0001")


def test_get_rules(arc: Archive, make_file, tmp_path: Path) -> None:
    [r] = arc.records.file([make_file("a.txt", "内容")], category="FW")
    out = tmp_path / "o.txt"
    with pytest.raises(ValidationError, match="事由"):
        arc.records.get(r.ref, out, reason="  ")
    arc.records.get(r.ref, out, reason="查阅")
    with pytest.raises(Conflict, match="--force"):
        arc.records.get(r.ref, out, reason="查阅")
    arc.records.get(r.ref, out, reason="查阅", force=True)
    with pytest.raises(ValidationError, match="加密目录"):
        arc.records.get(r.ref, arc.kernel.home.vault / "leak.txt", reason="查阅")
    with pytest.raises(NotFound):
        arc.records.get("Z001-WS·2026-D30-FW-0099", out, reason="查阅", force=True)


def test_unlock_wrong_passphrase_recovery_and_users(arc: Archive, home: Path, clock) -> None:
    code_home = home.parent / "h2"
    a2, code = Archive.init(code_home, user="wang", role="head", passphrase=PASS, clock=clock,
                            kdf_work_factor=CHEAP_WF)
    a2.close()
    with pytest.raises(DecryptionFailed):
        Archive.unlock(code_home, user="wang", passphrase="wrong-passphrase", clock=clock)
    with pytest.raises(UnknownUser) as unknown:  # finding 5: same message and exit code
        Archive.unlock(code_home, user="nobody", passphrase=PASS, clock=clock)
    assert unknown.value.exit_code == DecryptionFailed.exit_code
    with Archive.unlock_recovery(code_home, code=code.lower().replace("-", " "), clock=clock) as rec:
        assert rec.kernel.user.role == "head"
        actions = [e.action for e in rec.kernel.audit.entries()]
        assert actions.count("auth.failed") == 2 and actions[-1] == "auth.recovery"
    with pytest.raises(Conflict):
        Archive.init(code_home, user="x1", role="head", passphrase=PASS, clock=clock)

    arc.users.add("lisi", "archivist", "archivist-pass", display="李四")
    with Archive.unlock(home, user="lisi", passphrase="archivist-pass", clock=clock) as li:
        assert li.kernel.user.role == "archivist"
        with pytest.raises(AccessDenied):
            li.users.add("mallory", "head", "whatever-pass")
    arc.users.passwd("new-archivist-pass", user="lisi")
    with pytest.raises(DecryptionFailed):
        Archive.unlock(home, user="lisi", passphrase="archivist-pass", clock=clock)
    arc.users.remove("lisi")
    with pytest.raises(UnknownUser):  # a removed user is an unknown name (exit 7)
        Archive.unlock(home, user="lisi", passphrase="new-archivist-pass", clock=clock)
    with pytest.raises(Conflict):
        arc.users.remove("zhangsan")


def test_keyslot_is_a_plain_age_scrypt_file(arc: Archive) -> None:
    """Her own keys (an age identity file, no station root) come back from the slot with
    nothing but age and the passphrase (vault format 2)."""
    from archive.crypto import age

    path = arc.kernel.keys.files.slots.path("zhangsan")
    slot = path.read_bytes()
    assert slot.startswith(b"age-encryption.org/v1\n-> scrypt ")
    plain = age.decrypt_bytes(slot, [age.ScryptIdentity(PASS.encode())]).decode()
    assert str(arc.kernel.keys.bag.user.identity) in plain.splitlines()
    assert b"zhangsan" not in slot and "zhangsan" not in path.name


def test_objects_are_age_files_named_by_ciphertext_hash(arc: Archive, make_file) -> None:
    import hashlib

    arc.records.file([make_file("a.txt", "内容")], category="FW")
    [oid] = arc.kernel.objects.iter_ids()
    data = arc.kernel.objects.path(oid).read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n-> X25519 ")
    assert hashlib.sha256(data).hexdigest() == oid


def test_real_kdf_parameters(home: Path, clock) -> None:
    """One test with the production scrypt work factor (2^18)."""
    a, _ = Archive.init(home, user="zhangsan", role="head", passphrase=PASS, clock=clock)
    a.close()
    slot = next((home / "vault" / "keys").glob("*.age")).read_bytes()
    assert b"-> scrypt " in slot and b" 18\n" in slot
    Archive.unlock(home, user="zhangsan", passphrase=PASS, clock=clock).close()


def test_docx_is_a_zip_not_misread(arc: Archive, make_file) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "not a docx")
    with pytest.raises(ValidationError, match="扩展名"):
        arc.records.file([make_file("x.docx", buf.getvalue())], category="FW")


def test_sm3_fixity_is_opt_in(home: Path, clock, make_file) -> None:
    import hmac

    from archive.kernel.station import EXAMPLE_TOML

    text = EXAMPLE_TOML + "\n[crypto]\nsm3 = true\n"
    a, _ = Archive.init(home, user="zhangsan", role="head", passphrase=PASS, clock=clock,
                        station_text=text, kdf_work_factor=CHEAP_WF)
    with a:
        f = make_file("a.txt", "国密固定性")
        [r] = a.records.file([f], category="FW")
        comp = a.kernel.records.components(a.kernel.records.get(r.ref).id)[0]
        assert comp.fp_sm3 == hmac.new(a.kernel.keys.fingerprint_key, f.read_bytes(), "sm3").hexdigest()
        assert comp.fp_sha == hmac.new(a.kernel.keys.fingerprint_key, f.read_bytes(), "sha256").hexdigest()
    with pytest.raises(ValidationError, match=r"\[crypto\] 中有未知的键 sm4"):
        Archive.init(home.parent / "h3", user="x1", role="head", passphrase=PASS, clock=clock,
                     station_text=EXAMPLE_TOML + "\n[crypto]\nsm4 = true\n", kdf_work_factor=CHEAP_WF)


def test_utf16_text_is_text(arc: Archive, make_file) -> None:
    f = make_file("记事本.txt", "服务对象基本情况".encode("utf-16"))
    [r] = arc.records.file([f], category="FW")
    assert arc.records.show(r.ref)["components"][0]["mime"] == "text/plain"


def test_reading_someone_elses_service_record_needs_a_reason_and_is_flagged(
        arc: Archive, home: Path, clock, make_file, tmp_path: Path) -> None:
    arc.users.add("wangwu", "social_worker", "worker-passphrase")
    arc.users.add("lisi", "social_worker", "worker2-passphrase")
    arc.users.add("zhaoliu", "archivist", "archivist-pass")
    with Archive.unlock(home, user="wangwu", passphrase="worker-passphrase", clock=clock) as w:
        [r] = w.records.file([make_file("r.txt", "王大爷 低保 走访记录")], category="FW", household="H001")
        w.records.get(r.ref, tmp_path / "own.txt", reason="本人跟进")  # the responsible worker
    assert arc.access.flags() == []
    with Archive.unlock(home, user="lisi", passphrase="worker2-passphrase", clock=clock) as a:
        with pytest.raises(ValidationError, match="事由"):
            a.records.get(r.ref, tmp_path / "x.txt", reason="")
        a.records.get(r.ref, tmp_path / "x.txt", reason="协助跟进")
    [flag] = arc.access.flags()
    assert (flag.actor, flag.ref, flag.reason) == ("lisi", r.ref, "协助跟进")
    # the archivist holds no service-record keys (附件2 八.3): no reason opens it for her
    with Archive.unlock(home, user="zhaoliu", passphrase="archivist-pass", clock=clock) as a:
        with pytest.raises(AccessDenied, match="密钥"):
            a.records.get(r.ref, tmp_path / "y.txt", reason="核对归档")


def test_failed_unlock_with_unknown_name_does_not_log_what_was_typed(arc: Archive, home: Path,
                                                                      clock) -> None:
    """A passphrase typed into the user-name field must not land in the log in clear."""
    with pytest.raises(UnknownUser):
        Archive.unlock(home, user="my-secret-pass", passphrase=PASS, clock=clock)
    with pytest.raises(DecryptionFailed):
        Archive.unlock(home, user="zhangsan", passphrase="wrong-passphrase", clock=clock)
    raw = (home / "vault" / "audit" / "log.jsonl").read_bytes()
    assert b"my-secret-pass" not in raw
    failed = [e.actor for e in arc.kernel.audit.entries() if e.action == "auth.failed"]
    assert failed == ["?", "zhangsan"]
