"""The in-memory entry points the web UI uses: filing uploads without a file on disk, reading a
component into memory for a download, issuing view copies in memory, generating documents."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from conftest import CHEAP_WF, PASS

from archive.errors import AccessDenied, ValidationError
from archive.fs.sources import InMemoryFile


def _docx(title: str, text: str) -> bytes:
    import docx

    d = docx.Document()
    d.core_properties.title = title
    d.add_paragraph(text)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def test_browser_file_names_are_never_paths() -> None:
    assert InMemoryFile("C:\\Users\\x\\扫描件.pdf", b"%PDF-").name == "扫描件.pdf"
    assert InMemoryFile("../../etc/passwd", b"x").name == "passwd"
    assert InMemoryFile("", b"x").name == "upload"
    f = InMemoryFile("会议纪要.docx", b"PK")
    assert (f.stem, f.suffix, f.size, str(f)) == ("会议纪要", ".docx", 2, "会议纪要.docx")


def test_filing_in_memory_is_the_same_as_from_disk(arc: Any, make_file: Any) -> None:
    data = _docx("关于社区议事的通知", "议事会每月召开一次。")
    [mem] = arc.records.file([InMemoryFile("通知.docx", data)], category="XZ")
    assert mem.status == "filed" and mem.title == "关于社区议事的通知"
    # the same bytes from a file are recognised as a duplicate (same keyed fingerprint)
    [disk] = arc.records.file([make_file("副本.docx", data)], category="XZ")
    assert disk.status == "duplicate" and disk.ref == mem.ref
    comp, back = arc.records.read(mem.ref, reason="核对")
    assert back == data and comp.filename == "通知.docx"
    hits = arc.search.query("社区议事")
    assert [h.ref for h in hits.hits] == [mem.ref]


def test_in_memory_input_is_checked_like_a_file(arc: Any) -> None:
    with pytest.raises(ValidationError, match="文件为空"):
        arc.records.file([InMemoryFile("空.pdf", b"")], category="XZ")
    with pytest.raises(ValidationError, match="扩展名"):
        arc.records.file([InMemoryFile("伪装.pdf", b"PK\x03\x04" + b"\0" * 40)], category="XZ")
    with pytest.raises(ValidationError, match="可执行程序"):
        arc.records.file([InMemoryFile("setup.docx", b"MZ" + b"\0" * 100)], category="XZ")
    assert arc.records.ls() == []


def test_read_needs_a_reason_and_is_audited_first(arc: Any) -> None:
    [r] = arc.records.file([InMemoryFile("a.txt", "临时救助审批表".encode())], category="XZ")
    with pytest.raises(ValidationError, match="事由"):
        arc.records.read(r.ref, reason=" ")
    comp, data = arc.records.read(r.ref, reason="上级检查")
    assert data == "临时救助审批表".encode()
    entries = arc.audit.history(ref=r.ref)
    got = [e for e in entries if e["action"] == "record.get"]
    assert got and got[-1]["detail"]["reason"] == "上级检查"
    assert got[-1]["detail"]["out"] == "浏览器下载"
    assert comp.filename == "a.txt"


def test_read_follows_the_policy_and_flags(home: Path, clock: Any) -> None:
    from archive.app import Archive

    def unlock(user: str) -> Any:
        return Archive.unlock(home, user=user, passphrase=PASS, clock=clock,
                              kdf_work_factor=CHEAP_WF)

    a, _ = Archive.init(home, user="zhangsan", role="head", passphrase=PASS, clock=clock,
                        kdf_work_factor=CHEAP_WF)
    with a:
        a.users.add("lisi", "archivist", PASS)
        a.users.add("wangwu", "social_worker", PASS)
        a.users.add("zhaoliu", "social_worker", PASS)
    with unlock("lisi") as archivist:
        [secret] = archivist.records.file([InMemoryFile("请示.txt", "人员调整请示".encode())],
                                          category="XZ", secrecy="秘密")
    with unlock("wangwu") as sw:
        [service] = sw.records.file([InMemoryFile("走访.txt", "走访记录".encode())], category="FW")
        with pytest.raises(AccessDenied):  # a social worker holds no secret records
            sw.records.read(secret.ref, reason="想看看")
    with unlock("lisi") as archivist:  # holds no service-record keys (附件2 八.3)
        with pytest.raises(AccessDenied, match="密钥"):
            archivist.records.read(service.ref, reason="整理案卷")
    with unlock("zhaoliu") as other:  # another worker: allowed with a reason, flagged
        other.records.read(service.ref, reason="协助跟进")
    with unlock("zhangsan") as head:
        flags = head.access.flags()
        assert [(f.ref, f.reason, f.actor) for f in flags] == [(service.ref, "协助跟进", "zhaoliu")]


def test_generation_in_memory(arc: Any) -> None:
    m = arc.gen.manifest("personal-info-consent")
    sample = dict(m.sample)
    doc = arc.gen.build(m, sample)
    assert doc.startswith(b"PK")
    with pytest.raises(ValidationError) as err:
        arc.gen.build(m, {})
    assert err.value.details and all("（" in d for d in err.value.details)
    refs = arc.gen.render(m, sample, None, file=True).filed
    assert len(refs) == 1 and arc.records.show(refs[0])["title"].startswith(m.title)
    assert {t.id for t in arc.gen.templates()} >= {"personal-info-consent", "referral-consent"}
