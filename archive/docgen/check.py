"""Check a template after staff edited it in Word or WPS, before it is used to generate.

Reports tags split by formatting or proofing marks, unclosed tags, smart quotes and full-width
symbols inside tags, Jinja syntax errors and unknown names, each with its location.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from lxml import etree

from archive.docgen.manifest import Manifest, get_manifest
from archive.docgen.render import HELPERS, make_env
from archive.errors import ValidationError
from archive.kernel.station import TEMPLATE_KEYS

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MARKS = {"proofErr": "拼写/语法检查标记", "bookmarkStart": "书签", "bookmarkEnd": "书签",
          "commentRangeStart": "批注", "commentRangeEnd": "批注", "ins": "修订（插入）",
          "del": "修订（删除）", "hyperlink": "超链接", "smartTag": "智能标记",
          "fldSimple": "域", "sdt": "内容控件", "permStart": "权限标记"}
_OPEN = {"{{": "}}", "{%": "%}", "{#": "#}"}
_SMART = "“”‘’"
_FULLWIDTH = "｛｝（）｜％＝，．＂＇　"
_JINJA_GLOBALS = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace", "loop"})


@dataclass(frozen=True)
class Problem:
    """One finding: what, where (paragraph or table cell) and the text around it."""

    kind: str
    where: str
    message: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.where}：{self.message}　「{self.excerpt}」"

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "where": self.where, "message": self.message,
                "excerpt": self.excerpt}


@dataclass
class CheckReport:
    template_id: str | None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Tag:
    text: str
    where: str
    excerpt: str


def _excerpt(text: str, start: int, end: int) -> str:
    s = max(0, start - 8)
    return ("…" if s else "") + text[s:end + 8].replace("\n", " ") + ("…" if end + 8 < len(text) else "")


def _location(p: Any, part: str, counters: dict[str, Any]) -> str:
    tc = next((a for a in p.iterancestors(f"{W}tc")), None)
    if tc is None:
        counters["p"] += 1
        return f"{part}第 {counters['p']} 段"
    tr = tc.getparent()
    tbl = tr.getparent()
    row = [e for e in tbl if e.tag == f"{W}tr"].index(tr) + 1
    col = [e for e in tr if e.tag == f"{W}tc"].index(tc) + 1
    if tbl not in counters["tables"]:
        counters["tables"].append(tbl)
    return f"{part}表格 {counters['tables'].index(tbl) + 1} 第 {row} 行第 {col} 列"


def _scan_paragraph(p: Any) -> tuple[str, list[tuple[int, str]], list[tuple[int, str]]]:
    """Text of a paragraph, per-character (run id, format key) and marks (offset, kind)."""
    text: list[str] = []
    owners: list[tuple[int, str]] = []
    marks: list[tuple[int, str]] = []
    run_id = 0
    for el in p.iter():
        if not isinstance(el.tag, str):
            continue
        local = el.tag[len(W):] if el.tag.startswith(W) else ""
        if local == "r":
            run_id += 1
            rpr = el.find(f"{W}rPr")
            key = etree.tostring(rpr, method="c14n").decode() if rpr is not None else ""
            for child in el:
                if child.tag == f"{W}t" and child.text:
                    text.append(child.text)
                    owners += [(run_id, key)] * len(child.text)
                elif child.tag == f"{W}tab":
                    text.append("\t")
                    owners.append((run_id, key))
        elif local in _MARKS:
            marks.append((len("".join(text)), local))
    return "".join(text), owners, marks


def _paragraph_problems(text: str, owners: list[tuple[int, str]], marks: list[tuple[int, str]],
                        where: str, tags: list[_Tag]) -> list[Problem]:
    problems: list[Problem] = []
    for ch in ("｛｛", "｛％", "％｝", "｝｝"):
        i = text.find(ch)
        if i >= 0:
            problems.append(Problem("fullwidth", where, "标签用了全角花括号或百分号，应为半角 { } %",
                                    _excerpt(text, i, i + 2)))
    i = 0
    while True:
        m = re.search(r"\{[{%#]", text[i:])
        if not m:
            break
        start = i + m.start()
        closer = _OPEN[text[start:start + 2]]
        end = text.find(closer, start + 2)
        if end < 0:
            problems.append(Problem("unclosed", where, f"标签没有闭合（缺少 {closer}，或被拆到了下一段）",
                                    _excerpt(text, start, len(text))))
            break
        end += 2
        tag = text[start:end]
        ex = _excerpt(text, start, end)
        tags.append(_Tag(tag, where, ex))
        runs = {owners[k] for k in range(start, end)}
        if len({r[1] for r in runs}) > 1:
            problems.append(Problem("split", where, "标签被不同格式拆开（标签内字体、字号或颜色不一致），"
                                    "请删掉整个标签后一次性重新输入", ex))
        inside = sorted({_MARKS[k] for off, k in marks if start < off < end})
        if inside:
            problems.append(Problem("proofing", where, f"标签中夹有{'、'.join(inside)}，"
                                    "请删掉整个标签后重新输入，或关闭拼写检查", ex))
        if any(c in tag for c in _SMART):
            problems.append(Problem("smart_quote", where, "标签内有中文引号（“ ” ‘ ’），应为英文引号 \" '", ex))
        code = re.sub(r'"[^"]*"|\'[^\']*\'', "", tag)     # string literals may hold anything
        bad = sorted({c for c in code if c in _FULLWIDTH})
        if bad:
            problems.append(Problem("fullwidth", where, f"标签内有全角符号 {' '.join(bad)}，应为半角", ex))
        i = end
    return problems


def _normalise(tag: str) -> str:
    t = tag.replace("\n", " ").replace("\t", " ")
    for q, a in (("“", '"'), ("”", '"'), ("‘", "'"), ("’", "'")):
        t = t.replace(q, a)
    return re.sub(r"^(\{[{%#])(?:p|tr|tc|r)\s", r"\1 ", t)


def _read_parts(path: Path) -> tuple[list[tuple[str, bytes]], str | None]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise ValidationError(f"{path} 不是有效的 .docx 文件") from None
    with zf:
        names = zf.namelist()
        if "word/document.xml" not in names:
            raise ValidationError(f"{path} 不是有效的 .docx 文件（缺少 word/document.xml）")
        parts = [("", zf.read("word/document.xml"))]
        for n in sorted(names):
            m = re.fullmatch(r"word/(header|footer)(\d*)\.xml", n)
            if m:
                label = ("页眉" if m[1] == "header" else "页脚") + (m[2] or "") + " "
                parts.append((label, zf.read(n)))
        ident = None
        if "docProps/core.xml" in names:
            core = etree.fromstring(zf.read("docProps/core.xml"))
            el = core.find("{http://purl.org/dc/elements/1.1/}identifier")
            ident = el.text.strip() if el is not None and el.text else None
    return parts, ident


def check_docx(path: Path, templates_root: Path, template_id: str | None = None) -> CheckReport:
    """Check one .docx template; the manifest comes from `template_id` or the document's id."""
    parts, ident = _read_parts(Path(path))
    report = CheckReport(template_id=None)
    manifest: Manifest | None = None
    chosen = template_id or ident
    if chosen:
        try:
            manifest = get_manifest(templates_root, chosen)
            report.template_id = manifest.id
        except Exception:
            if template_id:
                raise
            report.notes.append(f"文档属性中的模板 id“{ident}”不在模板库中，未检查未知字段")
    else:
        report.notes.append("未能识别这是哪个模板（可用 --template 指定），未检查未知字段")
    tags: list[_Tag] = []
    for label, blob in parts:
        root = etree.fromstring(blob)
        counters: dict[str, Any] = {"p": 0, "tables": []}
        for p in root.iter(f"{W}p"):
            where = _location(p, label, counters)
            text, owners, marks = _scan_paragraph(p)
            report.problems += _paragraph_problems(text, owners, marks, where, tags)
    _check_syntax_and_names(tags, manifest, report)
    return report


