"""Which CJK fonts are installed, which one stands in for each 公文 face, and real embedding.

GB/T 9704 names 仿宋_GB2312, 方正小标宋简体, 黑体 and 楷体_GB2312. A station PC often has them; a
Linux server rarely does. We look them up with fontconfig (`fc-list`) and, for each missing
face, take the closest open one (a 仿宋 such as Fandol Fang; a bold serif CJK for 小标宋) —
always a Simplified-Chinese face, never the JP variant fontconfig may pick by itself.

For reportlab (plaque, view-copy watermark) a font is subset to the characters drawn and, if
its outlines are CFF (OpenType/PostScript, as Noto CJK and Fandol are), converted to TrueType
quadratic outlines, so reportlab can embed it: every PDF sgz writes carries its fonts.

The 归档章 (archive.pdf.stamp) instead registers a whole TrueType CJK face (`cjk_ttf`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from archive.errors import ArchiveError, NotFound

# role -> (the face 公文 practice names, acceptable stand-ins in order of preference)
ROLES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "fangsong": ("仿宋_GB2312", (
        ("仿宋_GB2312", ""), ("FangSong_GB2312", ""), ("仿宋", ""), ("FangSong", ""),
        ("FandolFang", "Regular"), ("Fandol Fang", ""), ("Noto Serif CJK SC", "Regular"),
        ("Source Han Serif SC", "Regular"), ("AR PL UMing CN", ""))),
    "xiaobiaosong": ("方正小标宋简体", (
        ("方正小标宋简体", ""), ("方正小标宋_GBK", ""), ("FZXiaoBiaoSong-B05S", ""),
        ("Noto Serif CJK SC", "Bold"), ("Source Han Serif SC", "Bold"),
        ("FandolSong", "Bold"), ("Noto Serif CJK SC", "Black"))),
    "heiti": ("黑体", (
        ("黑体", ""), ("SimHei", ""), ("Noto Sans CJK SC", "Regular"),
        ("Source Han Sans SC", "Regular"), ("FandolHei", "Regular"), ("WenQuanYi Zen Hei", ""))),
    "heiti-bold": ("黑体", (
        ("黑体", ""), ("SimHei", ""), ("Noto Sans CJK SC", "Bold"),
        ("Source Han Sans SC", "Bold"), ("FandolHei", "Bold"), ("WenQuanYi Zen Hei", ""))),
    "kaiti": ("楷体_GB2312", (
        ("楷体_GB2312", ""), ("KaiTi_GB2312", ""), ("楷体", ""), ("KaiTi", ""),
        ("FandolKai", "Regular"), ("AR PL UKai CN", ""), ("LXGW WenKai", ""),
        ("Noto Serif CJK SC", "Regular"))),
    "song": ("宋体", (
        ("宋体", ""), ("SimSun", ""), ("Noto Serif CJK SC", "Regular"), ("FandolSong", "Regular"),
        ("AR PL UMing CN", ""))),
}
# The faces that count as "the 公文 font itself" (Windows/WPS names of the same design).
OFFICIAL: dict[str, frozenset[str]] = {
    "fangsong": frozenset({"仿宋_GB2312", "FangSong_GB2312", "仿宋", "FangSong"}),
    "xiaobiaosong": frozenset({"方正小标宋简体", "方正小标宋_GBK", "FZXiaoBiaoSong-B05S"}),
    "heiti": frozenset({"黑体", "SimHei"}), "heiti-bold": frozenset({"黑体", "SimHei"}),
    "kaiti": frozenset({"楷体_GB2312", "KaiTi_GB2312", "楷体", "KaiTi"}),
    "song": frozenset({"宋体", "SimSun"}),
}
# Names used in the generated .docx for each role (archive.docgen.ooxml).
DOCX_ROLE_OF = {"仿宋_GB2312": "fangsong", "方正小标宋简体": "xiaobiaosong", "黑体": "heiti",
                "楷体_GB2312": "kaiti", "宋体": "song"}


@dataclass(frozen=True)
class Face:
    families: tuple[str, ...]
    style: str
    file: str
    index: int


@dataclass(frozen=True)
class Choice:
    role: str
    wanted: str
    family: str          # the family name to use ("" when nothing fits)
    face: Face | None
    exact: bool          # the named 公文 face itself is installed


@dataclass
class FontReport:
    choices: dict[str, Choice] = field(default_factory=dict)

    @property
    def missing(self) -> list[str]:
        return sorted({c.wanted for c in self.choices.values() if not c.exact})

    def warning(self) -> str:
        """One Chinese line naming the missing 公文 fonts and their stand-ins ('' if none)."""
        subs = []
        seen: set[str] = set()
        for c in self.choices.values():
            if c.exact or c.wanted in seen:
                continue
            seen.add(c.wanted)
            subs.append(f"{c.wanted}→{c.family or '（无可用中文字体）'}")
        if not subs:
            return ""
        return ("提示：本机未安装公文字体 " + "、".join(sorted(seen)) + "，PDF 中以相近的开源字体代替（"
                + "；".join(subs) + "）。如需与红头文件一致，请安装原字体后重新生成。")

    def lines(self) -> list[str]:
        out = []
        for role, c in self.choices.items():
            state = "已安装" if c.exact else (f"未安装，以 {c.family} 代替" if c.family else "未安装，无可用字体")
            where = f"（{c.face.file}）" if c.face else ""
            out.append(f"{role:<13}{c.wanted}：{state}{where}")
        return out


@functools.lru_cache(maxsize=1)
def installed_faces() -> tuple[Face, ...]:
    """Every face fontconfig knows (family names, style, file, index in a collection)."""
    if shutil.which("fc-list") is None:
        return ()
    out = subprocess.run(["fc-list", "--format", "%{family}\t%{style}\t%{file}\t%{index}\n"],
                         capture_output=True, text=True, check=False).stdout
    faces = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) != 4:
            continue
        fams = tuple(f.strip() for f in parts[0].split(","))
        style = parts[1].split(",")[0].strip()
        faces.append(Face(fams, style, parts[2], int(parts[3] or 0)))
    return tuple(faces)


def _find(family: str, style: str) -> Face | None:
    hits = [f for f in installed_faces() if family in f.families]
    if style:
        hits = [f for f in hits if f.style.lower() == style.lower()] or (
            [] if style.lower() in ("bold", "black") else hits)
    if not hits:
        return None
    # prefer the plain face of a family over oblique or other styles
    return sorted(hits, key=lambda f: (f.style.lower() not in ("regular", "book", "medium", ""),
                                       f.file))[0]


def choose(role: str) -> Choice:
    wanted, candidates = ROLES[role]
    for family, style in candidates:
        face = _find(family, style)
        if face is not None:
            return Choice(role, wanted, family, face, exact=family in OFFICIAL[role])
    return Choice(role, wanted, "", None, exact=False)


def font_report() -> FontReport:
    """What is installed for each 公文 role and what stands in (for `sgz doctor`)."""
    return FontReport({role: choose(role) for role in ROLES})


def _to_truetype(font: object) -> None:
    """Replace CFF outlines by quadratic TrueType glyphs (fontTools' otf2ttf recipe)."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable

    assert isinstance(font, TTFont)
    glyph_order = font.getGlyphOrder()
    glyf = newTable("glyf")
    glyf.glyphOrder = glyph_order
    glyf.glyphs = {}
    gs = font.getGlyphSet()
    for name in glyph_order:
        pen = TTGlyphPen(gs)
        gs[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attr in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs",
                 "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
                 "maxComponentElements"):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    maxp.maxComponentDepth = 0
    font["head"].glyphDataFormat = 0
    font["post"].formatType = 3.0
    for tag in ("CFF ", "VORG"):
        if tag in font:
            del font[tag]
    font.sfntVersion = "\x00\x01\x00\x00"


def subset_truetype(face: Face, text: str, tag: str = "") -> bytes:
    """A TrueType-outline font holding just the glyphs of `text` (plus .notdef).

    `tag` is appended to the PostScript name: reportlab keeps one face per PostScript name,
    so two subsets of one font must not share it.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(face.file, fontNumber=face.index, lazy=False)
    opts = subset.Options()
    opts.layout_features = []
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.hinting = False
    sub = subset.Subsetter(opts)
    sub.populate(text=text)
    sub.subset(font)
    if "CFF " in font:
        _to_truetype(font)
    if tag:
        names = font["name"]
        ps = names.getDebugName(6) or "CJK"
        for rec in list(names.names):
            if rec.nameID == 6:
                names.removeNames(nameID=6)
                break
        names.setName(f"{ps}-{tag}"[:63], 6, 3, 1, 0x409)
        names.setName(f"{ps}-{tag}"[:63], 6, 1, 0, 0)
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def reportlab_font(role: str, text: str) -> str:
    """Register (once) an embeddable TrueType subset for `text` in the role's face; its name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    choice = choose(role)
    if choice.face is None:
        raise ArchiveError(f"本机没有可用的中文字体（需要{choice.wanted}或开源替代字体，"
                           "如 fonts-noto-cjk、fonts-fandol），无法生成 PDF")
    chars = "".join(sorted(set(text + " ")))
    key = hashlib.sha256(f"{choice.face.file}#{choice.face.index}#{chars}".encode()).hexdigest()
    name = f"sgz-{role}-{key[:12]}"
    if name not in pdfmetrics.getRegisteredFontNames():
        # a real file: reportlab caches parsed fonts by source, and a recycled BytesIO id
        # would hand a later subset the glyphs of an earlier one
        path = _subset_dir() / f"{name}.ttf"
        path.write_bytes(subset_truetype(choice.face, chars, key[:6]))
        pdfmetrics.registerFont(TTFont(name, str(path)))
    return name


@functools.lru_cache(maxsize=1)
def _subset_dir() -> Path:
    """A private per-process folder for font subsets (font data only, removed at exit)."""
    import atexit

    tmp = tempfile.TemporaryDirectory(prefix="sgz-fonts-")
    atexit.register(tmp.cleanup)
    return Path(tmp.name)


# ----------------------------------------------------------------------- whole TrueType faces
# The 归档章 draws a few glyphs that may change per record; it registers a whole TrueType face
# (no subsetting, no CFF conversion) from this list. (path, subfont index, reportlab name).
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
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

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
