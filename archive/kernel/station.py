"""The station profile (`station.toml`): plain text the station edits; no secrets, no client data.

Unknown keys are errors naming the key, so a typo never silently drops a setting.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.errors import NotFound, ValidationError
from archive.tomlzh import toml_error

STATION_FILE = "station.toml"

# The guideline's four archive classes (附件2 四(一)); station.toml [classes] may add or rename.
DEFAULT_CLASSES: dict[str, str] = {"XZ": "行政", "FW": "服务", "RS": "人事", "CW": "财务"}

_STATION_KEYS = {
    "fonds": "全宗号",
    "name": "站名",
    "county": "县（市、区）",
    "township": "乡镇（街道）",
    "address": "地址",
    "phone": "电话",
    "head": "站长",
    "deputy": "副站长",
    "contractor": "承接主体",
}
# the `station.*` names a template may use (StationProfile.template_vars)
TEMPLATE_KEYS = frozenset({*_STATION_KEYS, "staff"})
_REQUIRED = ("fonds", "name", "county", "township", "head")
_STAFF_KEYS = {"name", "position", "qualification"}
_TOP_KEYS = {"station", "staff", "classes", "retention", "crypto", "calendar"}  # calendar: archive.docgen.workdays
_FONDS_RE = re.compile(r"^[A-Z0-9]{4}$")
_CODE_RE = re.compile(r"^[A-Z]{2,4}$")

EXAMPLE_TOML = """\
# sgz 站点配置（纯文本，可用记事本编辑；不得写入口令或服务对象信息）
[station]
fonds = "Z001"                                   # 全宗号（4 位，字母或数字）
name = "长春市双阳区奢岭街道社会工作服务站"        # 站名
county = "长春市双阳区"                           # 县（市、区）
township = "奢岭街道"                             # 乡镇（街道）
address = "双阳区奢岭街道民政办公室"               # 地址
phone = "0431-84000000"                          # 电话
head = "张三"                                     # 站长
deputy = "李四"                                   # 副站长
contractor = "长春市双阳区益民社会工作服务中心"     # 承接主体（社会组织）

# 驻站社工（可多条）
[[staff]]
name = "王五"
position = "驻站社工"
qualification = "助理社会工作师"

# 国密：另存 HMAC-SM3 固定性校验值（较慢，约 110 MB/s）
# [crypto]
# sm3 = true