def _check_syntax_and_names(tags: list[_Tag], manifest: Manifest | None,
                            report: CheckReport) -> None:
    env = make_env()
    source = "\n".join(_normalise(t.text) for t in tags)
    try:
        ast = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        tag = tags[min(max((exc.lineno or 1) - 1, 0), len(tags) - 1)] if tags else None
        report.problems.append(Problem("syntax", tag.where if tag else "文档",
                                       f"模板语法错误：{exc.message}",
                                       tag.excerpt if tag else ""))
        return
    for t in tags:
        for m in re.finditer(r"\bstation\.([A-Za-z_]\w*)", t.text):
            if m[1] not in TEMPLATE_KEYS:
                report.problems.append(Problem("unknown_field", t.where,
                                               f"站点信息中没有 station.{m[1]}", t.excerpt))
    if manifest is None:
        return
    known = {f.name for f in manifest.fields} | {"station", "today"} | set(HELPERS)
    known |= _JINJA_GLOBALS
    for name in sorted(meta.find_undeclared_variables(ast) - known):
        first = next((t for t in tags if re.search(rf"\b{re.escape(name)}\b", t.text)), None)
        report.problems.append(Problem(
            "unknown_field", first.where if first else "文档",
            f"未知字段 {name}：不在模板“{manifest.title}”的字段和站点信息中",
            first.excerpt if first else name))
