"""OOXML parts for generated templates: page layouts, styles (GB/T 9704) and the package files.

Everything is written as text with fixed ordering so the builder is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from xml.sax.saxutils import escape

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
LATIN = "Times New Roman"


def mm(value: float) -> int:
    """Millimetres → twentieths of a point (twips)."""
    return round(value / 25.4 * 1440)


@dataclass(frozen=True)
class Font:
    east_asia: str
    size_pt: float
    latin: str = LATIN
    bold: bool = False

    def rpr(self) -> str:
        hp = round(self.size_pt * 2)
        bold = "<w:b/><w:bCs/>" if self.bold else ""
        return (f'<w:rPr><w:rFonts w:ascii="{self.latin}" w:hAnsi="{self.latin}" '
                f'w:eastAsia="{self.east_asia}" w:cs="{self.latin}" w:hint="eastAsia"/>{bold}'
                f'<w:color w:val="000000"/><w:kern w:val="2"/><w:sz w:val="{hp}"/>'
                f'<w:szCs w:val="{hp}"/></w:rPr>')


@dataclass(frozen=True)
class Layout:
    """Page geometry and type sizes of one layout kind."""

    name: str
    landscape: bool
    margins_mm: tuple[float, float, float, float]    # top, left, bottom, right
    footer_mm: float
    title: Font
    subtitle: Font
    body: Font
    h1: Font
    h2: Font
    table: Font
    page_number: Font
    line_twips: int            # body line spacing
    line_rule: str             # exact | auto
    title_line_twips: int
    odd_even_footers: bool

    @property
    def page_twips(self) -> tuple[int, int]:
        w, h = 11906, 16838
        return (h, w) if self.landscape else (w, h)

    @property
    def text_width_twips(self) -> int:
        top, left, bottom, right = self.margins_mm
        return self.page_twips[0] - mm(left) - mm(right)


FANGSONG, HEITI, KAITI, XBS, SONG = "仿宋_GB2312", "黑体", "楷体_GB2312", "方正小标宋简体", "宋体"

# Forms and registers: smaller type, single-ish spacing, one footer for all pages.
_FORM = Layout(
    name="form", landscape=False, margins_mm=(25, 25, 20, 20), footer_mm=10,
    title=Font(HEITI, 18), subtitle=Font(FANGSONG, 12), body=Font(FANGSONG, 12),
    h1=Font(HEITI, 14), h2=Font(KAITI, 12), table=Font(FANGSONG, 12),
    page_number=Font(SONG, 10.5), line_twips=360, line_rule="auto", title_line_twips=480,
    odd_even_footers=False,
)

LAYOUTS: dict[str, Layout] = {
    # GB/T 9704-2012: A4, 37/28/35/26 mm, 3号仿宋 body at 22 lines a page, 2号小标宋 title.
    "gbt9704": Layout(
        name="gbt9704", landscape=False, margins_mm=(37, 28, 35, 26), footer_mm=28,
        title=Font(XBS, 22), subtitle=Font(KAITI, 16), body=Font(FANGSONG, 16),
        h1=Font(HEITI, 16), h2=Font(KAITI, 16), table=Font(FANGSONG, 12),
        page_number=Font(SONG, 14), line_twips=579, line_rule="exact", title_line_twips=700,
        odd_even_footers=True,
    ),
    "form": _FORM,
    # the form turned: narrower margins, smaller table type and line spacing for wide tables
    "form-landscape": replace(
        _FORM, name="form-landscape", landscape=True, margins_mm=(20, 20, 20, 20),
        table=Font(FANGSONG, 10.5), line_twips=300,
    ),
}

# paragraph kind (body.md) -> style id
STYLE_OF = {"title": "Title", "subtitle": "Subtitle", "h1": "Heading1", "h2": "Heading2",
            "body": "Normal", "right": "SgzRight", "plain": "SgzPlain", "tag": "SgzPlain",
            "pagebreak": "SgzPlain"}


def _ppr(jc: str, *, line: int, rule: str, first_chars: int = 0, first: int = 0,
         before: int = 0, after: int = 0, right_chars: int = 0, right: int = 0,
         extra: str = "", outline: int | None = None) -> str:
    ind = ""
    if first_chars:
        ind = f'<w:ind w:firstLineChars="{first_chars}" w:firstLine="{first}"/>'
    elif right_chars:
        ind = f'<w:ind w:rightChars="{right_chars}" w:right="{right}" w:firstLine="0"/>'
    else:
        ind = '<w:ind w:firstLineChars="0" w:firstLine="0"/>'
    # schema order: keepNext … snapToGrid, spacing, ind, jc, outlineLvl
    lvl = f'<w:outlineLvl w:val="{outline}"/>' if outline is not None else ""
    return (f'<w:pPr>{extra}<w:spacing w:before="{before}" w:after="{after}" w:line="{line}" '
            f'w:lineRule="{rule}"/>{ind}<w:jc w:val="{jc}"/>{lvl}</w:pPr>')


def _pstyle(sid: str, name: str, ppr: str, font: Font, based: str | None = "Normal",
            default: bool = False, ui: int = 99) -> str:
    dflt = ' w:default="1"' if default else ""
    base = f'<w:basedOn w:val="{based}"/>' if based else ""
    return (f'<w:style w:type="paragraph"{dflt} w:styleId="{sid}"><w:name w:val="{name}"/>'
            f'{base}<w:uiPriority w:val="{ui}"/><w:qFormat/>{ppr}{font.rpr()}</w:style>')


def styles_xml(lay: Layout) -> str:
    """styles.xml: every paragraph style sets its East-Asian font explicitly."""
    b, line, rule = lay.body, lay.line_twips, lay.line_rule
    indent = round(b.size_pt * 2 * 20)            # two characters in twips
    tline, trule = 240, "auto"
    styles = [
        _pstyle("Normal", "Normal", _ppr("both", line=line, rule=rule, first_chars=200,
                                          first=indent), b, based=None, default=True, ui=0),
        _pstyle("Title", "Title", _ppr("center", line=lay.title_line_twips, rule="exact",
                                        after=line if rule == "exact" else 240,
                                        extra="<w:keepNext/><w:snapToGrid w:val=\"0\"/>"),
                lay.title, ui=10),
        _pstyle("Subtitle", "Subtitle", _ppr("center", line=line, rule=rule,
                                              after=line if rule == "exact" else 120),
                lay.subtitle, ui=11),
        _pstyle("Heading1", "heading 1",
                _ppr("both", line=line, rule=rule, first_chars=200, first=indent,
                     extra="<w:keepNext/>", outline=0), lay.h1, ui=9),
        _pstyle("SgzChapter", "章标题（居中）",
                _ppr("center", line=line, rule=rule, extra="<w:keepNext/>", outline=0), lay.h1,
                based="Heading1", ui=9),
        _pstyle("Heading2", "heading 2",
                _ppr("both", line=line, rule=rule, first_chars=200, first=indent,
                     extra="<w:keepNext/>", outline=1), lay.h2, ui=9),
        _pstyle("SgzRight", "右对齐（落款）", _ppr("right", line=line, rule=rule, right_chars=200,
                                                 right=indent), b),
        _pstyle("SgzPlain", "顶格", _ppr("left", line=line, rule=rule), b),
        _pstyle("SgzTable", "表格文字", _ppr("left", line=tline, rule=trule), lay.table),
        _pstyle("SgzTableHead", "表格表头", _ppr("center", line=tline, rule=trule),
                Font(lay.table.east_asia, lay.table.size_pt, bold=True), based="SgzTable"),
        _pstyle("Footer", "footer", _ppr("center", line=240, rule="auto"), lay.page_number),
    ]
    char_default = ('<w:style w:type="character" w:default="1" w:styleId="DefaultParagraphFont">'
                    '<w:name w:val="Default Paragraph Font"/><w:uiPriority w:val="1"/>'
                    '<w:semiHidden/><w:unhideWhenUsed/></w:style>')
    table_normal = ('<w:style w:type="table" w:default="1" w:styleId="TableNormal">'
                    '<w:name w:val="Normal Table"/><w:uiPriority w:val="99"/><w:semiHidden/>'
                    '<w:tblPr><w:tblInd w:w="0" w:type="dxa"/><w:tblCellMar>'
                    '<w:top w:w="0" w:type="dxa"/><w:left w:w="108" w:type="dxa"/>'
                    '<w:bottom w:w="0" w:type="dxa"/><w:right w:w="108" w:type="dxa"/>'
                    '</w:tblCellMar></w:tblPr></w:style>')
    border = "".join(f'<w:{s} w:val="single" w:sz="4" w:space="0" w:color="000000"/>'
                     for s in ("top", "left", "bottom", "right", "insideH", "insideV"))
    table_grid = ('<w:style w:type="table" w:styleId="TableGrid"><w:name w:val="Table Grid"/>'
                  '<w:basedOn w:val="TableNormal"/><w:uiPriority w:val="59"/>'
                  f'<w:tblPr><w:tblBorders>{border}</w:tblBorders></w:tblPr></w:style>')
    defaults = (f'<w:docDefaults><w:rPrDefault>{b.rpr().replace("<w:rPr>", "<w:rPr>", 1)}'
                '</w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:after="0" w:line="240" '
                'w:lineRule="auto"/></w:pPr></w:pPrDefault></w:docDefaults>')
    defaults = defaults.replace("</w:rPr></w:rPrDefault>",
                                '<w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/>'
                                "</w:rPr></w:rPrDefault>")
    return (f'{XML_HEAD}<w:styles xmlns:w="{W_NS}">{defaults}'
            + "".join(styles) + char_default + table_normal + table_grid + "</w:styles>")


def sect_pr(lay: Layout) -> str:
    """Section properties: A4 page, margins, footers (odd right / even left for GB/T 9704)."""
    w, h = lay.page_twips
    top, left, bottom, right = (mm(v) for v in lay.margins_mm)
    orient = ' w:orient="landscape"' if lay.landscape else ""
    refs = '<w:footerReference w:type="default" r:id="rIdFooterOdd"/>'
    if lay.odd_even_footers:
        refs += '<w:footerReference w:type="even" r:id="rIdFooterEven"/>'
    grid = (f'<w:docGrid w:type="lines" w:linePitch="{lay.line_twips}"/>'
            if lay.line_rule == "exact" else '<w:docGrid w:linePitch="312"/>')
    return (f'<w:sectPr>{refs}<w:pgSz w:w="{w}" w:h="{h}"{orient}/>'
            f'<w:pgMar w:top="{top}" w:right="{right}" w:bottom="{bottom}" w:left="{left}" '
            f'w:header="851" w:footer="{mm(lay.footer_mm)}" w:gutter="0"/>'
            f'<w:pgNumType w:fmt="decimal"/><w:cols w:space="425"/>{grid}</w:sectPr>')


def _page_field() -> str:
    return ('<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
            '<w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>1</w:t></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r>')


def footer_xml(lay: Layout, which: str) -> str:
    """Page number `— 1 —`: right with one character's gap on odd pages, left on even ones."""
    one_char = round(lay.page_number.size_pt * 20)
    if lay.odd_even_footers and which == "odd":
        ppr = f'<w:pPr><w:pStyle w:val="Footer"/><w:ind w:right="{one_char}"/><w:jc w:val="right"/></w:pPr>'
    elif lay.odd_even_footers:
        ppr = f'<w:pPr><w:pStyle w:val="Footer"/><w:ind w:left="{one_char}"/><w:jc w:val="left"/></w:pPr>'
    else:
        ppr = '<w:pPr><w:pStyle w:val="Footer"/><w:jc w:val="center"/></w:pPr>'
    dash = '<w:r><w:t xml:space="preserve">— </w:t></w:r>'
    dash2 = '<w:r><w:t xml:space="preserve"> —</w:t></w:r>'
    return (f'{XML_HEAD}<w:ftr xmlns:w="{W_NS}" xmlns:r="{R_NS}"><w:p>{ppr}{dash}'
            f'{_page_field()}{dash2}</w:p></w:ftr>')


