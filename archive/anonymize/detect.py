"""Find and mask personal data in Chinese text (附件2 八.8: reports to employer leaders).

Detects ID numbers (18-digit, checksum noted but invalid ones masked too; 15-digit old IDs),
mobile and landline phones, bank card numbers, street addresses and names (those the caller
knows, plus names after markers such as 姓名： or 服务对象). Masking keeps the surname or
the first and last digits so a reader can still tell entries apart: 张**,
2201**********1234, 138****5678, addresses → ***.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞"
    "左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕"
    "屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧"
    "闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容",
                     "长孙", "宇文", "司徒", "夏侯", "令狐", "端木", "独孤", "南宫", "呼延")

# Characters that end a name: a field label or a word that follows a name in forms.
_AFTER_NAME = set("性男女的是在于和与及等同为，,。；;：:、（()） \t\n")
_AFTER_NAME_WORDS = ("家住", "家庭", "民族", "出生", "身份", "电话", "住址", "住在", "年龄", "今年",
                     "联系", "户籍", "手机", "证件", "老人", "阿姨", "大爷", "上门")
_HAN = "\u4e00-\u9fff"

_ID18 = re.compile(r"(?<![0-9A-Za-z])\d{6}(?:19|20)\d{2}[01]\d[0-3]\d\d{3}[\dXx](?![0-9A-Za-z])")
_DIGIT18 = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_ID15 = re.compile(r"(?<![0-9A-Za-z])\d{15}(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?![0-9A-Za-z])")
_LANDLINE = re.compile(r"(?<![0-9A-Za-z])0\d{2,3}[- ]?\d{7,8}(?![0-9A-Za-z])")
_BANK = re.compile(r"(?<![0-9A-Za-z])\d(?:[ ]?\d){15,18}(?![0-9A-Za-z])")

_PLACE = f"[{_HAN}]"
_NUM = r"[0-9一二三四五六七八九十百零]+"
_ADDRESS = re.compile(
    rf"(?:{_PLACE}{{2,3}}?(?:省|自治区))?"
    rf"(?:{_PLACE}{{2,4}}?(?:市|州|盟))?"
    rf"(?:{_PLACE}{{1,4}}?(?:区|县|旗))?"
    rf"(?:{_PLACE}{{1,4}}?(?:镇|乡|街道))?"
    rf"(?P<low>"
    rf"(?:{_PLACE}{{1,5}}?(?:村|社区|小区|屯|花园|家园|新村))?"
    rf"(?:{_NUM}组)?"
    rf"(?:{_PLACE}{{1,6}}?(?:路|街|巷|大道|胡同))?"
    rf"(?:{_NUM}(?:号楼|号|栋|幢))?(?:{_NUM}单元)?(?:{_NUM}(?:室|户))?"
    rf")"
)
_ADDRESS_PREFIX = set("家住在于现居址地为是的：:，, 位")
_LOW_LEVEL = re.compile(r"(?:村|社区|小区|屯|花园|家园|新村|组|路|街|巷|大道|胡同|号|栋|幢|单元|室|户)")

_NAME_MARKERS = re.compile(
    rf"(?:姓名|服务对象|案主|户主|申请人|监护人|联系人|家属|老人|求助人|受助人)"
    rf"(?:[（(][^）)\n]{{0,12}}[）)])?[:：]?\s*(?P<n>[{_HAN}]{{2,4}})")
_NAME_BEFORE = re.compile(
    rf"(?P<n>[{_HAN}]{{2,3}})(?=老人|阿姨|大爷|大娘|奶奶|爷爷|女士|先生|同学|小朋友)")


@dataclass(frozen=True)
class Span:
    """One piece of personal data in a text: [start, end), its kind and its mask."""

    start: int
    end: int
    kind: str  # a PERSON_KINDS kind, place, id, phone, landline, bank, address
    text: str
    valid: bool | None = None  # ID checksum result, None where not applicable

    @property
    def mask(self) -> str:
        return mask_value(self.kind, self.text)


def id_checksum_ok(value: str) -> bool:
    """GB 11643 check digit of an 18-character resident ID number."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(value[:17], weights, strict=True))
    return "10X98765432"[total % 11] == value[17].upper()


# client: household/client names from the catalogue; staff: station staff and volunteers;
# extra: --names; field: names the document's own person fields gave; name: found by a marker
# such as 姓名：; given: the given name of a known person on its own (masked whole).
PERSON_KINDS = ("client", "staff", "extra", "field", "name", "given")
KIND_ZH = {"client": "服务对象及家庭成员姓名", "staff": "工作人员姓名", "extra": "指定姓名",
           "field": "文档字段中的姓名", "name": "其他识别出的姓名", "given": "单独出现的名字",
           "place": "村（社区）名", "id": "身份证号", "phone": "手机号", "landline": "固定电话",
           "bank": "银行卡号", "address": "住址"}


def mask_value(kind: str, text: str) -> str:
    """The replacement for one span."""
    if kind == "given":
        return "*" * len(text)
    if kind == "place":
        suffix = next((x for x in ("社区", "村", "屯") if text.endswith(x)), "")
        return "*" * (len(text) - len(suffix)) + suffix
    if kind in PERSON_KINDS:
        keep = 2 if text[:2] in COMPOUND_SURNAMES and len(text) > 2 else 1
        return text[:keep] + "*" * (len(text) - keep)
    if kind == "address":
        return "***"
    digits = [i for i, ch in enumerate(text) if ch.isdigit() or ch in "Xx"]
    head_n, tail_n = {"id": (4, 4), "bank": (4, 4), "phone": (3, 4), "landline": (3, 4)}[kind]
    area = re.match(r"(0\d{2,3})[- ]", text)
    if kind == "landline" and area:  # keep the area code where it is marked off
        head_n = len(area.group(1))
    hidden = set(digits[head_n:len(digits) - tail_n])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(text))


