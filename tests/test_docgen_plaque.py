"""The station plaque at true size: SVG in cm, PDF page of the same size, character cells."""

from __future__ import annotations

import io
import re

import pikepdf
import pytest

from archive.docgen.plaque import plaque_layout, render_plaque

STATION = {"county": "长春市双阳区", "township": "奢岭街道"}


@pytest.mark.parametrize("size,w,h", [("60x40", 60, 40), ("70x50", 70, 50)])
def test_svg_true_size(size: str, w: int, h: int) -> None:
    svg = render_plaque(STATION, size, "svg").decode()
    assert f'width="{w}cm"' in svg and f'height="{h}cm"' in svg
    assert f'viewBox="0 0 {w * 10} {h * 10}"' in svg
    assert len(re.findall(r'font-size="50"', svg)) == len("长春市双阳区奢岭街道")
    assert len(re.findall(r'font-size="70"', svg)) == len("社会工作服务站")
    assert re.search(r'<rect id="logo" [^>]*width="120" height="120"', svg)
    assert "标识" in svg


@pytest.mark.parametrize("size,w,h", [("60x40", 60, 40), ("70x50", 70, 50)])
def test_pdf_true_size(size: str, w: int, h: int) -> None:
    pdf = pikepdf.open(io.BytesIO(render_plaque(STATION, size, "pdf")))
    box = [float(v) for v in pdf.pages[0].MediaBox]
    assert box[2] / 72 * 2.54 == pytest.approx(w, abs=0.01)
    assert box[3] / 72 * 2.54 == pytest.approx(h, abs=0.01)


def test_layout_cells_fit_and_do_not_overlap() -> None:
    for size in ("60x40", "70x50"):
        lay = plaque_layout(STATION, size)
        name = [g for g in lay.glyphs if g.size == 50]
        assert "".join(g.char for g in name) == "长春市双阳区奢岭街道"
        assert all(g.width == 50 for g in name)
        tops = sorted({g.cy - g.size / 2 for g in lay.glyphs})
        assert tops[0] > lay.logo[1] + lay.logo[2]
        assert max(g.cy + g.size / 2 for g in lay.glyphs) < lay.height
        assert max(g.cx + g.width / 2 for g in lay.glyphs) < lay.width


def test_long_name_splits_into_two_lines() -> None:
    lay = plaque_layout({"county": "某某自治州某某市", "township": "某某镇某某乡"}, "60x40")
    assert len({g.cy for g in lay.glyphs if g.size == 50}) == 2