def settings_xml(lay: Layout) -> str:
    even = "<w:evenAndOddHeaders/>" if lay.odd_even_footers else ""
    return (f'{XML_HEAD}<w:settings xmlns:w="{W_NS}"><w:zoom w:percent="100"/>'
            f'<w:defaultTabStop w:val="420"/>{even}'
            '<w:characterSpacingControl w:val="compressPunctuation"/>'
            '<w:compat><w:compatSetting w:name="compatibilityMode" '
            'w:uri="http://schemas.microsoft.com/office/word" w:val="15"/></w:compat>'
            '<w:themeFontLang w:val="en-US" w:eastAsia="zh-CN"/></w:settings>')


# Windows ships 仿宋/楷体 but often not the _GB2312 variants: altName lets Word substitute.
_FONTS = [(FANGSONG, "仿宋", "modern"), (KAITI, "楷体", "modern"), (HEITI, "SimHei", "modern"),
          (XBS, "宋体", "roman"), (SONG, "SimSun", "roman"), (LATIN, "", "roman")]


def font_table_xml() -> str:
    fonts = "".join(
        f'<w:font w:name="{n}">' + (f'<w:altName w:val="{a}"/>' if a else "")
        + ('<w:charset w:val="86"/>' if a else "") + f'<w:family w:val="{fam}"/></w:font>'
        for n, a, fam in _FONTS)
    return f'{XML_HEAD}<w:fonts xmlns:w="{W_NS}">{fonts}</w:fonts>'


