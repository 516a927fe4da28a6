"""The station plaque (牌匾, guideline 九 and 附件1) at true size, as SVG or PDF.

Board 60×40 cm or 70×50 cm; name characters 5×5 cm, 「社会工作服务站」 7×7 cm, a 12×12 cm framed
square left for the logo (标识). The name line is `××县(市、区)××乡镇(街道)`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from archive.errors import ValidationError

SIZES = {"60x40": (600.0, 400.0), "70x50": (700.0, 500.0)}     # millimetres
NAME_MM, STATION_MM, LOGO_MM, SIDE_MM = 50.0, 70.0, 120.0, 30.0
STATION_TEXT = "社会工作服务站"
FONT_FAMILY = "SimHei, 黑体, 'Noto Sans CJK SC', 'Source Han Sans SC', sans-serif"


@dataclass(frozen=True)
class Glyph:
    char: str
    cx: float          # centre of the character cell, mm from the left edge
    cy: float          # centre of the character cell, mm from the top edge
    size: float        # cell height (font size), mm
    width: float       # cell width, mm (== size unless a long name had to be compressed)


@dataclass(frozen=True)
class PlaqueLayout:
    width: float
    height: float
    logo: tuple[float, float, float]       # x, y (top-left), side; mm
    glyphs: tuple[Glyph, ...]


def _line(text: str, cy: float, size: float, width: float) -> list[Glyph]:
    avail = width - 2 * SIDE_MM
    cell = min(size, avail / len(text))
    left = (width - cell * len(text)) / 2
    return [Glyph(c, left + cell * (i + 0.5), cy, size, cell) for i, c in enumerate(text)]


def plaque_layout(station: Mapping[str, Any], size: str = "60x40") -> PlaqueLayout:
    """Geometry of the plaque: logo square on top, the name, then 社会工作服务站."""
    if size not in SIZES:
        raise ValidationError(f"牌匾尺寸“{size}”无效，可选：{'、'.join(SIZES)}")
    w, h = SIZES[size]
    county, township = str(station.get("county", "")), str(station.get("township", ""))
    if not county or not township:
        raise ValidationError("站点信息缺少县（市、区）或乡镇（街道），无法生成牌匾")
    name = county + township
    lines = [name] if len(name) * NAME_MM <= w - 2 * SIDE_MM else [county, township]
    used = LOGO_MM + NAME_MM * len(lines) + STATION_MM
    gap = (h - used) / (len(lines) + 3)
    y = gap
    logo = ((w - LOGO_MM) / 2, y, LOGO_MM)
    y += LOGO_MM + gap
    glyphs: list[Glyph] = []
    for text in lines:
        glyphs += _line(text, y + NAME_MM / 2, NAME_MM, w)
        y += NAME_MM + gap
    glyphs += _line(STATION_TEXT, y + STATION_MM / 2, STATION_MM, w)
    return PlaqueLayout(w, h, logo, tuple(glyphs))


def plaque_svg(lay: PlaqueLayout) -> str:
    """SVG with width/height in cm and a viewBox in mm, so it prints at true size."""
    x, y, s = lay.logo
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{lay.width / 10:g}cm" '
        f'height="{lay.height / 10:g}cm" viewBox="0 0 {lay.width:g} {lay.height:g}">',
        f'<rect x="0" y="0" width="{lay.width:g}" height="{lay.height:g}" fill="#ffffff" '
        'stroke="#999999" stroke-width="1"/>',
        f'<rect id="logo" x="{x:g}" y="{y:g}" width="{s:g}" height="{s:g}" fill="none" '
        'stroke="#000000" stroke-width="1" stroke-dasharray="4 2"/>',
        f'<text x="{x + s / 2:g}" y="{y + s / 2:g}" font-size="16" text-anchor="middle" '
        f'dominant-baseline="central" font-family="{FONT_FAMILY}" fill="#666666">标识</text>',
    ]
    for g in lay.glyphs:
        stretch = "" if g.width == g.size else (
            f' textLength="{g.width:g}" lengthAdjust="spacingAndGlyphs"')
        out.append(f'<text x="{g.cx:.2f}" y="{g.cy:.2f}" font-size="{g.size:g}" '
                   f'text-anchor="middle" dominant-baseline="central" font-weight="bold" '
                   f'font-family="{FONT_FAMILY}" fill="#b3000c"{stretch}>{escape(g.char)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


SAMPLE_LINE = "样例　含示例数据，仅供试用，不得制作"


def plaque_pdf(lay: PlaqueLayout, sample: bool = False) -> bytes:
    """One-page PDF of the same size, in an installed bold 黑体 face subset and embedded."""
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    from archive.pdf.fonts import reportlab_font

    text = "标识" + "".join(g.char for g in lay.glyphs) + (SAMPLE_LINE if sample else "")
    font = reportlab_font("heiti-bold", text)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(lay.width * mm, lay.height * mm), invariant=1,
                      initialFontName=font)   # no unembedded Helvetica in the resources
    c.setTitle("社会工作服务站牌匾")
    c.setStrokeGray(0.6)
    c.rect(0, 0, lay.width * mm, lay.height * mm)
    x, y, s = lay.logo
    c.setStrokeGray(0)
    c.setDash(4 * mm, 2 * mm)
    c.rect(x * mm, (lay.height - y - s) * mm, s * mm, s * mm)
    c.setDash()
    c.setFillGray(0.4)
    c.setFont(font, 16 * mm)
    c.drawCentredString((x + s / 2) * mm, (lay.height - y - s / 2 - 6) * mm, "标识")
    c.setFillColorRGB(0.7, 0, 0.05)
    for g in lay.glyphs:
        size = g.size * mm
        c.setFont(font, size)
        base = (lay.height - g.cy) * mm - 0.38 * size     # em box centred on the cell
        c.saveState()
        c.translate(g.cx * mm, base)
        c.scale(g.width / g.size, 1)
        c.drawCentredString(0, 0, g.char)
        c.restoreState()
    if sample:
        c.setFillColorRGB(0.75, 0, 0)
        c.setFont(font, 12 * mm)
        c.drawCentredString(lay.width * mm / 2, 8 * mm, SAMPLE_LINE)
    c.showPage()
    c.save()
    return buf.getvalue()


def render_plaque(station: Mapping[str, Any], size: str = "60x40", fmt: str = "svg",
                  sample: bool = False) -> bytes:
    """The plaque as SVG (UTF-8 bytes) or PDF bytes; `sample` adds the 样例 line."""
    lay = plaque_layout(station, size)
    if fmt == "svg":
        svg = plaque_svg(lay)
        if sample:
            svg = svg.replace("</svg>", f'<text x="{lay.width / 2:g}" y="{lay.height - 8:g}" '
                              'font-size="12" text-anchor="middle" font-weight="bold" '
                              f'font-family="{FONT_FAMILY}" fill="#c00000">{SAMPLE_LINE}</text>\n</svg>')
        return svg.encode("utf-8")
    if fmt == "pdf":
        return plaque_pdf(lay, sample)
    raise ValidationError(f"牌匾格式“{fmt}”无效，应为 svg 或 pdf")
