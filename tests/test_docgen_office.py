"""Every template's sample renders, opens in LibreOffice and converts to PDF; PNG previews.

Previews of each first page go to build/previews/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from archive.docgen.build import buildable_folders
from archive.docgen.engine import render, sample_station_vars
from archive.docgen.manifest import default_templates_dir, load_manifest
from archive.pdf.office import convert_to_pdf, find_soffice

pytestmark = pytest.mark.libreoffice
PREVIEWS = Path(__file__).resolve().parent.parent / "build" / "previews"


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if find_soffice() is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    work = tmp_path_factory.mktemp("lo")
    station = sample_station_vars()
    docs = []
    for folder in buildable_folders(default_templates_dir()):
        m = load_manifest(folder)
        path = work / f"{m.id}.docx"
        path.write_bytes(render(m, {}, station, today=dt.date(2026, 3, 2), sample=True).data)
        docs.append(path)
    return {p.stem: p for p in convert_to_pdf(docs, work / "pdf", timeout=600)}


def test_every_template_converts_to_pdf(pdfs: dict[str, Path]) -> None:
    expected = {f.name for f in buildable_folders(default_templates_dir())}
    assert set(pdfs) == expected
    for path in pdfs.values():
        assert path.read_bytes()[:5] == b"%PDF-"


def test_first_page_previews(pdfs: dict[str, Path]) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    PREVIEWS.mkdir(parents=True, exist_ok=True)
    for name, pdf in pdfs.items():
        subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile",
                        str(pdf), str(PREVIEWS / name)], check=True, timeout=60)
        assert (PREVIEWS / f"{name}.png").stat().st_size > 1000


def test_plaque_pdf_preview() -> None:
    from archive.docgen.plaque import render_plaque

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    PREVIEWS.mkdir(parents=True, exist_ok=True)
    pdf = PREVIEWS / "plaque.pdf"
    pdf.write_bytes(render_plaque(sample_station_vars(), "60x40", "pdf"))
    subprocess.run(["pdftoppm", "-png", "-r", "10", "-singlefile", str(pdf),
                    str(PREVIEWS / "plaque")], check=True, timeout=60)
    assert (PREVIEWS / "plaque.png").is_file()
