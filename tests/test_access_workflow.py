"""Outside access through the library: register, approve, view copies, copies, register doc."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pikepdf
import pytest
from access_fixtures import (
    Station,
    docx_bytes,
    make_station,
    pdf_bytes,
    pdf_text,
    png_bytes,
    scan_tree,
)

from archive.errors import AccessDenied, Conflict, NotFound, ValidationError

UNIT = "长春示例评估中心"


@pytest.fixture
def st(arc, home: Path, clock, tmp_path: Path):
    yield from make_station(arc, home, clock, tmp_path)


_ITEMS = {
    "xz": ("总结.pdf", lambda: pdf_bytes("年度工作总结"), {"category": "XZ", "title": "年度工作总结"}),
    "xz2": ("制度.pdf", lambda: pdf_bytes("档案管理制度"), {"category": "XZ", "title": "档案管理制度"}),
    "precious": ("批复.pdf", lambda: pdf_bytes("建站批复"),
                 {"category": "XZ", "title": "建站批复", "precious": True}),
    "fw": ("走访.pdf", lambda: pdf_bytes("入户走访"),
           {"category": "FW", "title": "入户走访记录", "household": "H0012"}),
    "png": ("照片.png", png_bytes, {"category": "XZ", "title": "活动照片"}),
    "txt": ("说明.txt", lambda: "纯文本说明".encode(), {"category": "XZ", "title": "说明"}),
}


class _Items(dict):
    """Records filed on first use, so each test pays only for the ones it needs."""

    def __init__(self, st: Station) -> None:
        super().__init__()
        self.st = st

    def __missing__(self, key: str) -> str:
        name, data, kw = _ITEMS[key]
        self[key] = ref = self.st.file(name, data(), **kw)
        return ref


@pytest.fixture
def items(st: Station) -> dict[str, str]:
    return _Items(st)


def _request(st: Station, refs: list[str], *, copy: bool = False, user: str = "wang"):
    letter = st.write(f"介绍信{len(refs)}{copy}.pdf", pdf_bytes("介绍信", UNIT + user + str(refs)))
    return st.as_(user).access.request(unit=UNIT, letter=letter, purpose="第三方评估",
                                       items=refs, copy=copy, applicant="郑晓东")


def _approved(st: Station, refs: list[str], *, allow_copy: bool = False):
    req = _request(st, refs, copy=allow_copy)
    return st.as_("zhangsan").access.approve(req.no, allow_copy=allow_copy)


def test_request_ids_gap_free_letter_filed_unit_never_in_ref(st: Station, items, home: Path) -> None:
    a = _request(st, [items["xz"]])
    b = _request(st, [items["xz"], items["xz2"], items["xz"]])  # duplicates collapse
    assert (a.no, b.no) == ("CY-2026-0001", "CY-2026-0002")
    assert b.items == (items["xz"], items["xz2"]) and a.status == "pending"
    letter = st.as_("wang").kernel.records.get(a.letter_ref)
    assert letter.cls == "XZ" and letter.title == f"外单位查阅介绍信（{UNIT}）"
    assert letter.retention == "Y"  # the default for XZ
    # a refused registration (unknown item) writes nothing and takes no number
    with pytest.raises(NotFound):
        _request(st, ["Z001-WS·2026-Y-XZ-0999"])
    assert _request(st, [items["xz"]]).no == "CY-2026-0003"
    log = (home / "vault" / "audit" / "log.jsonl").read_bytes()
    assert UNIT.encode() not in log and "第三方评估".encode() not in log
    assert b'"ref":"CY-2026-0001"' in log


def test_register_needs_manager_role(st: Station, items) -> None:
    with pytest.raises(AccessDenied, match="登记"):
        _request(st, [items["xz"]], user="zhao")


def test_approval_rules(st: Station, items, clock) -> None:
    req = _request(st, [items["xz"]])
    with pytest.raises(AccessDenied, match="签字批准"):
        st.as_("sun").access.approve(req.no)  # an archivist cannot approve
    head_req = _request(st, [items["xz2"]], user="zhangsan")
    with pytest.raises(AccessDenied, match="不得审批本人登记"):
        st.as_("zhangsan").access.approve(head_req.no)
    assert st.as_("lisi").access.approve(head_req.no).status == "approved"  # deputy may
    ok = st.as_("zhangsan").access.approve(req.no)
    assert ok.valid_until == "2026-12-05T09:00:00Z" and not ok.copy_approved  # 7 days
    with pytest.raises(Conflict):
        st.as_("zhangsan").access.approve(req.no)
    other = _request(st, [items["precious"]], copy=True)
    with pytest.raises(AccessDenied, match="珍贵"):
        st.as_("zhangsan").access.approve(other.no, allow_copy=True)
    with pytest.raises(ValidationError, match="已过"):
        st.as_("zhangsan").access.approve(other.no, until="2026-11-01")
    until = st.as_("zhangsan").access.approve(other.no, until="2026-12-01")
    assert until.valid_until == "2026-12-01T15:59:59Z"  # end of that day, Beijing time
    third = _request(st, [items["xz"]])
    with pytest.raises(ValidationError, match="理由"):
        st.as_("zhangsan").access.deny(third.no, reason=" ")
    denied = st.as_("zhangsan").access.deny(third.no, reason="介绍信未盖章")
    assert denied.status == "denied" and denied.decision_note == "介绍信未盖章"
    statuses = {r.no: r.effective_status(st.as_("wang").kernel.clock.iso())
                for r in st.as_("wang").access.list()}
    assert statuses == {req.no: "approved", head_req.no: "approved", other.no: "approved",
                        third.no: "denied"}
    clock.advance(days=8)
    assert [r.no for r in st.as_("wang").access.list(status="expired")] == [
        req.no, head_req.no, other.no]


def test_view_copy_watermark_permissions_register(st: Station, items, tmp_path: Path) -> None:
    req = _approved(st, [items["xz"], items["png"]])
    w = st.as_("wang")
    one = w.access.view(req.no, items["xz"], tmp_path / "v1.pdf")
    two = w.access.view(req.no, items["xz"], tmp_path / "v2.pdf")
    assert (one.copy.no, two.copy.no) == ("CY-2026-0001-01", "CY-2026-0001-02")
    a, b = (tmp_path / "v1.pdf").read_bytes(), (tmp_path / "v2.pdf").read_bytes()
    assert a != b
    for data, no in ((a, one.copy.no), (b, two.copy.no)):
        with pikepdf.open(io.BytesIO(data)) as pdf:
            assert pdf.is_encrypted and not pdf.allow.print_highres and not pdf.allow.extract
            assert str(pdf.docinfo["/SgzCopyId"]) == no
        for page in pdf_text(data):
            assert UNIT in page and req.no in page and no in page and "2026-11-28" in page
            assert "年度工作总结" in page  # the content is still there
    img = w.access.view(req.no, items["png"], tmp_path)  # a folder: a name is chosen
    assert img.path.suffix == ".pdf" and img.copy.no in pdf_text(img.path.read_bytes())[0]
    shown = w.access.show(req.no)
    assert [(c["no"], c["kind"], c["issued_by"]) for c in shown["copies"]] == [
        (one.copy.no, "view", "wang"), (two.copy.no, "view", "wang"), (img.copy.no, "view", "wang")]
    with pytest.raises(Conflict, match="已存在"):
        w.access.view(req.no, items["xz"], tmp_path / "v1.pdf")


def test_view_refusals(st: Station, items, clock, tmp_path: Path, home: Path) -> None:
    pending = _request(st, [items["xz"]])
    w = st.as_("wang")
    with pytest.raises(AccessDenied, match="未获批准"):
        w.access.view(pending.no, items["xz"], tmp_path / "x.pdf")
    req = _approved(st, [items["xz"], items["txt"]])
    with pytest.raises(AccessDenied, match="不在批准的查阅范围"):
        w.access.view(req.no, items["xz2"], tmp_path / "x.pdf")
    with pytest.raises(AccessDenied, match="档案管理员"):
        st.as_("zhao").access.view(req.no, items["xz"], tmp_path / "x.pdf")
    with pytest.raises(ValidationError, match="无法为"):
        w.access.view(req.no, items["txt"], tmp_path / "x.pdf")
    with pytest.raises(ValidationError, match="加密目录"):
        w.access.view(req.no, items["xz"], home / "vault" / "x.pdf")
    clock.advance(days=7, seconds=1)
    with pytest.raises(AccessDenied, match="期限"):
        w.access.view(req.no, items["xz"], tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()
    assert w.access.show(req.no)["copies"] == []
    denied = [e for e in w.kernel.audit.entries() if e.action == "denied"]
    assert len(denied) >= 4


def test_service_record_outside_needs_reason_and_is_flagged(st: Station, items, tmp_path) -> None:
    req = _approved(st, [items["fw"]])
    # the archivist holds no service-record keys (附件2 八.3): the deputy produces the copy
    with pytest.raises(AccessDenied, match="密钥"):
        st.as_("wang").access.view(req.no, items["fw"], tmp_path / "fw.pdf", reason="法院调查令")
    w = st.as_("lisi")
    with pytest.raises(AccessDenied, match="事由"):
        w.access.view(req.no, items["fw"], tmp_path / "fw.pdf")
    res = w.access.view(req.no, items["fw"], tmp_path / "fw.pdf", reason="法院调查令")
    assert res.flagged
    flags = st.as_("zhangsan").access.flags()
    assert [(f.action, f.ref, f.reason) for f in flags] == [("access.view", items["fw"], "法院调查令")]
    with pytest.raises(AccessDenied):
        st.as_("wang").access.flags()  # only the head (and the authority) see them
    st.as_("zhangsan").access.ack_flag(flags[0].id)
    assert st.as_("zhangsan").access.flags() == []
    assert len(st.as_("zhangsan").access.flags(include_acked=True)) == 1


def test_copies_numbered_watermarked_and_precious_never(st: Station, items, tmp_path) -> None:
    no_copy = _approved(st, [items["xz"]])
    w = st.as_("wang")
    with pytest.raises(AccessDenied, match="未获准复制"):
        w.access.copy(no_copy.no, items["xz"], tmp_path / "c.pdf")
    precious = _approved(st, [items["precious"]])
    with pytest.raises(AccessDenied, match="珍贵"):
        w.access.copy(precious.no, items["precious"], tmp_path / "c.pdf")
    req = _approved(st, [items["xz"], items["txt"]], allow_copy=True)
    c1 = w.access.copy(req.no, items["xz"], tmp_path / "c1.pdf")
    c2 = w.access.copy(req.no, items["txt"], tmp_path / "c2.txt")
    assert (c1.copy.no, c2.copy.no) == ("FZ-2026-0001", "FZ-2026-0002")
    data = (tmp_path / "c1.pdf").read_bytes()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert not pdf.is_encrypted  # a copy may be printed; the stamp stays
    assert f"复制件编号{c1.copy.no}" in pdf_text(data)[0]
    assert (tmp_path / "c2.txt").read_bytes() == "纯文本说明".encode()
    assert c2.copy.format == "text/plain"
    assert [c["no"] for c in w.access.show(req.no)["copies"]] == ["FZ-2026-0001", "FZ-2026-0002"]


def test_register_document_one_form_per_request(st: Station, items, tmp_path) -> None:
    a = _approved(st, [items["xz"]])
    b = _request(st, [items["xz2"], items["fw"]])
    st.as_("wang").access.view(a.no, items["xz"], tmp_path / "v.pdf")
    blob, n = st.as_("zhangsan").access.register_doc(year=2026)
    assert n == 2
    xml = zipfile.ZipFile(io.BytesIO(blob)).read("word/document.xml").decode()
    for text in (a.no, b.no, UNIT, "第三方评估", "年度工作总结", "入户走访记录",
                 f"{a.no}-01", "郑晓东"):
        assert text in xml, text
    # the archivist's register names the service record by 档号 only (its title is sealed)
    blob, _ = st.as_("wang").access.register_doc(year=2026)
    xml = zipfile.ZipFile(io.BytesIO(blob)).read("word/document.xml").decode()
    assert "入户走访记录" not in xml and "（无权查看）" in xml and "年度工作总结" in xml
    assert xml.count('w:type="page"') >= 1 and xml.count("<w:sectPr") == 1
    import docx

    docx.Document(io.BytesIO(blob))  # opens
    with pytest.raises(NotFound):
        st.as_("wang").access.register_doc(year=2025)
    with pytest.raises(AccessDenied):
        st.as_("zhao").access.register_doc()


@pytest.mark.libreoffice
def test_docx_view_copy_leaves_no_plaintext(st: Station, tmp_path: Path, home: Path) -> None:
    from archive.pdf.office import find_soffice

    if find_soffice() is None:
        pytest.skip("LibreOffice (soffice) 未安装：跳过 .docx 查阅件转换")
    secret = "欧阳娜娜低保边缘户需要临时救助金"
    ref = st.file("走访.docx", docx_bytes("行政文书", secret), category="XZ", title="行政文书")
    req = _approved(st, [ref])
    res = st.as_("wang").access.view(req.no, ref, tmp_path / "doc.pdf")
    assert secret in "".join(pdf_text(res.path.read_bytes()))
    # only the (empty) locked staging sessions of the open archives remain
    assert [p for p in (home / "vault" / "tmp").rglob("*")
            if p.is_file() and not p.name.endswith(".lock")] == []
    assert scan_tree(home, [secret, "欧阳娜娜"]) == []


def test_a_copy_of_an_image_is_a_numbered_pdf_and_the_name_must_match(st: Station, items,
                                                                     tmp_path) -> None:
    """A review copied a Word record with `-o 复制件.pdf` (the help's example) and got the
    Word file under a .pdf name, with no copy number on it. Word documents and images are
    now copied as PDFs carrying their number, like PDFs; the output name must say what it is."""
    req = _approved(st, [items["png"], items["txt"]], allow_copy=True)
    w = st.as_("wang")
    with pytest.raises(ValidationError, match=r"\.pdf 结尾"):
        w.access.copy(req.no, items["png"], tmp_path / "照片.png")
    with pytest.raises(ValidationError, match=r"\.txt 结尾"):
        w.access.copy(req.no, items["txt"], tmp_path / "说明.pdf")
    assert w.access.show(req.no)["copies"] == []  # refused before a number was taken
    c = w.access.copy(req.no, items["png"], tmp_path / "照片复制件.pdf")
    data = (tmp_path / "照片复制件.pdf").read_bytes()
    assert data.startswith(b"%PDF") and c.copy.format == "application/pdf"
    assert f"复制件编号{c.copy.no}" in pdf_text(data)[0]
    # a folder that does not exist: NotFound (exit 3, as for `get`), and no number taken
    before = len(w.access.show(req.no)["copies"])
    with pytest.raises(NotFound, match="目标文件夹不存在"):
        w.access.copy(req.no, items["png"], tmp_path / "没有这个文件夹" / "c.pdf")
    assert len(w.access.show(req.no)["copies"]) == before
    # into a folder: named by request and 档号
    c2 = w.access.copy(req.no, items["png"], tmp_path)
    assert c2.path.name.endswith(".pdf") and c2.path.name.startswith(req.no)


def test_a_destroyed_record_cannot_be_requested_or_approved(st: Station, items) -> None:
    """A review registered and approved an outside request for a destroyed record; only the
    view copy was refused. Now the register refuses it, and the head cannot approve a request
    whose record was destroyed since it was registered."""
    head = st.as_("zhangsan")
    gone, kept = items["xz"], items["xz2"]
    pending = _request(st, [gone, kept])
    batch = head.disposal.propose([gone], appraisal_note="重复件")
    head.disposal.approve(batch.id)
    head.disposal.execute(batch.id, witnesses=["wang", "赵敏"])
    with pytest.raises(Conflict, match="已销毁"):
        _request(st, [gone], user="zhangsan")  # her session holds the keys after the shred
    with pytest.raises(Conflict, match="登记后销毁"):
        head.access.approve(pending.no)
    assert head.access.show(pending.no)["status"] == "pending"


def test_a_session_opened_before_a_destruction_is_told_to_sign_in_again(st: Station,
                                                                       items) -> None:
    """A destruction rotates the compartment's keys. A colleague who unlocked before it (a
    web session, say) then held older keys than the data and was told "第 2 代密钥已被轮换
    销毁", as if something were damaged: she is told to sign in again, and after that works."""
    head, wang = st.as_("zhangsan"), st.as_("wang")
    gone, kept = items["xz"], items["xz2"]
    batch = head.disposal.propose([gone], appraisal_note="重复件")
    head.disposal.approve(batch.id)
    head.disposal.execute(batch.id, witnesses=["wang", "赵敏"])
    with pytest.raises(Conflict, match="重新登录"):
        _request(st, [kept])  # wang files the letter into the rotated compartment
    st._open.pop("wang").close()  # type: ignore[attr-defined]
    assert _request(st, [kept]).status == "pending"
    assert wang is not st.as_("wang")
