"""Helpers shared by the docgen tests: a non-default station and text of a rendered .docx."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from archive.docgen.engine import load_station_vars

DATA = Path(__file__).parent / "data"
STATION_TOML = DATA / "station_chalu.toml"
# Names and places of the sample station and of the old hand-written samples.
FOREIGN = ("双阳", "奢岭", "长春", "刘晓雪", "张三", "李四")


def chalu() -> dict[str, Any]:
    """永吉县岔路河镇: a real-looking station that is not the sample station."""
    return load_station_vars(STATION_TOML)


def docx_text(blob: bytes) -> str:
    """All visible text of a .docx (body, headers, footers), tags stripped."""
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        parts = [zf.read(n).decode("utf-8") for n in sorted(zf.namelist())
                 if re.fullmatch(r"word/(document|header\w*|footer\w*)\.xml", n)]
    return "".join(re.sub(r"<[^>]+>", "", p) for p in parts)


def pdf_pages(pdf: Path) -> list[str]:
    """Text of each page (pdftotext; pages split on form feed)."""
    out = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True,
                         text=True, check=True).stdout
    pages = out.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def pdffonts(pdf: Path) -> list[dict[str, str]]:
    """Rows of `pdffonts`: name, type, emb (yes/no)."""
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    rows = []
    for line in out[2:]:
        cols = line.split()
        # name type [type2] encoding emb sub uni object ID: emb is 5th from the end
        rows.append({"name": cols[0], "emb": cols[-5], "line": line})
    return rows


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def _cid_names_by_char(pdf_path: Path) -> dict[str, list[tuple[str, str]]]:
    """For every simple (Type1) font LibreOffice embedded: {base font: [(char, glyph name)]}."""
    import pikepdf

    out: dict[str, list[tuple[str, str]]] = {}
    with pikepdf.open(pdf_path) as pdf:
        for page in pdf.pages:
            fonts = page.Resources.get("/Font") or {}
            for _, font in fonts.items():
                base = str(font.get("/BaseFont", ""))
                if base in out or "/ToUnicode" not in font or "/FontDescriptor" not in font:
                    continue
                ff = font.FontDescriptor.get("/FontFile")
                if ff is None:
                    continue
                prog = ff.read_bytes()
                enc = {int(c): n.decode() for c, n in
                       re.findall(rb"dup (\d+) /([A-Za-z0-9_.]+) put", prog)}
                cmap = font.ToUnicode.read_bytes().decode("latin-1")
                pairs = []
                for code, uni in re.findall(r"<([0-9A-Fa-f]{2})>\s*<([0-9A-Fa-f]{4})>", cmap):
                    name = enc.get(int(code, 16))
                    if name:
                        pairs.append((chr(int(uni, 16)), name))
                out[base] = pairs
    return out


def glyph_language_problems(pdf_path: Path) -> tuple[int, list[str]]:
    """Check that Noto CJK text uses the Simplified-Chinese glyphs, not the Japanese ones.

    Noto CJK collections share one CFF table across their language faces (so the embedded
    name says `…jp…` whatever face was used); the faces differ in their cmaps. For each
    character whose SC and JP glyphs differ, the glyph in the PDF must be the SC one.
    Returns (characters checked, problems).
    """
    from fontTools.ttLib import TTFont

    from archive.pdf.fonts import installed_faces

    checked, problems = 0, []
    cmaps: dict[tuple[str, str], dict[int, str]] = {}

    def cmap_for(ps: str, lang: str) -> dict[int, str] | None:
        kind = "Sans" if "Sans" in ps else "Serif"
        weight = "Bold" if "Bold" in ps else "Regular"
        key = (f"{kind}{weight}", lang)
        if key not in cmaps:
            family = f"Noto {kind} CJK {lang}"
            face = next((f for f in installed_faces() if family in f.families
                         and f.file.endswith(f"Noto{kind}CJK-{weight}.ttc")), None)
            if face is None:
                return None
            cmaps[key] = TTFont(face.file, fontNumber=face.index, lazy=True).getBestCmap()
        return cmaps[key]

    for base, pairs in _cid_names_by_char(pdf_path).items():
        if "NotoSansCJK" not in base and "NotoSerifCJK" not in base:
            continue
        sc, jp = cmap_for(base, "SC"), cmap_for(base, "JP")
        if sc is None or jp is None:
            continue
        for ch, name in pairs:
            if sc.get(ord(ch)) != jp.get(ord(ch)):
                checked += 1
                if _cid(name) != _cid(sc.get(ord(ch)) or ""):
                    problems.append(f"{base}: “{ch}” uses {name}, SC glyph is {sc.get(ord(ch))}")
    return checked, problems


def _cid(name: str) -> int:
    """`cid09901` and `cid9901` are the same glyph."""
    m = re.fullmatch(r"cid0*(\d+)", name)
    return int(m[1]) if m else -1
