"""One DA/T 48—2009 电子文件封装包 (EEP) per 件, with DA/T 46—2009 metadata in the file entity.

Written incrementally with lxml's `xmlfile`, so each file's Base64 `编码数据` streams from disk
and memory does not grow with file size. The package is 原始型 and unsigned (no SM2 here);
each document carries its SHA-256 and SM3 digests.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from archive.transfer.model import NS, Station, TransferRecord

FORMAT_DESC = ("本EEP根据中华人民共和国档案行业标准DA/T 48—2009《基于XML的电子文件封装规范》生成，"
               "文件实体元数据依据DA/T 46—2009《文书类电子文件元数据方案》")
ENCODING_DESC = "本封装包中“编码数据”元素存储的是计算机文件二进制流的Base64编码"
_B64_CHUNK = 3 * (1 << 18)  # multiple of 3: chunks encode independently


@dataclass(frozen=True)
class Document:
    """One file inside the package: a component as filed, or the archival PDF/A rendition."""

    seq: int
    role: str  # 主文件 / 附件 / 长期保存版本
    title: str
    fmt: str  # 格式信息, e.g. PDF/A-2b, PDF 1.7, DOCX
    name: str  # 计算机文件名 (relative to the item folder)
    size: int
    digests: dict[str, str]
    program: str = ""


Leaves = dict[str, str | int | None]  # element name → text, in document order


def _leaf(xf: Any, tag: str, text: str | int | None, **attrs: str) -> None:
    # an element context (not xf.write(Element)) keeps the default namespace: no ns0 prefixes
    with xf.element(f"{{{NS}}}{tag}", attrs):
        xf.write("" if text is None else str(text))


def _leaves(xf: Any, leaves: Leaves) -> None:
    for tag, text in leaves.items():
        _leaf(xf, tag, text)


def _block(xf: Any, tag: str, leaves: Leaves) -> None:
    """`<tag>` holding one leaf element per entry of `leaves`."""
    with xf.element(f"{{{NS}}}{tag}"):
        _leaves(xf, leaves)


def write_eep(path: Path, rec: TransferRecord, station: Station, docs: list[Document], *,
              item_dir: Path, created_at: str, action_desc: str) -> None:
    """Write the package for `rec` to `path`; the documents' bytes are read from `item_dir`."""
    n = f"{{{NS}}}"
    with etree.xmlfile(str(path), encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(n + "电子文件封装包", nsmap={None: NS}):
            _leaves(xf, {"封装包格式描述": FORMAT_DESC, "版本": "2009"})
            with xf.element(n + "被签名对象", {"eep版本": "2009"}):
                _leaves(xf, {
                    "封装包类型": "原始型",
                    "封装包类型描述": "本封装包包含电子文件数据及其元数据，系原始封装，未经修改",
                    "封装包创建时间": created_at, "封装包创建单位": station.name,
                })
                with xf.element(n + "封装内容"):
                    with xf.element(n + "文件实体块"), xf.element(n + "文件实体"):
                        _entity(xf, rec, station, docs, item_dir)
                    with xf.element(n + "业务实体块"):
                        _block(xf, "业务实体", {
                            "业务状态": "历史行为", "业务行为": "移交", "行为时间": created_at,
                            "行为依据": "《电子档案移交与接收办法》（档发〔2012〕7号）",
                            "行为描述": action_desc,
                        })
                    with xf.element(n + "机构人员实体块"):
                        _block(xf, "机构人员实体", {"机构人员类型": "单位", "机构人员名称": station.name,
                                                "机构人员代码": station.fonds})


def _entity(xf: Any, rec: TransferRecord, station: Station, docs: list[Document],
            item_dir: Path) -> None:
    m = rec.meta
    n = f"{{{NS}}}"
    _leaf(xf, "聚合层次", "文件")
    _block(xf, "来源", {"档案馆名称": station.archive_name, "档案馆代码": station.archive_code,
                      "全宗名称": station.name, "立档单位名称": station.name})
    _leaf(xf, "电子文件号", m.ref)
    _block(xf, "档号", {"全宗号": station.fonds, "年度": m.year, "保管期限": m.retention,
                      "机构或问题": m.cls, "件号": m.item})
    _block(xf, "内容描述", {"题名": m.title, "文件编号": m.doc_no, "责任者": m.author,
                        "日期": m.date, "密级": m.secrecy, "保管期限": m.retention_label,
                        "附注": m.note})
    _block(xf, "形式特征", {
        "文件组合类型": "单件" if len(rec.components) == 1 else "组合文件",
        "件数": len(rec.components),
        **({} if m.pages is None else {"页数": m.pages}),
        "语种": "汉语",
    })
    _block(xf, "存储位置", {"当前位置": item_dir.name})
    _block(xf, "权限管理", {"控制标识": rec.open_level})
    with xf.element(n + "文件数据"):
        for d in docs:
            with xf.element(n + "文档", {"文档标识符": f"{m.ref}-{d.seq}"}):
                _leaves(xf, {"文档序号": d.seq, "文档主从声明": d.role, "题名": d.title})
                with xf.element(n + "文档数据"), xf.element(n + "编码"):
                    _block(xf, "电子属性", {"格式信息": d.fmt, "计算机文件名": d.name,
                                        "计算机文件大小": d.size, "文档创建程序": d.program})
                    for alg in ("SHA-256", "SM3"):
                        _leaf(xf, "数字摘要", d.digests[alg], 算法=alg)
                    _leaf(xf, "编码描述", ENCODING_DESC)
                    _leaf(xf, "反编码关键字", "base64")
                    with xf.element(n + "编码数据"), (item_dir / d.name).open("rb") as f:
                        while block := f.read(_B64_CHUNK):
                            xf.write(base64.b64encode(block).decode("ascii"))
