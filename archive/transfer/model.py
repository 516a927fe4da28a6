"""Inputs of a transfer: the station, the year's records with their components, and paths."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from archive.paper.items import PaperItem

NS = "http://www.saac.gov.cn/standards/ERM/encapsulation"
CATALOGUE = "文件目录.XML"
README = "说明文件.TXT"
RECORDS_DIR = "电子档案"
OTHER_DIR = "其他"
REGISTER = "移交登记表.XML"
REGISTER_DOCX = "移交登记表.docx"  # printed and signed; generated after the check
REPORT_XML = "四性检测报告.XML"
REPORT_TXT = "四性检测报告.TXT"
MANIFESTS = {"SHA-256": "manifest-sha256.txt", "SM3": "manifest-sm3.txt"}
SCHEMAS = {CATALOGUE: "文件目录.xsd", "EEP": "电子文件封装包.xsd", REGISTER: "移交登记表.xsd"}
SCHEMA_DIR = Path(__file__).parent / "schemas"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Station:
    fonds: str  # 全宗号
    name: str  # 全宗名称 = 立档单位名称
    archive_name: str = ""  # 接收档案馆名称, e.g. 长春市双阳区档案馆
    archive_code: str = ""


@dataclass(frozen=True)
class Component:
    """One stored file of a record, as the catalogue knows it."""

    seq: int  # 1 = 正文
    kind: str  # 正文 / 附件 / 签字扫描件 …
    filename: str  # name as filed


@dataclass(frozen=True)
class TransferRecord:
    """One 件: its catalogue metadata and its components (current versions, in order)."""

    meta: PaperItem
    components: tuple[Component, ...]
    open_level: str = "控制"  # 权限管理/控制标识: 开放 or 控制


# Opens a component's plaintext: the lead's audited plaintext door behind it.
Opener = Callable[[TransferRecord, Component], AbstractContextManager[BinaryIO]]


@dataclass(frozen=True)
class Absent:
    """A 件号 inside the year's range that is not transferred, with the reason (e.g. 已销毁)."""

    ref: str
    reason: str


@dataclass
class ExportSummary:
    out: Path
    records: int = 0
    files: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)


class Digests:
    """SHA-256 and SM3 of one byte stream (SM3 from OpenSSL through hashlib)."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.sm3 = hashlib.new("sm3")
        self.size = 0

    def update(self, data: bytes) -> None:
        self.sha.update(data)
        self.sm3.update(data)
        self.size += len(data)

    def hex(self) -> dict[str, str]:
        return {"SHA-256": self.sha.hexdigest(), "SM3": self.sm3.hexdigest()}


def file_digests(path: Path) -> tuple[dict[str, str], int]:
    d = Digests()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            d.update(block)
    return d.hex(), d.size
