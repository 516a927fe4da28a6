"""The inputs of every paper print: one item (件) as the catalogue shows it, and the fonds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from archive.errors import ValidationError

RETENTION_LABELS = {"Y": "永久", "D30": "30年", "D10": "10年"}


@dataclass(frozen=True)
class Fonds:
    code: str  # 全宗号
    name: str  # 全宗名称 (the station's name)


@dataclass(frozen=True)
class PaperItem:
    """One 件 with the catalogue's columns (DA/T 22—2015) and its paper place."""

    ref: str  # 档号
    year: int
    retention: str  # Y / D30 / D10
    cls: str  # 机构（问题）code, e.g. FW
    cls_name: str  # e.g. 服务
    item: int  # 件号
    title: str
    doc_no: str = ""
    author: str = ""
    date: str = ""  # 8 digits
    secrecy: str = ""
    pages: int | None = None
    note: str = ""
    box_no: str = ""  # 盒号 ('' = not boxed yet)

    @property
    def retention_label(self) -> str:
        return RETENTION_LABELS.get(self.retention, self.retention)


@dataclass(frozen=True)
class Group:
    """Items of one lowest class (年度 + 保管期限 + 机构（问题）), in 件号 order."""

    year: int
    retention: str
    cls: str
    cls_name: str
    items: tuple[PaperItem, ...] = field(default_factory=tuple)

    @property
    def retention_label(self) -> str:
        return RETENTION_LABELS.get(self.retention, self.retention)


_RET_ORDER = {"Y": 0, "D30": 1, "D10": 2}


def group_items(items: Iterable[PaperItem]) -> list[Group]:
    """Split into lowest classes (年度—保管期限—机构（问题）), each in 件号 order."""
    by: dict[tuple[int, str, str], list[PaperItem]] = {}
    names: dict[str, str] = {}
    for it in items:
        by.setdefault((it.year, it.retention, it.cls), []).append(it)
        names[it.cls] = it.cls_name
    keys = sorted(by, key=lambda k: (k[0], _RET_ORDER.get(k[1], 9), k[1], k[2]))
    return [Group(y, r, c, names[c], tuple(sorted(by[(y, r, c)], key=lambda i: i.item)))
            for y, r, c in keys]


@dataclass(frozen=True)
class Box:
    """One archive box: its items (one lowest class only, as DA/T 22 boxes them)."""

    box_no: str
    group: Group

    @property
    def first(self) -> PaperItem:
        return self.group.items[0]

    @property
    def last(self) -> PaperItem:
        return self.group.items[-1]

    @property
    def item_range(self) -> str:
        return f"{self.first.item:04d}—{self.last.item:04d}"

    @property
    def pages(self) -> int:
        return sum(i.pages or 0 for i in self.group.items)


def boxes(items: Iterable[PaperItem]) -> list[Box]:
    """Items grouped by 盒号; a box mixing lowest classes, or an unboxed item, is an error."""
    items = list(items)
    unboxed = [i.ref for i in items if not i.box_no.strip()]
    if unboxed:
        raise ValidationError(f"以下档案尚未装盒（未登记盒号）：{'、'.join(unboxed[:10])}",
                              details=unboxed)
    out: list[Box] = []
    by_box: dict[str, list[PaperItem]] = {}
    for it in items:
        by_box.setdefault(it.box_no, []).append(it)
    for no, its in by_box.items():
        groups = group_items(its)
        if len(groups) != 1:
            raise ValidationError(f"盒 {no} 混装了不同年度、保管期限或机构（问题）的档案", ref=no)
        out.append(Box(no, groups[0]))
    return sorted(out, key=lambda b: (b.group.year, _RET_ORDER.get(b.group.retention, 9),
                                      b.group.cls, b.first.item))
