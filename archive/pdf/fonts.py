"""Finding an embeddable CJK font for PDFs sgz draws with reportlab.

reportlab embeds (subsets) only TrueType-outline fonts; the Noto CJK faces Debian ships are CFF
(PostScript) outlines, which it refuses. So the search prefers TrueType CJK faces: AR PL UMing
(a Ming/Song face, Debian `fonts-arphic-uming`), then WenQuanYi Zen Hei (`fonts-wqy-zenhei`),
then the Windows faces a station PC has (SimSun, SimHei). A station may name its own file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

from archive.errors import NotFound

# (path, subfont index, reportlab name); first that loads wins.
CANDIDATES: tuple[tuple[str, int, str], ...] = (
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0, "SgzUMingCN"),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, "SgzZenHei"),
    (r"C:\Windows\Fonts\simsun.ttc", 0, "SgzSimSun"),
    (r"C:\Windows\Fonts\simhei.ttf", 0, "SgzSimHei"),
)


@dataclass(frozen=True)
class EmbeddableFont:
    name: str  # reportlab font name (registered)
    path: str


def cjk_ttf(explicit: Path | None = None) -> EmbeddableFont:
    """Register and return the first loadable TrueType CJK font (or `explicit`)."""
    options = [(str(explicit), 0, "SgzStationFont")] if explicit else list(CANDIDATES)
    for path, index, name in options:
        if name in pdfmetrics.getRegisteredFontNames():
            return EmbeddableFont(name, path)
        if not Path(path).is_file():
            continue
        try:
            pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
        except (TTFError, OSError):
            continue
        return EmbeddableFont(name, path)
    raise NotFound("未找到可嵌入的中文 TrueType 字体。请安装 fonts-arphic-uming 或 fonts-wqy-zenhei"
                   "（Windows 自带宋体/黑体亦可）。")
