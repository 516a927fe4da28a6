"""Text of a .docx read straight from its XML parts with lxml (≈20× faster than python-docx).

Body, tables, headers, footers, foot/endnotes and text boxes. The zip is treated as hostile:
member count, total and per-part unzipped size and compression ratio are capped, reads are
bounded whatever the headers claim, and XML with a DTD is refused (no entity expansion).
"""

from __future__ import annotations

import io
import re
import zipfile

from lxml import etree

from archive.search.limits import Extracted, Limits, cap_text

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_PARTS = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml")
_ORDER = {"document": 0, "header": 1, "footer": 2, "footnotes": 3, "endnotes": 4}


class _Refused(Exception):
    """Internal: the file breaks a limit; the message is the Chinese reason."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def _read_part(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> bytes:
    if info.file_size > limits.max_part:
        raise _Refused(f"文档部件过大（{info.filename}），疑似压缩炸弹，未提取文字")
    if info.file_size > 1024 * 1024 and info.file_size > limits.max_ratio * max(
            info.compress_size, 1):
        raise _Refused("压缩比异常，疑似压缩炸弹，未提取文字")
    with zf.open(info) as f:
        data = f.read(limits.max_part + 1)
    if len(data) > limits.max_part:
        raise _Refused("解压后实际大小超过上限，疑似压缩炸弹，未提取文字")
    if data.count(b"<") > limits.max_xml_tags:
        raise _Refused(f"文档部件元素过多（{info.filename}），解析会耗尽内存，未提取文字")
    return data


def _text_of(xml: bytes) -> str:
    if b"<!DOCTYPE" in xml[:65536] or b"<!ENTITY" in xml[:65536]:
        raise _Refused("文档含有 DTD/实体声明（不合规范，可能是实体炸弹），未提取文字")
    root = etree.fromstring(xml, _parser())
    if root.getroottree().docinfo.internalDTD is not None:
        raise _Refused("文档含有 DTD/实体声明（不合规范，可能是实体炸弹），未提取文字")
    for fb in list(root.iter(MC_FALLBACK)):  # text boxes appear twice: Choice and Fallback
        fb.getparent().remove(fb)
    out: list[str] = []
    for el in root.iter(W + "p", W + "t", W + "tab", W + "br", W + "cr"):
        if el.tag == W + "t":
            out.append(el.text or "")
        elif el.tag == W + "tab":
            out.append("\t")
        else:
            out.append("\n")
    return re.sub(r"\n{2,}", "\n", "".join(out)).strip()


def extract_docx(data: bytes, limits: Limits) -> Extracted:
    """Extract a .docx; never raises for bad input, returns status failed with a reason."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise _Refused("压缩包内文件过多，疑似恶意文件，未提取文字")
        if sum(i.file_size for i in infos) > limits.max_unzipped:
            raise _Refused("解压后总大小超过上限，疑似压缩炸弹，未提取文字")
        parts = [i for i in infos if _PARTS.fullmatch(i.filename)]
        if not any(i.filename == "word/document.xml" for i in parts):
            raise _Refused("不是有效的 .docx 文件（缺少 word/document.xml）")
        parts.sort(key=lambda i: (_ORDER[re.sub(r"\d+", "", i.filename[5:-4])], i.filename))
        texts = []
        for info in parts:
            texts.append(_text_of(_read_part(zf, info, limits)))
    except _Refused as exc:
        return Extracted("", "failed", str(exc), None)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError):
        return Extracted("", "failed", "不是有效的 .docx 文件（压缩包损坏）", None)
    except NotImplementedError:
        return Extracted("", "failed", "压缩方式不受支持，未提取文字", None)
    except etree.XMLSyntaxError:
        return Extracted("", "failed", "文档 XML 损坏，未提取文字", None)
    text = "\n".join(t for t in texts if t)
    if not text.strip():
        return Extracted("", "no_text", "文档中没有文字", None)
    return cap_text(text, limits, None)