def _trim_name(name: str, following: str) -> str:
    """Cut a captured name where a field label or a following word starts."""
    window = name + following
    for i, ch in enumerate(name):
        if i >= 2 and (ch in _AFTER_NAME or window[i:i + 2] in _AFTER_NAME_WORDS):
            return name[:i]
    if len(name) == 4 and name[:2] not in COMPOUND_SURNAMES:
        return name[:3]
    return name


_NOT_NAME_WORDS = {"关系", "姓名", "性别", "年龄", "电话", "住址", "签字", "签名", "情况", "信息"}


def _looks_like_name(name: str) -> bool:
    return len(name) >= 2 and name not in _NOT_NAME_WORDS and (name[0] in SURNAMES or name[:2] in COMPOUND_SURNAMES) and not (
        set(name[1:]) & _AFTER_NAME)


def _given_name(name: str) -> str | None:
    """The given name of a full name (孙桂芝 → 桂芝, 司马蓝锦 → 蓝锦), if it has two characters."""
    keep = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 3 else 1
    given = name[keep:]
    return given if len(given) >= 2 and name[0] in SURNAMES + "".join(COMPOUND_SURNAMES) else None


def _names(text: str, people: Mapping[str, Iterable[str]]) -> list[Span]:
    out: list[Span] = []
    for kind, names in people.items():
        for name in sorted({n.strip() for n in names if n and n.strip()}, key=len,
                           reverse=True):
            for m in re.finditer(re.escape(name), text):
                out.append(Span(m.start(), m.end(), kind, name))
            given = _given_name(name)
            if given:
                for m in re.finditer(re.escape(given), text):
                    out.append(Span(m.start(), m.end(), "given", given))
    for rx in (_NAME_MARKERS, _NAME_BEFORE):
        for m in rx.finditer(text):
            name = _trim_name(m.group("n"), text[m.end("n"):m.end("n") + 2])
            if _looks_like_name(name):
                out.append(Span(m.start("n"), m.start("n") + len(name), "name", name))
    return out


def _places(text: str, places: Iterable[str]) -> list[Span]:
    out: list[Span] = []
    for place in sorted({p.strip() for p in places if p and len(p.strip()) >= 2}, key=len,
                        reverse=True):
        out += [Span(m.start(), m.end(), "place", place)
                for m in re.finditer(re.escape(place), text)]
    return out


def _addresses(text: str) -> list[Span]:
    out: list[Span] = []
    for m in _ADDRESS.finditer(text):
        s, e = m.span()
        if e - s < 4 or not m.group("low") or not _LOW_LEVEL.search(m.group("low")):
            continue
        while s < e and text[s] in _ADDRESS_PREFIX:
            s += 1
        parts = len(re.findall(r"省|自治区|市|州|盟|区|县|旗|镇|乡|街道|村|社区|组|路|街|巷|号|栋|单元|室",
                               text[s:e]))
        if parts >= 2:
            out.append(Span(s, e, "address", text[s:e]))
    return out


def find_pii(text: str, known_names: Iterable[str] = (), *,
             people: Mapping[str, Iterable[str]] | None = None,
             places: Iterable[str] = ()) -> list[Span]:
    """Every piece of personal data in `text`, non-overlapping, in order.

    `known_names` are masked as kind "extra"; `people` maps a PERSON_KINDS kind to the names
    known for it; `places` are village/community names. Where candidates overlap the
    earlier, then longer one wins (an ID number is never also read as a bank card, a house
    number never cut in half); at the same span a known kind beats a guessed one.
    """
    kinds: dict[str, list[str]] = {k: list(v) for k, v in (people or {}).items()}
    kinds.setdefault("extra", []).extend(known_names)
    cands: list[Span] = []
    for m in _ID18.finditer(text):
        cands.append(Span(*m.span(), "id", m.group(), id_checksum_ok(m.group())))
    for m in _DIGIT18.finditer(text):
        cands.append(Span(*m.span(), "id", m.group(), id_checksum_ok(m.group())))
    for m in _ID15.finditer(text):
        cands.append(Span(*m.span(), "id", m.group()))
    for rx, kind in ((_MOBILE, "phone"), (_LANDLINE, "landline"), (_BANK, "bank")):
        cands += [Span(*m.span(), kind, m.group()) for m in rx.finditer(text)]
    cands += _addresses(text)
    cands += _places(text, places)
    cands += _names(text, kinds)
    priority = {"id": 0, "phone": 1, "landline": 2, "bank": 3, "address": 4, "client": 5,
                "staff": 6, "extra": 7, "field": 8, "place": 9, "name": 10, "given": 11}
    cands.sort(key=lambda sp: (sp.start, -(sp.end - sp.start), priority[sp.kind]))
    out: list[Span] = []
    for sp in cands:
        if out and sp.start < out[-1].end:
            continue
        out.append(sp)
    return out


def mask_text(text: str, known_names: Iterable[str] = (), *,
              people: Mapping[str, Iterable[str]] | None = None,
              places: Iterable[str] = ()) -> tuple[str, list[Span]]:
    """`text` with every span of `find_pii` replaced by its mask, and the spans."""
    spans = find_pii(text, known_names, people=people, places=places)
    parts: list[str] = []
    pos = 0
    for sp in spans:
        parts += [text[pos:sp.start], sp.mask]
        pos = sp.end
    parts.append(text[pos:])
    return "".join(parts), spans
