"""GB/T 9704 layout properties of built templates, checked in the docx XML."""

from __future__ import annotations

import io
import zipfile

import pytest
from lxml import etree

from archive.docgen.build import build_template, buildable_folders
from archive.docgen.manifest import default_templates_dir, load_manifest

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
ROOT = default_templates_dir()


def parts(folder_name: str) -> dict[str, etree._Element]:
    with zipfile.ZipFile(io.BytesIO(build_template(ROOT / folder_name))) as zf:
        return {n: etree.fromstring(zf.read(n)) for n in zf.namelist() if n.endswith(".xml")}


def style(styles: etree._Element, sid: str) -> etree._Element:
    el = styles.find(f"{W}style[@{W}styleId='{sid}']")
    assert el is not None, sid
    return el


def attr(el: etree._Element | None, path: str, name: str) -> str | None:
    assert el is not None
    found = el.find(path)
    return None if found is None else found.get(f"{W}{name}")


@pytest.fixture(scope="module")
def gbt() -> dict[str, etree._Element]:
    return parts("confidentiality-rules")


def test_a4_and_margins(gbt: dict) -> None:
    sect = gbt["word/document.xml"].find(f"{W}body/{W}sectPr")
    assert attr(sect, f"{W}pgSz", "w") == "11906" and attr(sect, f"{W}pgSz", "h") == "16838"
    mar = sect.find(f"{W}pgMar")
    got = {k: int(mar.get(f"{W}{k}")) / 1440 * 25.4 for k in ("top", "left", "bottom", "right")}
    assert got == pytest.approx({"top": 37, "left": 28, "bottom": 35, "right": 26}, abs=0.05)


def test_body_title_heading_fonts(gbt: dict) -> None:
    styles = gbt["word/styles.xml"]
    expect = {"Normal": ("仿宋_GB2312", 32), "Title": ("方正小标宋简体", 44),
              "Heading1": ("黑体", 32), "Heading2": ("楷体_GB2312", 32)}
    for sid, (font, half_points) in expect.items():
        st = style(styles, sid)
        assert attr(st, f"{W}rPr/{W}rFonts", "eastAsia") == font
        assert attr(st, f"{W}rPr/{W}sz", "val") == str(half_points)
    assert attr(style(styles, "Title"), f"{W}pPr/{W}jc", "val") == "center"
    normal = style(styles, "Normal")
    assert attr(normal, f"{W}pPr/{W}spacing", "lineRule") == "exact"
    assert int(attr(normal, f"{W}pPr/{W}spacing", "line")) / 20 == pytest.approx(28.95, abs=0.05)
    assert attr(normal, f"{W}pPr/{W}ind", "firstLineChars") == "200"
    assert attr(normal, f"{W}pPr/{W}ind", "firstLine") == "640"      # 2 × 16 pt


def test_every_style_sets_east_asian_font(gbt: dict) -> None:
    styles = gbt["word/styles.xml"]
    assert styles.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr/{W}rFonts").get(f"{W}eastAsia")
    for st in styles.iter(f"{W}style"):
        if st.get(f"{W}type") in ("paragraph", "character") and st.find(f"{W}rPr") is not None:
            assert st.find(f"{W}rPr/{W}rFonts").get(f"{W}eastAsia"), st.get(f"{W}styleId")


def test_document_uses_styles(gbt: dict) -> None:
    body = gbt["word/document.xml"].find(f"{W}body")
    used = [p.find(f"{W}pPr/{W}pStyle").get(f"{W}val") for p in body.iter(f"{W}p")]
    assert used[0] == "Title" and {"Heading1", "Normal", "SgzRight"} <= set(used)


def test_page_numbers_odd_right_even_left(gbt: dict) -> None:
    assert gbt["word/settings.xml"].find(f"{W}evenAndOddHeaders") is not None
    sect = gbt["word/document.xml"].find(f"{W}body/{W}sectPr")
    kinds = {r.get(f"{W}type") for r in sect.findall(f"{W}footerReference")}
    assert kinds == {"default", "even"}
    odd, even = gbt["word/footer1.xml"], gbt["word/footer2.xml"]
    for footer, side in ((odd, "right"), (even, "left")):
        p = footer.find(f"{W}p")
        assert attr(p, f"{W}pPr/{W}jc", "val") == side
        text = "".join(t.text for t in p.iter(f"{W}t"))
        assert text == "— 1 —"
        assert "PAGE" in "".join(t.text for t in p.iter(f"{W}instrText"))
    footer_style = style(gbt["word/styles.xml"], "Footer")
    assert attr(footer_style, f"{W}rPr/{W}rFonts", "eastAsia") == "宋体"
    assert attr(footer_style, f"{W}rPr/{W}sz", "val") == "28"            # 4号 = 14 pt


def test_landscape_form() -> None:
    p = parts("archive-catalogue")
    sect = p["word/document.xml"].find(f"{W}body/{W}sectPr")
    assert attr(sect, f"{W}pgSz", "orient") == "landscape"
    assert attr(sect, f"{W}pgSz", "w") == "16838"
    assert p["word/settings.xml"].find(f"{W}evenAndOddHeaders") is None
    heads = [c for c in p["word/document.xml"].iter(f"{W}tc")][:9]
    assert ["".join(t.text for t in c.iter(f"{W}t")) for c in heads] == [
        "序号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注"]


def _gbt_folders() -> list:
    return [f for f in buildable_folders(ROOT) if load_manifest(f).layout == "gbt9704"]


@pytest.mark.parametrize("folder", _gbt_folders(), ids=lambda p: p.name)
def test_gbt9704_templates_are_a4_with_standard_margins(folder) -> None:
    sect = parts(folder.name)["word/document.xml"].find(f"{W}body/{W}sectPr")
    assert attr(sect, f"{W}pgMar", "top") == "2098" and attr(sect, f"{W}pgMar", "left") == "1587"
