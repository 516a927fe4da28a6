"""People's rights: subject export, correction by new version, referral consent, anonymised export."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from access_fixtures import (
    Station,
    docx_blobs,
    docx_bytes,
    find_canaries,
    make_station,
    pdf_blobs,
    pdf_bytes,
)

from archive.errors import AccessDenied, Conflict, NotFound, ValidationError

HH = "H-CANARY-0042"
CLIENT = "欧阳娜娜"
SPOUSE = "司马光明"
ID_NO = "220102198805061234"
PHONE = "13912345678"
ADDRESS = "奢岭街道长岭村3组18号"
CANARIES = [CLIENT, SPOUSE, ID_NO, PHONE, ADDRESS, HH]


@pytest.fixture
def st(arc, home: Path, clock, tmp_path: Path):
    yield from make_station(arc, home, clock, tmp_path)


def _index(folder: Path) -> list[dict[str, str]]:
    with open(folder / "清单.csv", encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_subject_export_all_service_records_with_index(st: Station, tmp_path: Path) -> None:
    a = st.file("a.pdf", pdf_bytes("走访一"), category="FW", title="走访一", household=HH,
                responsible="zhao")
    b = st.file("b.txt", b"second", category="FW", title="走访二", household=HH, responsible="zhao")
    st.file("c.txt", b"other household", category="FW", title="别户", household="H0001")
    cw = st.file("d.txt", b"money", category="CW", title="救助金凭证", household=HH)
    st.as_("zhao").records.file([st.write("b2.txt", b"second, corrected")], of=b, reason="更正笔误")
    out = tmp_path / "export"
    res = st.as_("zhao").rights.export_subject(HH, out, reason="本人申请")
    rows = _index(out)
    assert [(r["档号"], r["组件"]) for r in rows] == [(a, "1"), (b, "1"), (b, "2")]
    for r in rows:
        assert (out / r["文件"]).stat().st_size == int(r["字节数"])
    assert (out / rows[0]["文件"]).read_bytes() == (st.tmp / "src" / "a.pdf").read_bytes()
    assert res.skipped == [{"ref": cw, "why": "非服务档案（不属于服务对象本人资料）"}]
    exported = [e for e in st.as_("zhangsan").kernel.audit.entries()
                if e.action == "record.export_subject"]
    assert [e.ref for e in exported] == [a, b, b]  # one audited door per file
    with pytest.raises(Conflict, match="不是空的"):
        st.as_("zhao").rights.export_subject(HH, out, reason="本人申请")
    with pytest.raises(AccessDenied, match="服务对象"):
        st.as_("qian").rights.export_subject(HH, tmp_path / "x", reason="本人申请")  # a supervisor does not hand out
    with pytest.raises(NotFound):
        st.as_("zhao").rights.export_subject("H-NONE", tmp_path / "y", reason="本人申请")


def test_correction_adds_version_original_stays(st: Station, tmp_path: Path) -> None:
    ref = st.file("rec.txt", b"ID 220102198805061235", category="FW", title="个案记录",
                  household=HH, responsible="zhao")
    zhao = st.as_("zhao")
    with pytest.raises(ValidationError, match="更正"):
        zhao.records.file([st.write("fix0.txt", b"x")], of=ref, kind="更正版本")
    with pytest.raises(AccessDenied, match="更正"):
        st.as_("qian").records.file([st.write("fix1.txt", b"y")], of=ref, reason="督导更正")
    res = zhao.records.file([st.write("fix.txt", b"ID 220102198805061234")], of=ref, reason="身份证号笔误")
    assert (res[0].ref, res[0].status, res[0].seq) == (ref, "component", 2)
    shown = zhao.records.show(ref)
    assert [(c["seq"], c["kind"], c["reason"]) for c in shown["components"]] == [
        (1, "正文", ""), (2, "更正版本", "身份证号笔误")]
    zhao.records.get(ref, tmp_path / "now.txt", reason="核对")
    zhao.records.get(ref, tmp_path / "orig.txt", reason="核对原件", component=1)
    assert (tmp_path / "now.txt").read_bytes() == b"ID 220102198805061234"
    assert (tmp_path / "orig.txt").read_bytes() == b"ID 220102198805061235"


def test_referral_needs_signed_consent(st: Station, tmp_path: Path) -> None:
    st.file("rec.pdf", pdf_bytes("个案记录"), category="FW", title="个案记录", household=HH,
            responsible="zhao")
    zhao = st.as_("zhao")
    with pytest.raises(AccessDenied, match="转介同意书"):
        zhao.rights.refer(HH, to="区残联", out_dir=tmp_path / "r0")
    assert not (tmp_path / "r0").exists()
    # an unsigned Word draft titled as consent does not count
    st.file("draft.docx", docx_bytes("转介同意书草稿"), user="zhao", category="FW",
            title="转介同意书（草稿）", household=HH)
    with pytest.raises(AccessDenied, match="未存档已签署"):
        zhao.rights.refer(HH, to="区残联", out_dir=tmp_path / "r1")
    with pytest.raises(AccessDenied):
        st.as_("wang").rights.refer(HH, to="区残联", out_dir=tmp_path / "r2", override_reason="急")
    consent = st.file("consent.pdf", pdf_bytes("转介同意书 签字"), user="zhao", category="FW",
                      title="转介同意书", household=HH)
    res = zhao.rights.refer(HH, to="区残联", out_dir=tmp_path / "r3")
    assert res.consent_ref == consent and not res.flagged
    rows = _index(tmp_path / "r3")
    assert len(rows) == 3 and {r["接收机构"] for r in rows} == {"区残联"}
    assert rows[0]["依据"] == f"已存档转介同意书 {consent}"
    assert st.as_("zhangsan").access.flags() == []


def test_referral_override_is_flagged_and_logged(st: Station, tmp_path: Path) -> None:
    ref = st.file("rec.pdf", pdf_bytes("个案记录"), category="FW", title="个案记录", household=HH,
                  responsible="zhao")
    res = st.as_("zhao").rights.refer(HH, to="派出所", out_dir=tmp_path / "r",
                               override_reason="服务对象有自伤风险")
    assert res.flagged and res.consent_ref is None
    assert _index(tmp_path / "r")[0]["依据"].startswith("未经同意")
    flags = st.as_("zhangsan").access.flags()
    assert [(f.action, f.actor, f.reason) for f in flags] == [
        ("record.refer", "zhao", "服务对象有自伤风险")]
    head = st.as_("zhangsan")
    refer = [e for e in head.kernel.audit.entries() if e.action == "record.refer"]
    assert [e.ref for e in refer] == [ref, None]  # per file, then the outcome
    assert HH.encode() not in (head.kernel.home.audit / "log.jsonl").read_bytes()


def _canary_docx() -> bytes:
    return docx_bytes(f"服务对象：{CLIENT}，身份证号 {ID_NO}，电话 {PHONE}。",
                      f"配偶{SPOUSE}陪同，家住{ADDRESS}。", f"户号 {HH}", author=CLIENT)


def _canary_pdf() -> bytes:
    return pdf_bytes(f"服务对象：{CLIENT}，身份证号{ID_NO}。", f"电话{PHONE}，家住{ADDRESS}。",
                     f"配偶{SPOUSE}，户号{HH}", pages=2, title=f"{CLIENT}个案")


def test_anonymised_export_leaves_no_canary(st: Station, tmp_path: Path) -> None:
    d = st.file("个案.docx", _canary_docx(), category="FW", title="个案记录", household=HH,
                responsible="zhao")
    p = st.file("个案.pdf", _canary_pdf(), category="FW", title="个案扫描", household=HH,
                responsible="zhao")
    t = st.file("note.txt", f"{CLIENT} {PHONE} {ID_NO}".encode(), category="FW",
                title="便签", household=HH, responsible="zhao")
    assert find_canaries(docx_blobs(_canary_docx()), CANARIES)  # the scan finds them in the input
    assert find_canaries(pdf_blobs(_canary_pdf()), [CLIENT, ID_NO])
    out = tmp_path / "anon"
    res = st.as_("zhao").rights.export_anonymized([d, p, t], out, names=[SPOUSE, CLIENT])
    files = sorted(x.name for x in out.iterdir())
    assert len(files) == 4 and "清单.csv" in files
    for x in out.iterdir():
        data = x.read_bytes()
        blobs = {x.name: data}
        if x.suffix == ".docx":
            blobs.update(docx_blobs(data))
        elif x.suffix == ".pdf":
            blobs.update(pdf_blobs(data))
        assert find_canaries(blobs, CANARIES) == [], x.name
    assert all(CLIENT not in name for name in files)
    assert {f["ref"] for f in res.files} == {d, p, t}
    people = ("client", "staff", "extra", "field", "name", "given")  # anonymize.detect.PERSON_KINDS
    assert sum(res.files[0]["masked"].get(k, 0) for k in people) >= 2


def test_anonymised_export_policy_and_formats(st: Station, tmp_path: Path) -> None:
    fw = st.file("a.pdf", pdf_bytes(f"服务对象{CLIENT}"), category="FW", title="个案", household=HH,
                 responsible="zhao")
    img = st.file("a.png", __import__("access_fixtures").png_bytes(), category="XZ", title="照片")
    with pytest.raises(AccessDenied, match="密钥"):  # the archivist holds no service keys
        st.as_("wang").rights.export_anonymized([fw], tmp_path / "a", reason="年度报告")
    with pytest.raises(AccessDenied, match="事由"):
        st.as_("lisi").rights.export_anonymized([fw], tmp_path / "a")  # not responsible: needs reason
    res = st.as_("lisi").rights.export_anonymized([fw], tmp_path / "b", reason="年度报告")
    assert res.flagged
    assert [f.action for f in st.as_("zhangsan").access.flags()] == ["record.export_anon"]
    with pytest.raises(ValidationError, match="无法匿名化"):
        st.as_("zhangsan").rights.export_anonymized([img], tmp_path / "c")
    assert not (tmp_path / "c").exists()
