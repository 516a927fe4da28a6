"""Write a year's transfer package on the medium layout of 档发〔2012〕7号 附件2.

```
OUT/说明文件.TXT
OUT/文件目录.XML
OUT/电子档案/<年度>/<问题代码>/<档号>/<档号>.xml      DA/T 48 EEP (files embedded, Base64)
                                    /01_正文.docx …     components as filed (decrypted)
                                    /长期保存版本.pdf     PDF/A-2b rendition with the 归档章
OUT/其他/文件目录.xsd, 电子文件封装包.xsd, 移交登记表.xsd, 移交登记表.XML,
        manifest-sha256.txt, manifest-sm3.txt, 四性检测报告.XML/.TXT
```
Plaintext comes only through the caller's `open` callback (the audited plaintext door); this
module never touches keys. The 四性检测 report is produced by running `checks.verify_package`
on what was written, the same code the receiving side runs.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from archive.errors import ArchiveError, Conflict
from archive.pdf import pdfa
from archive.pdf.stamp import StampFields, stamp_pdf
from archive.transfer import checks
from archive.transfer.eep import Document, write_eep
from archive.transfer.model import (
    CATALOGUE,
    CHUNK,
    MANIFESTS,
    OTHER_DIR,
    README,
    RECORDS_DIR,
    REGISTER,
    REGISTER_DOCX,
    SCHEMA_DIR,
    SCHEMAS,
    Absent,
    Digests,
    ExportSummary,
    Opener,
    Station,
    TransferRecord,
    file_digests,
)
from archive.transfer.register_doc import register_docx

RENDITION = "长期保存版本.pdf"
PARTIAL_MARK = ".sgz-partial"
_FORMATS = {".pdf": "PDF", ".docx": "DOCX（OOXML）", ".doc": "DOC", ".xlsx": "XLSX（OOXML）",
            ".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF",
            ".ofd": "OFD", ".txt": "TXT", ".odt": "ODT"}


def fmt_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return _FORMATS.get(suffix, suffix.lstrip(".").upper() or "未知")


def _safe(part: str) -> str:
    """A file-name fragment without separators or characters Windows refuses."""
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", part)


def item_dir(out: Path, rec: TransferRecord) -> Path:
    m = rec.meta
    return out / RECORDS_DIR / str(m.year) / m.cls / m.ref


def _copy_component(src: BinaryIO, dst: Path) -> tuple[dict[str, str], int]:
    d = Digests()
    with dst.open("xb") as f:
        while block := src.read(CHUNK):
            d.update(block)
            f.write(block)
    return d.hex(), d.size


def _rendition(rec: TransferRecord, station: Station, first: Path, idir: Path,
               work: Path) -> Path:
    m = rec.meta
    plain = io.BytesIO()
    pdfa.rendition(first.name, first.read_bytes(), plain, workdir=work)
    out = idir / RENDITION
    with out.open("xb") as f:
        stamp_pdf(plain.getvalue(), f, StampFields(
            fonds=station.fonds, year=str(m.year), item_no=f"{m.item:04d}", org=m.cls_name,
            retention=m.retention))
    return out


def _write_record(out: Path, rec: TransferRecord, station: Station, open_: Opener, *,
                  created_at: str, reason: str, renditions: bool, work: Path,
                  summary: ExportSummary) -> None:
    idir = item_dir(out, rec)
    idir.mkdir(parents=True)
    docs: list[Document] = []
    for comp in sorted(rec.components, key=lambda c: c.seq):
        name = f"{comp.seq:02d}_{_safe(comp.kind)}{_safe(Path(comp.filename).suffix.lower())}"
        with open_(rec, comp) as src:
            digests, size = _copy_component(src, idir / name)
        docs.append(Document(comp.seq, "主文件" if comp.seq == 1 else "附件", comp.filename,
                             fmt_of(name), name, size, digests))
    if renditions and docs:
        try:
            r = _rendition(rec, station, idir / docs[0].name, idir, work)
        except ArchiveError as e:
            summary.problems.append(f"{rec.meta.ref}：未能生成 PDF/A 长期保存版本：{e}")
        else:
            digests, size = file_digests(r)
            docs.append(Document(len(docs) + 1, "长期保存版本", f"{rec.meta.title}（PDF/A-2b）",
                                 "PDF/A-2b", r.name, size, digests, "LibreOffice、pikepdf（sgz）"))
    write_eep(idir / f"{rec.meta.ref}.xml", rec, station, docs, item_dir=idir,
              created_at=created_at, action_desc=reason)
    summary.records += 1
    summary.files += len(docs)
    summary.bytes += sum(d.size for d in docs)


def _catalogue(out: Path, records: Sequence[TransferRecord], station: Station, year: int) -> None:
    root = etree.Element("文件目录", {"全宗号": station.fonds, "全宗名称": station.name,
                                    "年度": str(year)})
    for i, rec in enumerate(records, start=1):
        m = rec.meta
        f = etree.SubElement(root, "文件")
        eep = item_dir(Path("."), rec) / f"{m.ref}.xml"
        for tag, value in (("顺序号", i), ("档号", m.ref), ("责任者", m.author), ("题名", m.title),
                           ("日期", m.date), ("密级", m.secrecy),
                           ("电子档案名称", eep.as_posix()), ("备注", m.note)):
            etree.SubElement(f, tag).text = str(value)
    etree.ElementTree(root).write(str(out / CATALOGUE), encoding="utf-8", xml_declaration=True,
                                  pretty_print=True)


def _register(out: Path, station: Station, year: int, summary: ExportSummary, *,
              reason: str, approved_by: str, exported_by: str, created_at: str,
              absent: Sequence[Absent]) -> None:
    root = etree.Element("移交登记表")
    for tag, value in (
            ("交接工作名称", f"{station.name}{year}年度电子档案移交"),
            ("移交单位", station.name), ("接收单位", station.archive_name),
            ("全宗号", station.fonds), ("年度", year),
            ("内容描述", f"{year}年度文书类电子档案及其元数据、PDF/A-2b长期保存版本"),
            ("移交电子档案数量", summary.records), ("移交文件数量", summary.files),
            ("移交数据量", summary.bytes), ("移交事由", reason), ("批准人", approved_by),
            ("填表人", exported_by), ("填表时间", created_at)):
        etree.SubElement(root, tag).text = str(value)
    missing = etree.SubElement(root, "未移交件号")
    for a in absent:
        etree.SubElement(missing, "档案", {"档号": a.ref, "原因": a.reason})
    etree.SubElement(root, "技术方法说明").text = (
        "电子档案已解密、未压缩；每件一个DA/T 48封装包（XML，UTF-8，含Base64编码的文件数据、DA/T 46元数据、"
        "SHA-256与SM3数字摘要）；长期保存版本为PDF/A-2b并加盖归档章；全部文件的摘要见其他/manifest-*.txt。")
    etree.ElementTree(root).write(str(out / OTHER_DIR / REGISTER), encoding="utf-8",
                                  xml_declaration=True, pretty_print=True)


def _readme(out: Path, station: Station, year: int, summary: ExportSummary, created_at: str,
            absent: Sequence[Absent]) -> None:
    lines = [
        f"{station.name}（全宗号 {station.fonds}）{year}年度电子档案移交说明",
        "",
        f"生成时间：{created_at}",
        f"电子档案：{summary.records} 件，文件 {summary.files} 个，共 {summary.bytes} 字节。",
        f"未移交件号：{len(absent)} 个（见 其他/{REGISTER}）。",
        "",
        "目录结构（依据《电子档案移交与接收办法》档发〔2012〕7号 附件2）：",
        f"  {CATALOGUE}：文件级目录（顺序号、档号、责任者、题名、日期、密级、电子档案名称、备注），UTF-8 编码；",
        f"  {RECORDS_DIR}/年度/问题代码/档号/：每件一个文件夹，内含 DA/T 48 封装包（档号.xml）、",
        f"    按归档时原样解密的文件，以及加盖归档章的 PDF/A-2b 长期保存版本（{RENDITION}）；",
        f"  {OTHER_DIR}/：XML 模式文件（.xsd）、移交登记表、全部文件的 SHA-256 与 SM3 摘要清单、四性检测报告。",
        "",
        "说明：文件已解密，无加密、无压缩；封装包未做电子签名，完整性以 SHA-256 和 SM3 摘要核验。",
        "模式文件由 sgz 按 DA/T 48—2009、DA/T 46—2009 与档发〔2012〕7号所列元素编写，并非官方发布的模式文件。",
        "接收方可用任一 XML 校验工具按 其他/*.xsd 校验，并用 sha256sum 核对 manifest-sha256.txt。",
    ]
    (out / README).write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")


def write_manifests(out: Path) -> None:
    """manifest-sha256.txt / manifest-sm3.txt (`<hex>  <path>`, as sha256sum reads them)."""
    skip = {PARTIAL_MARK, *(f"{OTHER_DIR}/{m}" for m in MANIFESTS.values()),
            f"{OTHER_DIR}/{checks.REPORT_XML}", f"{OTHER_DIR}/{checks.REPORT_TXT}",
            f"{OTHER_DIR}/{REGISTER_DOCX}"}
    lines: dict[str, list[str]] = {alg: [] for alg in MANIFESTS}
    for p in sorted(x for x in out.rglob("*") if x.is_file()):
        rel = p.relative_to(out).as_posix()
        if rel in skip:
            continue
        digests, _ = file_digests(p)
        for alg in MANIFESTS:
            lines[alg].append(f"{digests[alg]}  {rel}\n")
    for alg, name in MANIFESTS.items():
        (out / OTHER_DIR / name).write_text("".join(lines[alg]), encoding="utf-8")


def export_year(records: Sequence[TransferRecord], open_: Opener, out: Path, *,
                station: Station, year: int, created_at: str, reason: str, approved_by: str,
                exported_by: str, absent: Sequence[Absent] = (), renditions: bool = True,
                ) -> tuple[ExportSummary, checks.Report]:
    """Write the package for `year` into the empty or new folder `out`; return the summary and
    the 四性检测 report (also written into 其他/).

    Written into `<out>.partial` and renamed at the end, so a crash never leaves a package that
    looks whole; a leftover `.partial` of ours is removed by the next run.
    """
    final = Path(out)
    if final.exists() and any(final.iterdir()):
        raise Conflict(f"目标文件夹不是空的：{final}", ref=str(final))
    records = sorted(records, key=lambda r: (r.meta.retention, r.meta.cls, r.meta.item))
    wrong = [r.meta.ref for r in records if r.meta.year != year]
    if wrong:
        raise Conflict(f"以下档案不属于{year}年度：{'、'.join(wrong[:5])}", details=wrong)
    part = final.with_name(final.name + ".partial")
    if part.exists():
        if not (part / PARTIAL_MARK).is_file():
            raise Conflict(f"{part} 已存在但不是 sgz 留下的未完成移交包；请移走后重试", ref=str(part))
        shutil.rmtree(part)
    (part / OTHER_DIR).mkdir(parents=True)
    (part / PARTIAL_MARK).write_bytes(b"")
    (part / RECORDS_DIR).mkdir()
    work = part / ".sgz-work"
    work.mkdir()
    summary = ExportSummary(final)
    try:
        for rec in records:
            _write_record(part, rec, station, open_, created_at=created_at, reason=reason,
                          renditions=renditions, work=work, summary=summary)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _catalogue(part, records, station, year)
    for xsd in SCHEMAS.values():
        shutil.copyfile(SCHEMA_DIR / xsd, part / OTHER_DIR / xsd)
    _register(part, station, year, summary, reason=reason, approved_by=approved_by,
              exported_by=exported_by, created_at=created_at, absent=absent)
    _readme(part, station, year, summary, created_at, absent)
    write_manifests(part)
    (part / PARTIAL_MARK).unlink()
    report = checks.verify_package(part)
    checks.write_report(part, report, created_at=created_at)
    # the paper form for both sides to sign; outside the manifests like the report it summarises
    (part / OTHER_DIR / REGISTER_DOCX).write_bytes(register_docx(
        station, year, summary, report, reason=reason, approved_by=approved_by,
        exported_by=exported_by, date=created_at[:10]))
    if final.exists():
        final.rmdir()  # empty, checked above
    os.replace(part, final)
    return summary, report
