"""A normalised, diff-friendly dump of a .docx: text and styles, not zip bytes.

Used to check that a committed template.docx still matches what its body.md builds into.
"""

from __future__ import annotations

import io
import re
import zipfile

from lxml import etree

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_PARTS = re.compile(r"word/(document|styles|settings|footer\d*|header\d*)\.xml|docProps/core\.xml")


def _text(el: etree._Element) -> str:
    out = []
    for node in el.iter(f"{W}t", f"{W}br", f"{W}tab"):
        out.append(node.text or "" if node.tag == f"{W}t" else ("⏎" if node.tag == f"{W}br" else "⇥"))
    return "".join(out)


def _props(el: etree._Element | None) -> str:
    if el is None:
        return ""
    xml = etree.tostring(el, method="c14n").decode()
    return re.sub(r' xmlns:\w+="[^"]*"', "", xml).replace("w:", "")


def _body_lines(root: etree._Element) -> list[str]:
    lines = []
    body = root.find(f"{W}body")
    assert body is not None
    for el in body:
        if el.tag == f"{W}p":
            lines.append(f"P {_props(el.find(f'{W}pPr'))} | {_text(el)}")
        elif el.tag == f"{W}tbl":
            lines.append(f"TABLE {_props(el.find(f'{W}tblPr'))} {_props(el.find(f'{W}tblGrid'))}")
            for tr in el.iter(f"{W}tr"):
                lines.append(f"  TR {_props(tr.find(f'{W}trPr'))}")
                for tc in tr.iter(f"{W}tc"):
                    paras = [f"{_props(p.find(f'{W}pPr'))} {_text(p)}" for p in tc.iter(f"{W}p")]
                    lines.append(f"    TC {_props(tc.find(f'{W}tcPr'))} | " + " ¶ ".join(paras))
        else:
            lines.append(f"{etree.QName(el).localname} {_props(el)}")
    return lines


def dump_docx(data: bytes) -> str:
    """Body text with paragraph/table properties, then every style, setting and footer."""
    out: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in sorted(n for n in zf.namelist() if _PARTS.fullmatch(n)):
            root = etree.fromstring(zf.read(name))
            out.append(f"== {name}")
            if name == "word/document.xml":
                out += _body_lines(root)
            elif name == "word/styles.xml":
                out += [_props(el) for el in root]
            else:
                out.append(_props(root))
    return "\n".join(out) + "\n"
