"""Parse `body.md`, the line-based text source of a template (format in docs/templates.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from archive.errors import ValidationError

PAGEBREAK = "---pagebreak---"
_SEP_CELL = re.compile(r"^\s*(:?)-{3,}(:?)\s*$")
_WIDTH = re.compile(r"\{w=(\d+(?:\.\d+)?)\}")
_HEIGHT = re.compile(r"\{h=(\d+(?:\.\d+)?)\}")
_PARA_TAG = re.compile(r"^\{%p\s.*%\}$")


@dataclass(frozen=True)
class Para:
    """One paragraph: kind is title, subtitle, h1, h2, body, right, plain, tag or pagebreak."""

    kind: str
    text: str
    line: int


@dataclass
class Cell:
    text: str
    merge: str = ""        # "" | "left" (`<`: joins the cell to its left) | "up" (`^`)


@dataclass
class Row:
    cells: list[Cell]
    height_mm: float | None = None


@dataclass
class Table:
    header: Row
    rows: list[Row]
    aligns: list[str]               # per column: left, center, right
    widths_mm: list[float | None]   # per column: fixed width or automatic
    line: int = 0
    loops: list[int] = field(default_factory=list)


Block = Para | Table


def split_cells(line: str) -> list[str]:
    """Split a pipe-table row on `|`, ignoring `\\|` and pipes inside `{{ }}` / `{% %}` tags."""
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    cells, buf, depth, i = [], [], 0, 0
    while i < len(s):
        two = s[i:i + 2]
        if two in ("{{", "{%", "{#"):
            depth += 1
            buf.append(two)
            i += 2
            continue
        if two in ("}}", "%}", "#}") and depth:
            depth -= 1
            buf.append(two)
            i += 2
            continue
        if two == "\\|":
            buf.append("|")
            i += 2
            continue
        if s[i] == "|" and not depth:
            cells.append("".join(buf).strip())
            buf = []
        else:
            buf.append(s[i])
        i += 1
    cells.append("".join(buf).strip())
    return cells


def _parse_table(lines: list[tuple[int, str]]) -> Table:
    first = lines[0][0]
    if len(lines) < 2:
        raise ValidationError(f"第 {first} 行：表格至少要有表头行和分隔行 |---|",
                              details=[f"第 {first} 行：表格缺少分隔行"])
    header_cells = split_cells(lines[0][1])
    sep = split_cells(lines[1][1])
    if not all(_SEP_CELL.match(c) for c in sep):
        raise ValidationError(f"第 {lines[1][0]} 行：表格第二行应为分隔行，如 |---|---|",
                              details=[f"第 {lines[1][0]} 行：缺少分隔行"])
    ncols = len(header_cells)
    if len(sep) != ncols:
        raise ValidationError(f"第 {lines[1][0]} 行：分隔行有 {len(sep)} 列，表头有 {ncols} 列",
                              details=[f"第 {lines[1][0]} 行：列数不一致"])
    aligns = []
    for c in sep:
        m = _SEP_CELL.match(c)
        assert m
        aligns.append("center" if m[1] and m[2] else "right" if m[2] else "left")
    widths: list[float | None] = []
    heads = []
    for c in header_cells:
        m = _WIDTH.search(c)
        widths.append(float(m[1]) if m else None)
        heads.append(_WIDTH.sub("", c).strip())
    header = _row(heads, lines[0][0])
    rows: list[Row] = []
    loops: list[int] = []
    for lineno, text in lines[2:]:
        cells = split_cells(text)
        if len(cells) > ncols:
            raise ValidationError(f"第 {lineno} 行：表格行有 {len(cells)} 列，多于表头的 {ncols} 列",
                                  details=[f"第 {lineno} 行：列数过多"])
        cells += [""] * (ncols - len(cells))
        if cells[0].startswith("{%tr "):
            loops.append(len(rows))
        rows.append(_row(cells, lineno))
    return Table(header=header, rows=rows, aligns=aligns, widths_mm=widths, line=first,
                 loops=loops)


def _row(texts: list[str], lineno: int) -> Row:
    height = None
    cells = []
    for i, t in enumerate(texts):
        m = _HEIGHT.search(t)
        if m:
            height = float(m[1])
            t = _HEIGHT.sub("", t).strip()
        merge = "left" if t == "<" and i > 0 else "up" if t == "^" else ""
        cells.append(Cell(text="" if merge else t, merge=merge))
    return Row(cells=cells, height_mm=height)


def parse_body(text: str) -> list[Block]:
    """Turn body.md text into blocks; raise ValidationError naming the line on bad markup."""
    blocks: list[Block] = []
    lines = text.replace("\r\n", "\n").replace("\ufeff", "").split("\n")
    table: list[tuple[int, str]] = []
    problems: list[str] = []

    def flush() -> None:
        if table:
            try:
                blocks.append(_parse_table(table))
            except ValidationError as exc:
                problems.append(str(exc))
            table.clear()

    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if line.startswith("|"):
            table.append((n, line))
            continue
        flush()
        if not line:
            continue
        if line == PAGEBREAK:
            blocks.append(Para("pagebreak", "", n))
        elif line.startswith("# "):
            if blocks:
                problems.append(f"第 {n} 行：标题（# ）只能有一个，且必须在第一行")
            blocks.append(Para("title", line[2:].strip(), n))
        elif line.startswith("### "):
            blocks.append(Para("h2", line[4:].strip(), n))
        elif line.startswith("## "):
            blocks.append(Para("h1", line[3:].strip(), n))
        elif line.startswith("^ "):
            blocks.append(Para("subtitle", line[2:].strip(), n))
        elif line.startswith("> "):
            blocks.append(Para("right", line[2:].strip(), n))
        elif line.startswith("<< "):
            blocks.append(Para("plain", line[3:].strip(), n))
        elif _PARA_TAG.match(line):
            blocks.append(Para("tag", line, n))
        else:
            blocks.append(Para("body", line, n))
    flush()
    if not blocks or not (isinstance(blocks[0], Para) and blocks[0].kind == "title"):
        problems.insert(0, "第一行必须是标题（# 标题）")
    if problems:
        raise ValidationError("body.md 有错误：\n  - " + "\n  - ".join(problems),
                              details=problems)
    return blocks
