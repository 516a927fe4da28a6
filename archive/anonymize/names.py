"""Every name the anonymiser can know, by kind (finding 2).

A name is masked wherever it appears once it is known, so the anonymiser first collects:
the record's household members and clients and the station's staff and volunteers (passed
in by the caller), village and community names (passed in, plus those the text names in
context), names given with --names, and the document's own person fields: the cell beside
or below 姓名/户主/监护人/联系人 in a table and "键：值" lines. Masking then runs over every
part with that list, so 孙桂芝 from the family table is masked in the header and sentences too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from archive.anonymize.detect import COMPOUND_SURNAMES, SURNAMES

_HAN = "\u4e00-\u9fff\u3400-\u4dbf"
# Labels of fields that hold a person's name (table cells, key-value lines, custom properties).
PERSON_LABELS = ("姓名", "户主", "户主姓名", "监护人", "监护人姓名", "联系人", "联系人姓名",
                 "紧急联系人", "服务对象", "服务对象姓名", "案主", "案主姓名", "申请人",
                 "申请人姓名", "求助人", "受助人", "家属", "家属姓名", "配偶", "配偶姓名",
                 "代理人", "委托人", "被走访人", "走访对象", "主要服务对象", "成员姓名",
                 "家庭成员", "老人姓名", "儿童姓名", "学生姓名", "填表人", "记录人", "走访人",
                 "走访社工", "社工", "负责社工", "经办人")
_LABEL_RX = "|".join(sorted((re.escape(x) for x in PERSON_LABELS), key=len, reverse=True))
# label, an optional parenthetical "（主要服务对象）", optional colon, then the value (names
# of minority nationalities in Han characters run to 10 or more: 阿依古丽·买买提)
_KEY_VALUE = re.compile(
    rf"(?<![{_HAN}])(?:{_LABEL_RX})(?P<q>[（(][^）)\n]{{0,12}}[）)])?[ \t]*(?P<c>[:：])?[ \t]*"
    rf"(?P<v>[{_HAN}][{_HAN}·•]{{1,15}})")
LONG_NAME_MAX = 12  # Han characters of a name in a person field (热依汗古丽, 买买提明·艾力)
# a person field in free text: the label with a colon, or at a line start before a space
_FIELD = re.compile(
    rf"(?:(?<=[\n，,；;。])|^)[ \t]*(?:{_LABEL_RX})(?:[（(][^）)\n]{{0,12}}[）)])?(?:[ \t]*[:：]|[ \t]+)"
    rf"|(?<![{_HAN}])(?:{_LABEL_RX})(?:[（(][^）)\n]{{0,12}}[）)])?[ \t]*[:：]", re.MULTILINE)
_NOT_NAMES = {"本人", "户主", "配偶", "子女", "儿子", "女儿", "父亲", "母亲", "孙子", "孙女", "无",
              "暂无", "不详", "同上", "其他", "姓名", "性别", "关系", "年龄", "签字", "签名", "盖章",
              "电话", "住址", "身份", "联系", "男", "女", "汉族", "健康", "良好", "一般", "残疾"}
COLUMN_WORDS = {"性别", "年龄", "与户主关系", "关系", "身份证号", "身份证号码", "公民身份号码",
                "出生年月", "出生日期", "民族", "健康状况", "身体状况", "文化程度", "职业", "联系电话",
                "电话", "手机", "手机号", "备注", "工作单位", "就业情况", "残疾类别", "残疾等级",
                "是否残疾", "残疾证号", "低保类别", "在校情况", "就读学校", "学校", "年级", "序号",
                "住址", "家庭住址", "政治面貌", "婚姻状况", "收入", "月收入", "证件号码", "监护情况"}
_PLACE_STOP = {"新农村", "全村", "本村", "该村", "各村", "农村", "乡村", "城乡社区", "本社区",
               "该社区", "各社区", "所在社区", "所在村", "城市社区", "和谐社区", "进社区",
               "进村", "到村", "在村", "全社区", "农村社区", "乡镇社区", "美丽乡村", "村村"}
# a village/community in context: after 住/在/到/来自/走访 or at a field start, then 2–5 Han
# characters and the suffix, optionally "N组"; the lazy match stops at the first suffix
_PLACE_CONTEXT = re.compile(
    rf"(?:(?<=[住在到自访往于])|(?<=^)|(?<=[\s：:，,、（(]))"
    rf"(?P<p>[{_HAN}]{{2,5}}?(?:社区|村|屯))(?=[0-9一二三四五六七八九十]+组|[^{_HAN}]|村民|委会|"
    rf"居委|民委|$|的|走访|入户|开展|居民|组)")
_PLACE_LEAD = re.compile(r"^(?:家住|现住|住在|居住在|居住|来自|位于|走访|前往|去往|到|在|住|去|于)+")
_TAIL_WORDS = ("走访", "入户", "开展", "居民", "村民", "委会", "居委", "民委")


@dataclass(frozen=True)
class KnownNames:
    """Names the caller knows, by kind; each kind is counted separately in the report."""

    clients: Sequence[str] = ()  # the record's household members and client names (catalogue)
    staff: Sequence[str] = ()  # staff and volunteers (station.toml)
    places: Sequence[str] = ()  # villages and communities of the station's area
    extra: Sequence[str] = ()  # --names

    @classmethod
    def from_station(cls, station: Any, *, clients: Iterable[str] = (),
                     places: Iterable[str] = (), extra: Iterable[str] = ()) -> KnownNames:
        """Staff, head and deputy from a StationProfile; the rest as given."""
        staff = [s.name for s in getattr(station, "staff", ())]
        staff += [getattr(station, k, "") for k in ("head", "deputy")]
        return cls(clients=_clean(clients), staff=_clean(staff), places=_clean(places),
                   extra=_clean(extra))

    def people(self) -> dict[str, list[str]]:
        """Person names by kind: client, staff, extra."""
        return {"client": _clean(self.clients), "staff": _clean(self.staff),
                "extra": _clean(self.extra)}


def _clean(names: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for n in names:
        n = (n or "").strip()
        if len(n) >= 2:
            seen[n] = None
    return list(seen)


def looks_like_person(value: str, *, strict: bool = True) -> bool:
    """A field value that can be a personal name, not a form word.

    `strict` (a label without a colon in running text): 2–4 Han characters starting with a
    known surname, or a name with "·". Otherwise (a table cell under or beside 姓名/户主…, or
    "标签：值"): any 2–12 Han characters, with or without "·": names of minority nationalities
    written in Han characters (热依汗古丽, 阿依古丽·买买提) have no Han surname and run long.
    """
    value = value.strip()
    if not re.fullmatch(rf"[{_HAN}][{_HAN}·•]{{1,15}}", value) or value in _NOT_NAMES:
        return False
    if value in PERSON_LABELS or value in COLUMN_WORDS:
        return False
    dotted = "·" in value or "•" in value
    han = len(value) - value.count("·") - value.count("•")
    if han > LONG_NAME_MAX:
        return False
    if not strict:
        return True
    if dotted:
        return han >= 3
    return han <= 4 and (value[0] in SURNAMES or value[:2] in COMPOUND_SURNAMES)


@dataclass
class Harvest:
    """What a document's own fields say: names and places found, person fields seen."""

    names: dict[str, None] = field(default_factory=dict)
    places: dict[str, None] = field(default_factory=dict)
    fields: int = 0
    unrecognised: int = 0  # filled person fields whose value was not taken for a name

    def add_name(self, value: str, *, strict: bool = True) -> None:
        value = _trim_value(value)
        if looks_like_person(value, strict=strict):
            self.names[value] = None
        elif not strict and value and value not in _NOT_NAMES and value not in PERSON_LABELS \
                and value not in COLUMN_WORDS and re.search(f"[{_HAN}]", value):
            self.unrecognised += 1

    def text(self, text: str) -> None:
        """Key-value lines ("户主（主要服务对象） 孙桂芝", "联系人：王五") and places in context."""
        self.fields += len(_FIELD.findall(text))
        for m in _KEY_VALUE.finditer(text):
            # "户主（主要服务对象）…" or "联系人：…" is a field; a bare label in a sentence is not
            self.add_name(m.group("v"), strict=not (m.group("q") or m.group("c")))
        for m in _PLACE_CONTEXT.finditer(text):
            place = _PLACE_LEAD.sub("", m.group("p"))
            if len(place) >= 3 and place not in _PLACE_STOP and not place.startswith(
                    ("在", "到", "住", "进", "去")):
                self.places[place] = None

    def plain(self, text: str) -> None:
        """Plain or extracted text: key-value lines, and lines read as rows of a table."""
        self.text(text)
        self.table([line.split() for line in text.splitlines()], cells=False)

    def table(self, rows: Sequence[Sequence[str]], *, cells: bool = True) -> None:
        """Cells beside a person label, and every cell under a person-label column header.

        A row holding a person label and another column word (性别, 与户主关系, 年龄…) is a
        header row: the cells below it in the person columns are names (the family table).
        Otherwise a person label's right-hand neighbour is its value (a form).
        """
        columns: set[int] = set()
        width = 0
        for row in rows:
            labels_of = [_label(c) for c in row]
            labels = [i for i, c in enumerate(labels_of) if c in PERSON_LABELS]
            filled = [c for c in labels_of if c]
            header = any(c in COLUMN_WORDS for c in filled) and all(
                c in COLUMN_WORDS or c in PERSON_LABELS for c in filled)
            data_row = bool(columns) and not header and len(row) >= width - 1
            if cells and not data_row:
                self.fields += len(labels)
            if labels and header:
                columns, width = set(labels), len(row)
            elif data_row:
                for i in columns:  # a row of the family table ("户主" in it is a relation)
                    if i < len(row):
                        self.add_name(row[i], strict=not cells)
            elif labels:
                columns = set()
                for i in labels:
                    if i + 1 < len(row) and labels_of[i + 1] not in PERSON_LABELS:
                        self.add_name(row[i + 1], strict=not cells)
            else:
                columns = set()  # the table (or the run of table-like lines) ended
            if cells:
                for cell in row:
                    self.text(cell)

    def people(self, known: KnownNames) -> dict[str, list[str]]:
        """Names to mask by kind: the caller's, then the document's own ("field")."""
        out = known.people()
        given = {n for names in out.values() for n in names}
        out["field"] = [n for n in self.names if n not in given]
        return out

    def all_places(self, known: KnownNames) -> list[str]:
        return _clean([*known.places, *self.places])


def _label(cell: str) -> str:
    return re.sub(r"[\s:：*＊]", "", re.sub(r"[（(][^）)]*[）)]", "", cell))


def _trim_value(value: str) -> str:
    value = value.strip()
    for word in _TAIL_WORDS + ("性别", "电话", "住址", "身份", "联系", "年龄", "民族", "关系"):
        idx = value.find(word, 2)
        if idx >= 2:
            value = value[:idx]
    return value


__all__ = ["PERSON_LABELS", "Harvest", "KnownNames", "looks_like_person"]
