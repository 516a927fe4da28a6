"""Issue 15 wired in: 归档章 renditions at filing (deferred), paper register and prints."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pytest
from conftest import PASS, FixedClock
from openpyxl import load_workbook
from PIL import Image
from test_pdf_stamp import HEIGHT_MM, WIDTH_MM, _red_bbox
from transfer_fixtures import pdf_bytes, scan_bytes

from archive.app import Archive
from archive.errors import AccessDenied, Conflict, UsageError, ValidationError

needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils 未安装")


def _pdfs(make_file: Callable[..., Path], n: int, pages: int = 2) -> list[Path]:
    return [make_file(f"通知{i}.pdf", pdf_bytes(f"关于第{i}号救助的通知", pages)) for i in range(n)]


def _comps(arc: Archive, ref: str) -> list[dict[str, object]]:
    return arc.records.show(ref)["components"]  # type: ignore[no-any-return]


@needs_poppler
def test_filing_stamps_first_n_then_pending_then_stamp_run(
        arc: Archive, make_file: Callable[..., Path], tmp_path: Path) -> None:
    paths = _pdfs(make_file, 3)
    originals = [p.read_bytes() for p in paths]
    res = arc.records.file(paths[:1], category="FW", year=2026, retention="D30", index=False,
                           archive_pdf_now=1)  # a few: at once
    res += arc.records.file(paths[1:], category="FW", year=2026, retention="D30", index=False,
                            archive_pdf_now=1)  # more than the limit: all pending
    st = arc.archival.status()
    assert (st["done"], st["pending"]) == (1, 2)
    assert any("sgz stamp --pending" in n and "2 件" in n for n in arc.maintenance.check().notes)
    seen: list[str] = []
    out = arc.archival.run(progress=lambda i, n, ref: seen.append(f"{i}/{n} {ref}"))
    assert [o.ok for o in out] == [True, True] and seen[-1].startswith("2/2")
    assert arc.archival.status()["pending"] == 0 and not any(
        "sgz stamp" in n for n in arc.maintenance.check().notes)

    ref = res[1].ref
    comps = _comps(arc, ref)
    assert [c["kind"] for c in comps] == ["正文", "归档PDF"]
    # the original is untouched: same bytes out, and the full fixity check passes
    orig = arc.records.get(ref, tmp_path / "orig.pdf", reason="核对原件")
    assert orig.read_bytes() == originals[1]
    rep = arc.maintenance.check(read_data=True)  # filed without indexing: only that is reported
    assert rep.read == 6 and [p.code for p in rep.problems if not p.code.startswith("index")] == []
    stamped = arc.records.get(ref, tmp_path / "stamped.pdf", reason="核对归档章", component=2)
    with pikepdf.open(stamped) as pdf:
        meta = json.loads(str(pdf.docinfo["/SgzArchiveStamp"]))
        assert len(pdf.pages) == 2
    assert meta == {"全宗号": "Z001", "年度": "2026", "件号": "0002", "机构问题": "服务",
                    "保管期限": "30年", "页数": "2"}
    info = arc.archival.stamp_info(ref)
    assert info is not None and info["item_no"] == "0002" and info["pages"] == 2
    assert arc.records.show(ref)["pages"] == 2  # the stamp's 页数 is catalogue metadata too
    # the stamp is at the top centre of page 1, the fonts are embedded
    subprocess.run(["pdftoppm", "-r", "100", "-f", "1", "-l", "1", "-png", str(stamped),
                    str(tmp_path / "p")], check=True)
    png = next(tmp_path.glob("p-*.png"))
    bbox = _red_bbox(png)
    assert bbox is not None
    px_mm, width = 100 / 25.4, Image.open(png).width
    left, top, right, bottom = bbox
    assert abs((left + right) / 2 - width / 2) < 2 * px_mm and top < 12 * px_mm
    assert abs((right - left) - WIDTH_MM * px_mm) < 2 * px_mm
    assert abs((bottom - top) - HEIGHT_MM * px_mm) < 2 * px_mm
    fonts = subprocess.run(["pdffonts", str(stamped)], check=True, capture_output=True,
                           text=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts
    # read through the door, audited; nothing left in the staging session folder
    hist = arc.audit.history(action="record.archive_pdf")
    assert {h["ref"] for h in hist} == {r.ref for r in res}
    assert not list(arc.kernel.objects.session_dir().rglob("*"))


def test_correction_makes_the_rendition_pending_again(arc: Archive,
                                                      make_file: Callable[..., Path]) -> None:
    [p] = _pdfs(make_file, 1)
    ref = arc.records.file([p], category="XZ", year=2026, index=False, archive_pdf_now=5)[0].ref
    assert arc.archival.state(arc.kernel.records.get(ref)) == "done"
    fix = make_file("更正稿.pdf", pdf_bytes("关于救助的通知（更正）", 1))
    arc.records.file([fix], of=ref, reason="更正笔误", index=False)
    assert arc.archival.state(arc.kernel.records.get(ref)) == "pending"
    [o] = arc.archival.run()
    assert o.ok and o.pages == 1
    assert [c["kind"] for c in _comps(arc, ref)] == ["正文", "归档PDF", "更正版本", "归档PDF"]


def test_library_filing_defers_everything(arc: Archive,
                                         make_file: Callable[..., Path]) -> None:
    res = arc.records.file(_pdfs(make_file, 2), category="XZ", year=2026, index=False)
    assert [c["kind"] for c in _comps(arc, res[0].ref)] == ["正文"]
    assert arc.archival.status()["pending"] == 2


def test_unrenderable_and_failed(arc: Archive, make_file: Callable[..., Path]) -> None:
    txt = make_file("说明.txt", "纯文本说明")
    bad = make_file("坏.pdf", b"%PDF-1.4\n% not really a pdf\n" + b"x" * 200)
    res = arc.records.file([txt, bad], category="XZ", year=2026, index=False, archive_pdf_now=5)
    txt_rec, bad_rec = (arc.kernel.records.get(r.ref) for r in res)
    assert arc.archival.state(txt_rec) == "n/a"
    assert arc.archival.state(bad_rec) == "failed"
    assert any("未能制作" in n for n in arc.maintenance.check().notes)
    assert arc.archival.run() == []  # failed ones are retried only on request
    [o] = arc.archival.run(retry_failed=True)
    assert not o.ok and o.error
    with pytest.raises(Conflict):
        arc.archival.make(txt_rec.ref)


def test_social_worker_stamps_what_they_just_filed_only(
        arc: Archive, make_file: Callable[..., Path], home: Path, clock: FixedClock) -> None:
    arc.users.add("lisi", "social_worker", PASS)
    with Archive.unlock(home, user="lisi", passphrase=PASS, clock=clock) as sw:
        paths = _pdfs(make_file, 2)
        res = sw.records.file(paths[:1], category="FW", year=2026, index=False, archive_pdf_now=1)
        res += sw.records.file(paths[1:], category="FW", year=2026, index=False)
        assert [sw.archival.state(sw.kernel.records.get(r.ref)) for r in res] == ["done", "pending"]
        with pytest.raises(AccessDenied):
            sw.archival.run()
    assert [o.ok for o in arc.archival.run()] == [True]  # the archivist's job


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None and shutil.which("libreoffice") is None,
                    reason="LibreOffice 未安装")
def test_docx_gets_a_pdfa_rendition_and_stays_as_filed(
        arc: Archive, make_file: Callable[..., Path], tmp_path: Path) -> None:
    import io

    import docx

    d = docx.Document()
    d.add_paragraph("入户走访记录")
    buf = io.BytesIO()
    d.save(buf)
    p = make_file("走访记录.docx", buf.getvalue())
    ref = arc.records.file([p], category="FW", year=2026, index=False, archive_pdf_now=5)[0].ref
    assert [c["kind"] for c in _comps(arc, ref)] == ["正文", "归档PDF"]
    got = arc.records.get(ref, tmp_path / "a.docx", reason="核对", component=1)
    assert hashlib.sha256(got.read_bytes()).digest() == hashlib.sha256(buf.getvalue()).digest()
    from archive.pdf.pdfa import check_pdfa
    assert check_pdfa(arc.records.get(ref, tmp_path / "a.pdf", reason="核对", component=2)).passed


# ---------------------------------------------------------------------- paper


def _filed_year(arc: Archive, make_file: Callable[..., Path], n: int = 4) -> list[str]:
    paths = _pdfs(make_file, n, pages=1)
    return [r.ref for r in arc.records.file(paths, category="FW", year=2026, retention="D30",
                                            index=False, archive_pdf_now=0)]


def test_prints_by_suffix_and_boxes_required(arc: Archive, make_file: Callable[..., Path],
                                             tmp_path: Path) -> None:
    refs = _filed_year(arc, make_file)
    with pytest.raises(UsageError):
        arc.paper.print_("封面", tmp_path / "x.docx", year=2026)
    path, n = arc.paper.print_("catalogue", tmp_path / "目录.xlsx", year=2026)
    assert n == 4
    ws = load_workbook(path).worksheets[0]
    cells = [str(c.value) for row in ws.iter_rows() for c in row if c.value]
    assert all(any(r in c for c in cells) for r in refs)
    with pytest.raises(ValidationError, match="未登记盒号"):
        arc.paper.print_("备考表", tmp_path / "备考表.docx", year=2026)
    arc.paper.place(refs[:2], box_no="1", location="档案室 2号柜 第3层")
    arc.paper.place(refs[2:], box_no="2")
    path, n = arc.paper.print_("备考表", tmp_path / "备考表.docx", year=2026, checker="王五")
    assert n == 4 and path.stat().st_size > 0
    path, _ = arc.paper.print_("盒脊", tmp_path / "盒脊.xlsx", year=2026)
    assert path.exists()
    with pytest.raises(ValidationError):  # no silent overwrite
        arc.paper.print_("盒脊", tmp_path / "盒脊.xlsx", year=2026)
    assert {h["detail"]["kind"] for h in arc.audit.history(action="print")} == {
        "catalogue", "备考表", "盒脊"}
    assert len(arc.audit.history(action="paper.place")) == 4


def test_lending_register(arc: Archive, make_file: Callable[..., Path], clock: FixedClock,
                          home: Path) -> None:
    refs = _filed_year(arc, make_file, 2)
    precious = arc.records.file([make_file("珍贵.pdf", pdf_bytes("建站批复", 1))], category="XZ",
                                year=2026, precious=True, index=False)[0].ref
    with pytest.raises(AccessDenied, match="珍贵"):
        arc.paper.lend(precious, borrower="李四", purpose="展览", due="2026-12-10")
    loan = arc.paper.lend(refs[0], borrower="李四", purpose="核对台账", due="2026-12-01", pages=3)
    with pytest.raises(Conflict):
        arc.paper.lend(refs[0], borrower="王五", purpose="核对", due="2026-12-05")
    assert arc.paper.overdue()["overdue"] == []
    clock.advance(days=4)
    assert [x["ref"] for x in arc.paper.overdue()["overdue"]] == [refs[0]]
    with pytest.raises(ValidationError):  # a mismatch needs a note
        arc.paper.return_(loan["id"], pages=2, intact=True)
    back = arc.paper.return_(loan["id"], pages=2, intact=True, note="缺第3页")
    assert back["discrepancy"]
    assert [f.action for f in arc.access.flags()] == ["paper.return"]
    assert [x["id"] for x in arc.paper.overdue()["discrepancies"]] == [loan["id"]]
    arc.users.add("wangwu", "archivist", PASS)
    with Archive.unlock(home, user="wangwu", passphrase=PASS, clock=clock) as a2, \
            pytest.raises(AccessDenied):
        a2.paper.resolve(loan["id"], "已找回")
    arc.paper.resolve(loan["id"], "已找回第3页并归位")
    assert arc.paper.overdue() == {"overdue": [], "discrepancies": []}
    hist = arc.paper.history(refs[0])
    assert len(hist) == 1 and hist[0]["resolution"] == "已找回第3页并归位"
    actions = [h["action"] for h in arc.audit.history(ref=refs[0])]
    assert {"paper.lend", "paper.return", "paper.resolve"} <= set(actions)


def test_scan_component_does_not_change_the_stamped_source(
        arc: Archive, make_file: Callable[..., Path]) -> None:
    [p] = _pdfs(make_file, 1)
    ref = arc.records.file([p], category="FW", year=2026, index=False, archive_pdf_now=5)[0].ref
    assert arc.archival.state(arc.kernel.records.get(ref)) == "done"
    arc.records.file([make_file("扫描.jpg", scan_bytes(3))], of=ref, kind="签字扫描件", index=False)
    assert arc.archival.state(arc.kernel.records.get(ref)) == "done"


# ---------------------------------------------------------------------- transfer (in process)


def test_transfer_export_needs_head_and_reason_and_names_absent(
        arc: Archive, make_file: Callable[..., Path], home: Path, clock: FixedClock,
        tmp_path: Path) -> None:
    refs = _filed_year(arc, make_file, 3)
    arc.users.add("wangwu", "archivist", PASS)
    with Archive.unlock(home, user="wangwu", passphrase=PASS, clock=clock) as a2, \
            pytest.raises(AccessDenied, match="档发"):
        a2.transfer.export(2026, tmp_path / "p", reason="进馆")
    with pytest.raises(AccessDenied, match="事由"):
        arc.transfer.export(2026, tmp_path / "p", reason=" ")
    with pytest.raises(ValidationError):  # never into the encrypted folders
        arc.transfer.export(2026, home / "vault" / "x", reason="进馆")
    assert not (tmp_path / "p").exists()
    seen: list[str] = []
    summary, report = arc.transfer.export(2026, tmp_path / "p", reason="进馆", renditions=False,
                                          progress=lambda i, n, ref: seen.append(ref))
    assert report.ok and summary.records == 3 and seen == refs
    assert arc.transfer.verify(tmp_path / "p").ok


def test_cli_bulk_filing_leaves_stamps_pending(tmp_path: Path) -> None:
    from conftest import run_sgz, sgz_env

    home, src = tmp_path / "station", tmp_path / "src"
    src.mkdir()
    env = sgz_env(home)
    assert run_sgz(["init", "--user", "zhangsan", "--role", "head"], env).returncode == 0
    for i in range(3):
        (src / f"通知{i}.pdf").write_bytes(pdf_bytes(f"通知{i}", 1))
    r = run_sgz(["file", *map(str, sorted(src.iterdir())), "--category", "XZ", "--no-index",
                 "--archive-pdf-now", "2"], env)
    assert r.returncode == 0 and "留待 sgz stamp --pending" in r.stderr, r.stderr
    r = run_sgz(["check"], env)
    assert "有 3 件档案尚未制作" in r.stdout + r.stderr
    r = run_sgz(["stamp", "--pending"], env)
    assert r.returncode == 0 and "[3/3]" in r.stderr and r.stdout.count("第 2 个组件") == 3


def test_a_source_too_big_to_render_is_refused_by_size_without_reading_it(
        arc: Archive, make_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendering holds the whole original in memory: past the cap it is not even opened."""
    import archive.records.archival as archival

    [big] = _pdfs(make_file, 1)
    monkeypatch.setattr(archival, "MAX_SOURCE", big.stat().st_size - 1)
    res = arc.records.file([big], category="XZ", year=2026, index=False, archive_pdf_now=5)
    rec = arc.kernel.records.get(res[0].ref)
    assert arc.archival.state(rec) == "failed"
    assert [c["kind"] for c in _comps(arc, rec.ref)] == ["正文"]
    assert arc.audit.history(action="record.archive_pdf") == []  # the door was not opened
    [failed] = arc.audit.history(action="record.archive_pdf.failed")
    assert "文件过大" in str(failed)
    monkeypatch.setattr(archival, "MAX_SOURCE", big.stat().st_size)
    [o] = arc.archival.run(retry_failed=True)
    assert o.ok
