"""Transfer package (档发〔2012〕7号 layout, DA/T 48 EEP, DA/T 70 四性检测) and its verification."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree
from transfer_fixtures import STATION, demo_year, opener

from archive.errors import Conflict
from archive.transfer import checks
from archive.transfer.model import Absent
from archive.transfer.writer import export_year, write_manifests

WHEN = "2026-12-01T09:00:00"
REF3 = "Z001-WS·2026-D30-FW-0003"


def _export(out: Path, n: int = 6, **kw: object):  # type: ignore[no-untyped-def]
    records, blobs = demo_year(n)
    return export_year(records, opener(blobs), out, station=STATION, year=2026, created_at=WHEN,
                       reason="2026年度档案进馆", approved_by="张三", exported_by="李四",
                       **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("t") / "移交"
    summary, report = _export(out)
    assert summary.problems == [] and summary.records == 6 and summary.files == 18
    assert report.ok, checks.format_report(report)
    return out


def _copy(package: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(package, dst)
    return dst


def test_layout_schemas_and_report(package: Path) -> None:
    item = package / "电子档案" / "2026" / "FW" / REF3
    assert sorted(p.name for p in item.iterdir()) == [
        "01_正文.pdf", "02_签字扫描件.jpg", f"{REF3}.xml", "长期保存版本.pdf"]
    for name in ("说明文件.TXT", "文件目录.XML", "其他/文件目录.xsd", "其他/电子文件封装包.xsd",
                 "其他/移交登记表.XML", "其他/移交登记表.docx", "其他/四性检测报告.XML",
                 "其他/四性检测报告.TXT"):
        assert (package / name).is_file(), name
    schema = etree.XMLSchema(etree.parse(str(package / "其他" / "文件目录.xsd")))
    cat = etree.parse(str(package / "文件目录.XML"))
    assert schema.validate(cat)
    first = cat.getroot()[0]
    assert [c.tag for c in first] == ["顺序号", "档号", "责任者", "题名", "日期", "密级",
                                       "电子档案名称", "备注"]
    eep_schema = etree.XMLSchema(etree.parse(str(package / "其他" / "电子文件封装包.xsd")))
    assert eep_schema.validate(etree.parse(str(item / f"{REF3}.xml"),
                                           etree.XMLParser(huge_tree=True)))
    text = (package / "其他" / "四性检测报告.TXT").read_text("utf-8")
    for prop in ("【真实性】", "【完整性】", "【可用性】", "【安全性】"):
        assert prop in text
    assert "结论：通过" in text
    again = checks.verify_package(package)
    assert again.ok and again.records == 6


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="sha256sum 不可用")
def test_receiver_checks_digests_with_coreutils(package: Path) -> None:
    proc = subprocess.run(["sha256sum", "--quiet", "-c", "其他/manifest-sha256.txt"],
                          cwd=package, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_flipped_byte_is_named(package: Path, tmp_path: Path) -> None:
    pkg = _copy(package, tmp_path)
    target = pkg / "电子档案" / "2026" / "FW" / REF3 / "02_签字扫描件.jpg"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    rep = checks.verify_package(pkg)
    assert not rep.ok
    hits = {(f.check, f.ref) for f in rep.failures}
    assert ("SHA-256摘要", REF3) in hits and ("SM3摘要", REF3) in hits
    assert ("文件摘要", REF3) in hits
    assert all(f.ref == REF3 for f in rep.failures)


def test_tampered_embedded_data_and_metadata(package: Path, tmp_path: Path) -> None:
    pkg = _copy(package, tmp_path)
    eep = pkg / "电子档案" / "2026" / "FW" / REF3 / f"{REF3}.xml"
    raw = eep.read_bytes()
    i = raw.index(b"<\xe7\xbc\x96\xe7\xa0\x81\xe6\x95\xb0\xe6\x8d\xae>") + 40  # inside 编码数据
    swap = b"B" if raw[i:i + 1] != b"B" else b"C"
    eep.write_bytes(raw[:i] + swap + raw[i + 1:])
    cat = pkg / "文件目录.XML"
    cat.write_text(cat.read_text("utf-8").replace("工作的通知（5）", "工作的通知（五）"),
                   "utf-8")
    write_manifests(pkg)  # a forger who also rewrites the manifests
    rep = checks.verify_package(pkg)
    hits = {(f.check, f.ref) for f in rep.failures}
    assert ("封装数据摘要", REF3) in hits
    assert ("元数据一致", "Z001-WS·2026-D30-FW-0005") in hits


def test_missing_item_is_named(package: Path, tmp_path: Path) -> None:
    pkg = _copy(package, tmp_path)
    shutil.rmtree(pkg / "电子档案" / "2026" / "FW" / REF3)
    rep = checks.verify_package(pkg)
    hits = {(f.prop, f.check, f.ref) for f in rep.failures}
    assert ("完整性", "电子档案齐全", REF3) in hits
    assert ("完整性", "文件齐全", REF3) in hits


def test_gap_in_item_numbers_unless_declared(tmp_path: Path) -> None:
    records, blobs = demo_year(5)
    kept = [r for r in records if r.meta.item != 2]
    common = dict(station=STATION, year=2026, created_at=WHEN, reason="进馆", approved_by="张三",
                  exported_by="李四", renditions=False)
    _s, rep = export_year(kept, opener(blobs), tmp_path / "a", **common)  # type: ignore[arg-type]
    assert [(f.check, f.ref) for f in rep.failures] == [("件号连续", "Z001-WS·2026-D30-FW-0002")]
    _s, rep = export_year(kept, opener(blobs), tmp_path / "b",
                          absent=[Absent("Z001-WS·2026-D30-FW-0002", "已销毁（XH-2026-0001）")],
                          **common)  # type: ignore[arg-type]
    assert rep.ok, checks.format_report(rep)


def test_refuses_non_empty_target_and_wrong_year(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("x")
    with pytest.raises(Conflict):
        _export(tmp_path / "x", 1)
    records, blobs = demo_year(1)
    with pytest.raises(Conflict):
        export_year(records, opener(blobs), tmp_path / "y", station=STATION, year=2025,
                    created_at=WHEN, reason="r", approved_by="a", exported_by="b")


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice 未安装")
def test_docx_record_gets_stamped_pdfa_rendition(tmp_path: Path) -> None:
    import io

    import docx
    from paper_fixtures import demo_items

    from archive.pdf.pdfa import check_pdfa
    from archive.transfer.model import Component, TransferRecord

    meta = demo_items(1)[0]
    d = docx.Document()
    d.add_paragraph("关于开展困难群众走访慰问工作的通知")
    buf = io.BytesIO()
    d.save(buf)
    rec = TransferRecord(meta, (Component(1, "正文", "通知.docx"),))
    summary, rep = export_year([rec], opener({(meta.ref, 1): buf.getvalue()}), tmp_path / "p",
                               station=STATION, year=2026, created_at=WHEN, reason="进馆",
                               approved_by="张三", exported_by="李四")
    assert summary.problems == [] and rep.ok, checks.format_report(rep)
    pdf = tmp_path / "p" / "电子档案" / "2026" / "FW" / meta.ref / "长期保存版本.pdf"
    assert check_pdfa(pdf.read_bytes()).passed
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    assert "Z001" in text and "0001" in text and "服务" in text
    assert not (tmp_path / "p" / ".sgz-work").exists()


def test_bagit_wrapping_validates_and_catches_a_flip(package: Path, tmp_path: Path) -> None:
    from archive.transfer.bag import make_bag

    pkg = _copy(package, tmp_path)
    make_bag(pkg, STATION, year=2026)
    assert (pkg / "bagit.txt").is_file() and (pkg / "data" / "文件目录.XML").is_file()
    rep = checks.verify_package(pkg)
    assert rep.ok and rep.findings[0].check == "BagIt", checks.format_report(rep)
    target = pkg / "data" / "电子档案" / "2026" / "FW" / REF3 / "01_正文.pdf"
    data = bytearray(target.read_bytes())
    data[100] ^= 0x20
    target.write_bytes(bytes(data))
    rep = checks.verify_package(pkg)
    bag = [f for f in rep.failures if f.check == "BagIt"]
    assert bag and all(f.ref == REF3 for f in bag)
    assert any(f.check == "SHA-256摘要" and f.ref == REF3 for f in rep.failures)


def test_paths_leaving_the_package_are_refused(package: Path, tmp_path: Path) -> None:
    pkg = _copy(package, tmp_path)
    (tmp_path / "secret.txt").write_text("outside")
    cat = pkg / "文件目录.XML"
    text = cat.read_text("utf-8")
    first = f"电子档案/2026/FW/{REF3}/{REF3}.xml"
    cat.write_text(text.replace(first, "../secret.txt"), "utf-8")
    with (pkg / "其他" / "manifest-sha256.txt").open("a", encoding="utf-8") as f:
        f.write("0" * 64 + "  ../secret.txt\n")
    rep = checks.verify_package(pkg)
    hits = {(f.check, f.ref) for f in rep.failures}
    assert ("路径", REF3) in hits and ("路径", "") in hits


def test_crash_leaves_only_a_partial_that_the_next_run_replaces(tmp_path: Path) -> None:
    records, blobs = demo_year(2)
    calls = {"n": 0}
    good = opener(blobs)

    def flaky(rec, comp):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk unplugged")
        return good(rec, comp)

    out = tmp_path / "pkg"
    common = dict(station=STATION, year=2026, created_at=WHEN, reason="r", approved_by="a",
                  exported_by="b", renditions=False)
    with pytest.raises(OSError):
        export_year(records, flaky, out, **common)  # type: ignore[arg-type]
    assert not out.exists() and (tmp_path / "pkg.partial" / ".sgz-partial").is_file()
    _s, rep = export_year(records, good, out, **common)  # type: ignore[arg-type]
    assert rep.ok and out.is_dir() and not (tmp_path / "pkg.partial").exists()
    assert not (out / ".sgz-partial").exists()