# 档案分类（问题代码 = 名称）；默认即指引附件2 四(一) 的四类
[classes]
XZ = "行政"
FW = "服务"
RS = "人事"
CW = "财务"
"""


@dataclass(frozen=True)
class StaffMember:
    name: str
    position: str = ""
    qualification: str = ""


@dataclass(frozen=True)
class StationProfile:
    fonds: str
    name: str
    county: str
    township: str
    head: str
    address: str = ""
    phone: str = ""
    deputy: str = ""
    contractor: str = ""
    staff: tuple[StaffMember, ...] = ()
    classes: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CLASSES))
    retention: dict[str, Any] = field(default_factory=dict)
    sm3_fingerprint: bool = False  # [crypto] sm3 = true: also keep an HMAC-SM3 fixity value

    def template_vars(self) -> dict[str, Any]:
        """The `station.*` variables templates see."""
        return {
            **{k: getattr(self, k) for k in _STATION_KEYS},
            "staff": [vars(s).copy() for s in self.staff],
        }

    @property
    def is_example(self) -> bool:
        """Still the built-in example station `sgz init` writes (its 全宗号 and name)."""
        return (self.fonds, self.name) == EXAMPLE_IDENTITY

    def class_code(self, text: str) -> str:
        """Accept a 问题 code (`FW`) or its Chinese name (`服务`); return the code."""
        t = text.strip()
        if t.upper() in self.classes:
            return t.upper()
        for code, name in self.classes.items():
            if t == name or t == name + "类" or t == name + "档案":
                return code
        choices = "、".join(f"{c}（{n}）" for c, n in self.classes.items())
        raise ValidationError(f"未知的档案类别“{text}”，可选：{choices}", found=text)


EXAMPLE_IDENTITY = ("Z001", "长春市双阳区奢岭街道社会工作服务站")
EXAMPLE_WARNING = ("注意：station.toml 仍是内置的示例站点（长春市双阳区奢岭街道社会工作服务站，全宗号 Z001），"
                   "生成的文书和归档的档号都会用示例站点的名称和全宗号。请先按本站实际情况修改 "
                   "station.toml（全宗号、站名、县区、乡镇、站长等）。")


def parse_station(data: dict[str, Any], source: str = STATION_FILE) -> StationProfile:
    """Validate a parsed station.toml; report every problem at once."""
    problems: list[str] = []
    for key in data:
        if key not in _TOP_KEYS:
            problems.append(f"未知的配置节 [{key}]")
    st = data.get("station")
    if not isinstance(st, dict):
        raise ValidationError(f"{source} 缺少 [station] 配置节", details=["缺少 [station]"])
    for key in st:
        if key not in _STATION_KEYS:
            problems.append(f"[station] 中有未知的键 {key}")
        elif not isinstance(st[key], str):
            problems.append(f"[station] {key}（{_STATION_KEYS[key]}）必须是文本")
    for key in _REQUIRED:
        if not str(st.get(key, "")).strip():
            problems.append(f"[station] 缺少 {key}（{_STATION_KEYS[key]}）")
    fonds = str(st.get("fonds", ""))
    if fonds and not _FONDS_RE.match(fonds):
        problems.append(f"全宗号“{fonds}”应为 4 位大写字母或数字，例如 Z001")
    staff: list[StaffMember] = []
    for i, s in enumerate(data.get("staff", []) or [], 1):
        if not isinstance(s, dict):
            problems.append(f"[[staff]] 第 {i} 条格式错误")
            continue
        for key in s:
            if key not in _STAFF_KEYS:
                problems.append(f"[[staff]] 第 {i} 条有未知的键 {key}")
        if not str(s.get("name", "")).strip():
            problems.append(f"[[staff]] 第 {i} 条缺少 name")
        staff.append(StaffMember(**{k: str(v) for k, v in s.items() if k in _STAFF_KEYS}))
    classes = dict(DEFAULT_CLASSES)
    if "classes" in data:
        raw = data["classes"]
        if not isinstance(raw, dict) or not raw:
            problems.append("[classes] 必须是“代码 = 名称”的列表")
        else:
            classes = {}
            for code, name in raw.items():
                if not _CODE_RE.match(code) or not isinstance(name, str) or not name:
                    problems.append(f"[classes] 中 {code} 无效：代码应为 2–4 位大写字母，名称为文本")
                else:
                    classes[code] = name
    retention = data.get("retention", {})
    if not isinstance(retention, dict):
        problems.append("[retention] 必须是表")
        retention = {}
    crypto = data.get("crypto", {})
    if not isinstance(crypto, dict):
        problems.append("[crypto] 必须是表")
        crypto = {}
    for key, value in crypto.items():
        if key != "sm3":
            problems.append(f"[crypto] 中有未知的键 {key}")
        elif not isinstance(value, bool):
            problems.append("[crypto] sm3 必须是 true 或 false")
    if problems:
        raise ValidationError(
            f"{source} 有 {len(problems)} 处错误：" + "；".join(problems), details=problems
        )
    return StationProfile(
        fonds=fonds,
        name=st["name"],
        county=st["county"],
        township=st["township"],
        head=st["head"],
        address=st.get("address", ""),
        phone=st.get("phone", ""),
        deputy=st.get("deputy", ""),
        contractor=st.get("contractor", ""),
        staff=tuple(staff),
        classes=classes,
        retention=retention,
        sm3_fingerprint=bool(crypto.get("sm3", False)),
    )


def load_station(path: Path) -> StationProfile:
    """Read and validate a station.toml file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"找不到站点配置文件 {path}") from None
    except UnicodeDecodeError:
        raise ValidationError(f"{path} 不是 UTF-8 编码的文本文件") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{path} 不是有效的 TOML：{toml_error(exc)}") from None
    return parse_station(data, str(path))