def content_types_xml(footers: int) -> str:
    ov = [("/word/document.xml",
           "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
          ("/word/styles.xml",
           "application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"),
          ("/word/settings.xml",
           "application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"),
          ("/word/fontTable.xml",
           "application/vnd.openxmlformats-officedocument.wordprocessingml.fontTable+xml")]
    ov += [(f"/word/footer{i}.xml",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml")
           for i in range(1, footers + 1)]
    ov += [("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
           ("/docProps/app.xml",
            "application/vnd.openxmlformats-officedocument.extended-properties+xml")]
    body = "".join(f'<Override PartName="{p}" ContentType="{t}"/>' for p, t in ov)
    return (f'{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>' + body + "</Types>")


RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OD = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def root_rels_xml() -> str:
    return (f'{XML_HEAD}<Relationships xmlns="{RELS_NS}">'
            f'<Relationship Id="rId1" Type="{_OD}/officeDocument" Target="word/document.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
            'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
            f'<Relationship Id="rId3" Type="{_OD}/extended-properties" Target="docProps/app.xml"/>'
            "</Relationships>")


def document_rels_xml(footers: int) -> str:
    rels = [("rIdStyles", "styles", "styles.xml"), ("rIdSettings", "settings", "settings.xml"),
            ("rIdFonts", "fontTable", "fontTable.xml"), ("rIdFooterOdd", "footer", "footer1.xml")]
    if footers > 1:
        rels.append(("rIdFooterEven", "footer", "footer2.xml"))
    body = "".join(f'<Relationship Id="{i}" Type="{_OD}/{t}" Target="{p}"/>' for i, t, p in rels)
    return f'{XML_HEAD}<Relationships xmlns="{RELS_NS}">{body}</Relationships>'


FIXED_TIME = "2021-05-06T00:00:00Z"   # the guideline's date: generated templates carry no clock


def core_xml(title: str, identifier: str, subject: str) -> str:
    return (f'{XML_HEAD}<cp:coreProperties '
            'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:dcmitype="http://purl.org/dc/dcmitype/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:title>{escape(title)}</dc:title><dc:subject>{escape(subject)}</dc:subject>"
            f"<dc:creator>sgz</dc:creator><dc:identifier>{escape(identifier)}</dc:identifier>"
            "<cp:lastModifiedBy>sgz</cp:lastModifiedBy><cp:revision>1</cp:revision>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{FIXED_TIME}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{FIXED_TIME}</dcterms:modified>'
            "</cp:coreProperties>")


def app_xml() -> str:
    return (f'{XML_HEAD}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
            'extended-properties"><Application>sgz</Application></Properties>')
