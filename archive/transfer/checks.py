"""四性检测 (DA/T 70—2018) of a transfer package, with no station keys: run by the exporter on
what it wrote and by `sgz transfer verify` on the receiving side.

真实性: package structure, XML valid against the shipped schemas, metadata values well formed
and consistent (catalogue ↔ package ↔ 档号), every digest (SHA-256 and SM3) of every file.
完整性: every catalogue entry has its package and files; 件号 gap-free per lowest class, except
numbers the 移交登记表 declares not transferred; no file outside the manifests.
可用性: XML readable; formats on the allowed list and opening; no encryption, no archives;
the long-term rendition is PDF/A-2b. 安全性: virus scan where ClamAV is installed (else
reported as not done), export approved and reasoned. Every failure names the 件 and the file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import shutil
import subprocess
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
from lxml import etree
from PIL import Image

from archive.catalog.numbering import ArchivalRef
from archive.errors import ValidationError
from archive.pdf.pdfa import check_pdfa
from archive.transfer.model import (
    CATALOGUE,
    MANIFESTS,
    NS,
    OTHER_DIR,
    README,
    RECORDS_DIR,
    REGISTER,
    REGISTER_DOCX,
    REPORT_TXT,
    REPORT_XML,
    SCHEMAS,
    file_digests,
)

PROPERTIES = ("真实性", "完整性", "可用性", "安全性")
ALLOWED = {".pdf", ".ofd", ".docx", ".xlsx", ".odt", ".jpg", ".jpeg", ".png", ".tif", ".tiff",
           ".txt", ".xml"}
ARCHIVE_MAGIC = (b"PK\x03\x04", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # encrypted OOXML is wrapped in OLE
_N = f"{{{NS}}}"
_PARSER = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True)


@dataclass(frozen=True)
class Finding:
    prop: str  # one of PROPERTIES
    check: str
    status: str  # 通过 / 不通过 / 未检测
    message: str
    ref: str = ""  # 档号
    file: str = ""


@dataclass
class Report:
    root: Path
    findings: list[Finding] = field(default_factory=list)
    records: int = 0
    files: int = 0
    digests: dict[str, dict[str, str]] = field(default_factory=dict)  # rel path → computed

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "不通过"]

    @property
    def ok(self) -> bool:
        return not self.failures

    def add(self, prop: str, check: str, ok: bool, message: str, ref: str = "",
            file: str = "") -> None:
        self.findings.append(Finding(prop, check, "通过" if ok else "不通过", message, ref, file))


def _schema(root: Path, key: str, rep: Report) -> etree.XMLSchema | None:
    path = root / OTHER_DIR / SCHEMAS[key]
    try:
        return etree.XMLSchema(etree.parse(str(path), _PARSER))
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as e:
        rep.add("真实性", "模式文件", False, f"模式文件无法读取：{type(e).__name__}",
                file=f"{OTHER_DIR}/{SCHEMAS[key]}")
        return None


def _parse(path: Path, schema: etree.XMLSchema | None, rep: Report, ref: str = ""
           ) -> etree._ElementTree | None:
    rel = path.relative_to(rep.root).as_posix()
    try:
        tree = etree.parse(str(path), _PARSER)
    except (OSError, etree.XMLSyntaxError) as e:
        rep.add("可用性", "XML可读", False, f"XML 无法解析：{str(e)[:120]}", ref, rel)
        return None
    if schema is not None and not schema.validate(tree):
        err = schema.error_log.last_error
        rep.add("真实性", "XML模式校验", False, f"不符合模式：{err.message if err else ''}"[:200],
                ref, rel)
    return tree


def _inside(root: Path, rel: str) -> bool:
    """A relative path from the package that stays inside it (no .., no absolute path)."""
    if not rel or rel.startswith(("/", "\\")) or ":" in rel:
        return False
    try:
        (root / rel).resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _structure(root: Path, rep: Report) -> bool:
    need = [README, CATALOGUE, RECORDS_DIR, f"{OTHER_DIR}/{REGISTER}",
            *(f"{OTHER_DIR}/{x}" for x in SCHEMAS.values()),
            *(f"{OTHER_DIR}/{m}" for m in MANIFESTS.values())]
    missing = [n for n in need if not (root / n).exists()]
    rep.add("真实性", "封装结构", not missing,
            "目录结构完整" if not missing else f"缺少：{'、'.join(missing)}")
    return not missing


def _ref_of(rel: str) -> str:
    parts = rel.split("/")
    return parts[3] if len(parts) > 4 and parts[0] == RECORDS_DIR else ""


def _manifests(root: Path, rep: Report) -> None:
    listed: dict[str, dict[str, str]] = defaultdict(dict)
    for alg, name in MANIFESTS.items():
        for line in (root / OTHER_DIR / name).read_text("utf-8").splitlines():
            if line.strip():
                hexd, _, rel = line.partition("  ")
                listed[rel][alg] = hexd
    skip = {*(f"{OTHER_DIR}/{m}" for m in MANIFESTS.values()),
            f"{OTHER_DIR}/{REPORT_XML}", f"{OTHER_DIR}/{REPORT_TXT}",
            f"{OTHER_DIR}/{REGISTER_DOCX}"}
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - skip
    bad = 0
    for rel, want in sorted(listed.items()):
        ref = _ref_of(rel)
        if not _inside(root, rel):
            rep.add("真实性", "路径", False, "摘要清单中的路径指向包外", ref, rel)
            bad += 1
            continue
        path = root / rel
        if not path.is_file():
            rep.add("完整性", "文件齐全", False, "清单中的文件缺失", ref, rel)
            bad += 1
            continue
        got, _ = file_digests(path)
        rep.digests[rel] = got
        for alg, hexd in want.items():
            if got[alg] != hexd:
                rep.add("真实性", f"{alg}摘要", False,
                        f"{alg} 摘要不符：应为 {hexd[:16]}…，实为 {got[alg][:16]}…", ref, rel)
                bad += 1
    for rel in sorted(present - listed.keys()):
        rep.add("真实性", "清单外文件", False, "文件不在摘要清单中", _ref_of(rel), rel)
        bad += 1
    rep.files = len(listed)
    if not bad:
        rep.add("真实性", "数字摘要", True, f"{len(listed)} 个文件的 SHA-256 与 SM3 摘要全部相符")


def _eep_path(el: etree._Element, *tags: str) -> str:
    cur: etree._Element | None = el
    for t in tags:
        cur = cur.find(_N + t) if cur is not None else None
    return (cur.text or "") if cur is not None else ""


def _usable(path: Path, rep: Report, ref: str, fmt: str) -> None:
    rel = path.relative_to(rep.root).as_posix()
    suffix = path.suffix.lower()
    if suffix not in ALLOWED:
        rep.add("可用性", "格式", False, f"格式不在允许范围：{suffix}", ref, rel)
        return
    head = path.open("rb").read(8)
    if head.startswith(OLE_MAGIC):
        rep.add("可用性", "无加密", False, "文件为加密或旧式复合文档", ref, rel)
        return
    try:
        if suffix == ".pdf":
            with pikepdf.open(path) as pdf:
                if pdf.is_encrypted:
                    rep.add("可用性", "无加密", False, "PDF 已加密", ref, rel)
                    return
            if fmt == "PDF/A-2b":
                res = check_pdfa(path)
                if not res.passed:
                    rep.add("可用性", "PDF/A-2b", False,
                            "长期保存版本未通过 PDF/A-2b 检查：" + "；".join(res.findings[:3]),
                            ref, rel)
        elif suffix in (".docx", ".xlsx", ".odt"):
            with zipfile.ZipFile(path) as z:
                if z.testzip() is not None:
                    raise ValueError("zip member damaged")
        elif suffix in (".jpg", ".jpeg", ".png", ".tif", ".tiff"):
            with Image.open(path) as img:
                img.verify()
        elif any(head.startswith(m) for m in ARCHIVE_MAGIC):
            rep.add("可用性", "无压缩", False, "文件是压缩包", ref, rel)
    except (pikepdf.PdfError, zipfile.BadZipFile, OSError, ValueError, SyntaxError) as e:
        rep.add("可用性", "可打开", False, f"文件无法打开：{type(e).__name__}", ref, rel)


def _record(root: Path, entry: etree._Element, eep_schema: etree.XMLSchema | None,
            rep: Report) -> tuple[ArchivalRef | None, str]:
    ref = entry.findtext("档号") or ""
    try:
        parsed: ArchivalRef | None = ArchivalRef.parse(ref)
    except ValidationError:
        rep.add("真实性", "档号格式", False, "档号格式不正确", ref)
        parsed = None
    eep_rel = entry.findtext("电子档案名称") or ""
    if not _inside(root, eep_rel):
        rep.add("真实性", "路径", False, "电子档案名称指向包外", ref, eep_rel)
        return parsed, ref
    eep = root / eep_rel
    if not eep.is_file():
        rep.add("完整性", "电子档案齐全", False, "文件目录列出的电子档案缺失", ref, eep_rel)
        return parsed, ref
    tree = _parse(eep, eep_schema, rep, ref)
    if tree is None:
        return parsed, ref
    ent = tree.getroot().find(f".//{_N}文件实体")
    if ent is None:
        rep.add("真实性", "封装结构", False, "封装包缺少文件实体", ref, eep_rel)
        return parsed, ref
    pairs = [("档号", ref, _eep_path(ent, "电子文件号")),
             ("题名", entry.findtext("题名") or "", _eep_path(ent, "内容描述", "题名")),
             ("责任者", entry.findtext("责任者") or "", _eep_path(ent, "内容描述", "责任者")),
             ("日期", entry.findtext("日期") or "", _eep_path(ent, "内容描述", "日期"))]
    if parsed is not None:
        pairs += [("年度", str(parsed.year), _eep_path(ent, "档号", "年度")),
                  ("保管期限", parsed.retention, _eep_path(ent, "档号", "保管期限")),
                  ("机构或问题", parsed.cls, _eep_path(ent, "档号", "机构或问题")),
                  ("件号", str(parsed.item), _eep_path(ent, "档号", "件号"))]
    for name, want, got in pairs:
        if want != got:
            rep.add("真实性", "元数据一致", False, f"{name}不一致：目录为“{want}”，封装包为“{got}”",
                    ref, eep_rel)
    for doc in ent.iter(_N + "编码"):
        name = _eep_path(doc, "电子属性", "计算机文件名")
        fmt = _eep_path(doc, "电子属性", "格式信息")
        if "/" in name or "\\" in name or not _inside(eep.parent, name):
            rep.add("真实性", "路径", False, f"计算机文件名不合规：{name[:60]}", ref, eep_rel)
            continue
        rel = (eep.parent / name).relative_to(root).as_posix()
        declared = {d.get("算法"): (d.text or "") for d in doc.findall(_N + "数字摘要")}
        try:
            data = base64.b64decode(_eep_path(doc, "编码数据"), validate=True)
        except (binascii.Error, ValueError):
            rep.add("真实性", "封装数据", False, "编码数据不是有效的 Base64", ref, rel)
            continue
        embedded = {"SHA-256": hashlib.sha256(data).hexdigest(),
                    "SM3": hashlib.new("sm3", data).hexdigest()}
        if embedded != declared or str(len(data)) != _eep_path(doc, "电子属性", "计算机文件大小"):
            rep.add("真实性", "封装数据摘要", False, "封装包内编码数据与其声明的摘要或大小不符",
                    ref, rel)
        path = eep.parent / name
        if not path.is_file():
            rep.add("完整性", "文件齐全", False, "封装包声明的文件缺失", ref, rel)
            continue
        loose = rep.digests.get(rel) or file_digests(path)[0]  # hashed once by the manifest pass
        if loose != declared:
            rep.add("真实性", "文件摘要", False, "文件与封装包声明的摘要不符", ref, rel)
        _usable(path, rep, ref, fmt)
    return parsed, ref


def _gaps(refs: list[ArchivalRef], absent: set[str], rep: Report) -> None:
    by: dict[tuple[str, str, int, str, str], set[int]] = defaultdict(set)
    for r in refs:
        by[(r.fonds, r.genre, r.year, r.retention, r.cls)].add(r.item)
    for a in absent:
        try:
            r = ArchivalRef.parse(a)
        except ValidationError:
            rep.add("真实性", "档号格式", False, "登记表中未移交档号格式不正确", a)
            continue
        by[(r.fonds, r.genre, r.year, r.retention, r.cls)].add(r.item)
    missing = []
    for key, items in sorted(by.items()):
        for n in range(1, max(items) + 1):
            if n not in items:
                missing.append(str(ArchivalRef(*key, n)))
    for ref in missing:
        rep.add("完整性", "件号连续", False, "件号中断：该件既未移交也未在登记表中说明", ref)
    if not missing:
        rep.add("完整性", "件号连续", True, f"{len(by)} 个最低一级类目的件号连续")


def _security(root: Path, register: etree._ElementTree | None, rep: Report) -> None:
    clam = shutil.which("clamscan")
    if clam is None:
        rep.findings.append(Finding("安全性", "病毒检测", "未检测",
                                    "本机未安装 ClamAV（clamscan），请在接收端用杀毒软件检测"))
    else:
        proc = subprocess.run([clam, "-r", "--no-summary", "--infected", str(root)],
                              capture_output=True, text=True, check=False)
        rep.add("安全性", "病毒检测", proc.returncode == 0,
                "未发现病毒" if proc.returncode == 0 else proc.stdout.strip()[:300])
    if register is not None:
        r = register.getroot()
        ok = bool((r.findtext("移交事由") or "").strip() and (r.findtext("批准人") or "").strip())
        rep.add("安全性", "过程安全", ok, "移交事由与批准人已登记" if ok else "缺少移交事由或批准人",
                file=f"{OTHER_DIR}/{REGISTER}")


def verify_package(root: Path) -> Report:
    """Run the four checks on the package at `root`; never raises for a bad package."""
    root = Path(root)
    bag_findings: list[Finding] = []
    if (root / "bagit.txt").is_file():
        from archive.transfer.bag import bag_problems

        problems = bag_problems(root)
        bag_findings = [Finding("真实性", "BagIt", "不通过", msg, _ref_of(path.removeprefix(
            "data/")), path) for path, msg in problems] or [
            Finding("真实性", "BagIt", "通过", "BagIt 包校验通过")]
        root = root / "data"
    rep = Report(root, findings=bag_findings)
    if not _structure(root, rep):
        return rep
    cat_schema = _schema(root, CATALOGUE, rep)
    reg_schema = _schema(root, REGISTER, rep)
    eep_schema = _schema(root, "EEP", rep)
    _manifests(root, rep)
    catalogue = _parse(root / CATALOGUE, cat_schema, rep)
    register = _parse(root / OTHER_DIR / REGISTER, reg_schema, rep)
    absent = {a.get("档号", "") for a in register.getroot().iter("档案")} if register else set()
    refs: list[ArchivalRef] = []
    seen: set[str] = set()
    if catalogue is not None:
        for entry in catalogue.getroot().iter("文件"):
            parsed, ref = _record(root, entry, eep_schema, rep)
            seen.add(ref)
            rep.records += 1
            if parsed is not None:
                refs.append(parsed)
    on_disk = {p.name for p in (root / RECORDS_DIR).glob("*/*/*") if p.is_dir()}
    for extra in sorted(on_disk - seen):
        rep.add("完整性", "目录一致", False, "电子档案文件夹未列入文件目录", extra)
    _gaps(refs, absent, rep)
    _security(root, register, rep)
    if rep.ok:
        rep.add("可用性", "格式与可读", True, f"{rep.records} 件电子档案的 XML 与文件均可读、格式合规、无加密")
    return rep


def write_report(root: Path, rep: Report, *, created_at: str) -> None:
    """其他/四性检测报告.XML and .TXT."""
    x = etree.Element("四性检测报告", {"检测时间": created_at, "结论": "通过" if rep.ok else "不通过"})
    etree.SubElement(x, "电子档案件数").text = str(rep.records)
    etree.SubElement(x, "文件数").text = str(rep.files)
    for f in rep.findings:
        etree.SubElement(x, "检测项", {"性质": f.prop, "项目": f.check, "结果": f.status,
                                    "档号": f.ref, "文件": f.file}).text = f.message
    etree.ElementTree(x).write(str(root / OTHER_DIR / REPORT_XML), encoding="utf-8",
                               xml_declaration=True, pretty_print=True)
    (root / OTHER_DIR / REPORT_TXT).write_text(format_report(rep, created_at), encoding="utf-8")


def format_report(rep: Report, created_at: str = "") -> str:
    lines = [f"四性检测报告（DA/T 70—2018）{created_at}",
             f"电子档案 {rep.records} 件，摘要清单内文件 {rep.files} 个；结论：{'通过' if rep.ok else '不通过'}", ""]
    for prop in PROPERTIES:
        lines.append(f"【{prop}】")
        for f in (f for f in rep.findings if f.prop == prop):
            where = " ".join(x for x in (f.ref, f.file) if x)
            lines.append(f"  [{f.status}] {f.check}：{f.message}" + (f"（{where}）" if where else ""))
    return "\n".join(lines) + "\n"
