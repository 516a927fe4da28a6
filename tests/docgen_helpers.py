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
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
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
