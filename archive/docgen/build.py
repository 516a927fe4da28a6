"""Build `template.docx` from `body.md` + `manifest.toml`, deterministically.

Usage: python -m archive.docgen.build [--check] [--root DIR] [ID...]
Fixed zip timestamps and part order make the output byte-stable, so a template change shows up
in review as a body.md diff and the committed .docx can be checked against its source.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from archive.docgen import ooxml
from archive.docgen.colwidth import column_floor
from archive.docgen.manifest import (
    BODY_FILE,
    DOCX_FILE,
    Manifest,
    default_templates_dir,
    load_manifest,
    template_folders,
)
from archive.docgen.markup import Block, Para, Row, Table, parse_body
from archive.errors import ArchiveError, NotFound

ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _runs(text: str) -> str:
    """Text → runs; `<br>` becomes a line break. Jinja tags stay whole inside one run."""
    parts = text.split("<br>")
    out = []
    for i, part in enumerate(parts):
        if i:
            out.append("<w:r><w:br/></w:r>")
        if part:
            out.append(f'<w:r><w:t xml:space="preserve">{escape(part)}</w:t></w:r>')
    return "".join(out)


_CHAPTER = re.compile(r"^第[一二三四五六七八九十百零〇]+章")


def _para(p: Para, keep_next: bool = False) -> str:
    style = ooxml.STYLE_OF[p.kind]
    if p.kind == "h1" and _CHAPTER.match(p.text):
        style = "SgzChapter"           # 第X章 centred, as 规章制度 are set in GB/T 9704 practice
    keep = "<w:keepNext/>" if keep_next else ""
    ppr = f'<w:pPr><w:pStyle w:val="{style}"/>{keep}</w:pPr>'
    if p.kind == "pagebreak":
        return f'<w:p>{ppr}<w:r><w:br w:type="page"/></w:r></w:p>'
    return f"<w:p>{ppr}{_runs(p.text)}</w:p>"


def _col_widths(table: Table, total: int, floors: list[int] | None = None) -> list[int]:
    """Column widths in twips that add up to `total` when the declared widths allow.

    Declared `{w=}` widths are raised to what the content type needs (`floors`: dates, 档号,
    names, choices must never wrap); automatic columns share what is left, each at least its
    floor (and 8 mm). If the floors leave too little, free-text columns shrink first.
    """
    n = len(table.widths_mm)
    floors = floors or [0] * n
    minimum = ooxml.mm(8)
    widths = [max(ooxml.mm(w), floors[i]) if w else 0 for i, w in enumerate(table.widths_mm)]
    auto = [i for i, w in enumerate(table.widths_mm) if not w]
    pending = list(auto)
    while pending:
        rest = max(total - sum(widths[i] for i in range(n) if i not in pending), 0)
        each = rest // len(pending)
        short = [i for i in pending if floors[i] > each]
        if not short:
            for i in pending:
                widths[i] = max(each, minimum)
            widths[pending[-1]] += max(rest - each * len(pending), 0) if each >= minimum else 0
            break
        for i in short:
            widths[i] = floors[i]
            pending.remove(i)
    over = sum(widths) - total
    if over > 0:
        # free-text columns (no floor) give back width, down to 8 mm each
        for i in sorted(range(n), key=lambda k: -widths[k]):
            if over <= 0:
                break
            if floors[i] == 0 and widths[i] > minimum:
                cut = min(over, widths[i] - minimum)
                widths[i] -= cut
                over -= cut
    if over > 0:
        scale = total / sum(widths)
        widths = [int(w * scale) for w in widths]
    return widths


def _row_xml(row: Row, widths: list[int], aligns: list[str], header: bool,
             below: list[bool]) -> str:
    """One table row; `below[i]` says the cell under column i merges up into this one."""
    trpr = ""
    if row.height_mm:
        trpr += f'<w:trHeight w:val="{ooxml.mm(row.height_mm)}" w:hRule="atLeast"/>'
    if header:
        trpr += "<w:tblHeader/>"
    trpr = f"<w:trPr><w:cantSplit/>{trpr}</w:trPr>"
    cells = []
    i = 0
    n = len(row.cells)
    while i < n:
        cell = row.cells[i]
        span = 1
        while i + span < n and row.cells[i + span].merge == "left":
            span += 1
        width = sum(widths[i:i + span])
        tcpr = f'<w:tcW w:w="{width}" w:type="dxa"/>'
        if span > 1:
            tcpr += f'<w:gridSpan w:val="{span}"/>'
        if cell.merge == "up":
            tcpr += "<w:vMerge/>"
        elif below[i]:
            tcpr += '<w:vMerge w:val="restart"/>'
        tcpr += '<w:vAlign w:val="center"/>'
        style = "SgzTableHead" if header else "SgzTable"
        jc = "center" if header else aligns[i]
        ppr = f'<w:pPr><w:pStyle w:val="{style}"/><w:jc w:val="{jc}"/></w:pPr>'
        cells.append(f"<w:tc><w:tcPr>{tcpr}</w:tcPr><w:p>{ppr}{_runs(cell.text)}</w:p></w:tc>")
        i += span
    return f"<w:tr>{trpr}{''.join(cells)}</w:tr>"


def _table(table: Table, lay: ooxml.Layout, manifest: Manifest | None = None) -> str:
    floors = [column_floor(table, i, lay.table.size_pt, manifest)
              for i in range(len(table.widths_mm))]
    widths = _col_widths(table, lay.text_width_twips, floors)
    grid = "".join(f'<w:gridCol w:w="{w}"/>' for w in widths)
    total = sum(widths)
    tblpr = (f'<w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="{total}" w:type="dxa"/>'
             '<w:jc w:val="center"/><w:tblLayout w:type="fixed"/>'
             '<w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" w:firstColumn="1" '
             'w:lastColumn="0" w:noHBand="0" w:noVBand="1"/></w:tblPr>')
    all_rows = [table.header, *table.rows]
    rows = []
    for k, row in enumerate(all_rows):
        nxt = all_rows[k + 1] if k + 1 < len(all_rows) else None
        below = [bool(nxt and nxt.cells[i].merge == "up") for i in range(len(row.cells))]
        rows.append(_row_xml(row, widths, table.aligns, k == 0, below))
    # an empty paragraph after each table keeps consecutive tables apart (Word merges them)
    return (f"<w:tbl>{tblpr}<w:tblGrid>{grid}</w:tblGrid>{''.join(rows)}</w:tbl>"
            '<w:p><w:pPr><w:pStyle w:val="SgzPlain"/></w:pPr></w:p>')


def _keep_flags(blocks: list[Block]) -> list[bool]:
    """keep-with-next for the paragraph(s) before a 落款 (right-aligned) block, so the station
    name and date never stand alone on the last page; `{%p %}` tag paragraphs, which docxtpl
    removes, are skipped over. Likewise the closing block of an agreement or form (its last
    run of `<<` lines: signatures, 签订日期) is kept together and with the paragraph before
    it (a review found 签订日期 alone on a sixth page)."""
    flags = [False] * len(blocks)
    closing = _closing_run(blocks)
    if closing:
        first, last = closing
        for k in range(first, last):
            flags[k] = True
    for i, b in enumerate(blocks):
        if not (isinstance(b, Para) and b.kind == "right"):
            continue
        j = i - 1
        while j >= 0 and isinstance(blocks[j], Para) and blocks[j].kind == "tag":  # type: ignore[union-attr]
            j -= 1
        if j >= 0 and isinstance(blocks[j], Para):
            flags[j] = True
            for k in range(j + 1, i):
                flags[k] = True
    return flags


def _closing_run(blocks: list[Block]) -> tuple[int, int] | None:
    """(first, last) block indexes of the document's closing block: the trailing run of `<<`
    paragraphs (tags in it included) and the body paragraph just before it; None when the
    document does not end with one, or only one line would be kept (nothing to hold)."""
    end = len(blocks) - 1
    while end >= 0 and isinstance(blocks[end], Para) and blocks[end].kind == "tag":  # type: ignore[union-attr]
        end -= 1
    start = end
    while start >= 0 and isinstance(blocks[start], Para) and blocks[start].kind in (  # type: ignore[union-attr]
            "plain", "tag"):
        start -= 1
    start += 1
    if start > end or not any(isinstance(b, Para) and b.kind == "plain" for b in blocks[start:end + 1]):
        return None
    if start > 0 and isinstance(blocks[start - 1], Para) and blocks[start - 1].kind == "body":  # type: ignore[union-attr]
        start -= 1
    return (start, end) if end > start else None


def document_xml(blocks: list[Block], lay: ooxml.Layout, manifest: Manifest | None = None) -> str:
    keep = _keep_flags(blocks)
    body = "".join(_para(b, keep[i]) if isinstance(b, Para) else _table(b, lay, manifest)
                   for i, b in enumerate(blocks))
    return (f'{ooxml.XML_HEAD}<w:document xmlns:w="{ooxml.W_NS}" xmlns:r="{ooxml.R_NS}">'
            f"<w:body>{body}{ooxml.sect_pr(lay)}</w:body></w:document>")


def build_docx(manifest: Manifest, body_text: str) -> bytes:
    """Render body.md markup into a docxtpl-ready .docx (bytes), byte-for-byte reproducible."""
    if manifest.layout not in ooxml.LAYOUTS:
        raise ArchiveError(f"模板 {manifest.id} 的版式“{manifest.layout}”不由 body.md 生成")
    lay = ooxml.LAYOUTS[manifest.layout]
    blocks = parse_body(body_text)
    footers = 2 if lay.odd_even_footers else 1
    parts = [
        ("[Content_Types].xml", ooxml.content_types_xml(footers)),
        ("_rels/.rels", ooxml.root_rels_xml()),
        ("docProps/core.xml", ooxml.core_xml(manifest.title, manifest.id, manifest.clause)),
        ("docProps/app.xml", ooxml.app_xml()),
        ("word/_rels/document.xml.rels", ooxml.document_rels_xml(footers)),
        ("word/document.xml", document_xml(blocks, lay, manifest)),
        ("word/styles.xml", ooxml.styles_xml(lay)),
        ("word/settings.xml", ooxml.settings_xml(lay)),
        ("word/fontTable.xml", ooxml.font_table_xml()),
        ("word/footer1.xml", ooxml.footer_xml(lay, "odd")),
    ]
    if footers == 2:
        parts.append(("word/footer2.xml", ooxml.footer_xml(lay, "even")))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in parts:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0o644 << 16
            zf.writestr(info, text.encode("utf-8"), compresslevel=9)
    return buf.getvalue()


def build_template(folder: Path) -> bytes:
    """Build the .docx for one template folder from its manifest and body.md."""
    manifest = load_manifest(folder)
    body = Path(folder) / BODY_FILE
    if not body.is_file():
        raise NotFound(f"找不到 {body}")
    return build_docx(manifest, body.read_text(encoding="utf-8"))


def buildable_folders(root: Path) -> list[Path]:
    """Template folders that have a body.md (the plaque, for one, has none)."""
    return [p for p in template_folders(root) if (p / BODY_FILE).is_file()]


def main(argv: list[str] | None = None) -> int:
    """CLI: (re)build template.docx for the given ids (default: all); --check only compares."""
    ap = argparse.ArgumentParser(prog="python -m archive.docgen.build",
                                 description="由 body.md 生成 template.docx")
    ap.add_argument("ids", nargs="*", help="模板 id（默认全部）")
    ap.add_argument("--root", type=Path, default=None, help="模板目录（默认仓库 templates/）")
    ap.add_argument("--check", action="store_true", help="只检查已提交的 template.docx 是否最新")
    args = ap.parse_args(argv)
    root = args.root or default_templates_dir()
    folders = [root / i for i in args.ids] if args.ids else buildable_folders(root)
    failed = stale = 0
    for folder in folders:
        try:
            data = build_template(folder)
        except ArchiveError as exc:
            print(f"{folder.name}: 错误：{exc}", file=sys.stderr)
            failed += 1
            continue
        target = folder / DOCX_FILE
        current = target.read_bytes() if target.is_file() else b""
        if current == data:
            print(f"{folder.name}: 已是最新", file=sys.stderr)
        elif args.check:
            print(f"{folder.name}: template.docx 与 body.md 不一致，请运行 make templates",
                  file=sys.stderr)
            stale += 1
        else:
            target.write_bytes(data)
            print(f"{folder.name}: 已生成 {target}", file=sys.stderr)
    return 1 if failed or stale else 0


if __name__ == "__main__":
    sys.exit(main())
