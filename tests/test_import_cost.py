"""Every `sgz` command imports the library (`archive.app`); the PDF/A validator, the
spreadsheet writer and the PDF drawing and rendering libraries are loaded only by the commands
that draw or check a PDF or write a spreadsheet. Together they cost every command ~0.45 s.
The PDF object library, Word writer, templating, imaging and BagIt libraries likewise load only
where a PDF is stamped, watermarked or made PDF/A, a document generated or printed, or a
transfer package written or checked (another ~0.2 s)."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO

HEAVY = ("pikepdf.pdfa", "openpyxl", "reportlab.pdfgen", "reportlab.pdfbase.pdfmetrics",
         "pypdfium2", "jsonschema", "numpy", "pikepdf", "docx", "docxtpl", "jinja2", "PIL",
         "bagit")


def test_importing_the_library_loads_no_drawing_or_spreadsheet_library() -> None:
    code = ("import json, sys\nimport archive.app\n"
            f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                       check=True)
    assert json.loads(r.stdout) == []


def test_the_libraries_still_load_where_they_are_used(tmp_path) -> None:
    """The control: the same check sees them once a stamp is drawn and a sheet is written."""
    code = ("import json, sys\nimport archive.app\n"
            "from archive.pdf.stamp import _overlay\n"
            "_overlay(595.0, 842.0, ['Z001', '2026', '0001', '10年', '行政', '1'], None, 40.0)\n"
            "from archive.paper.catalogue import catalogue_xlsx\n"
            "from archive.paper.items import Fonds, Group, PaperItem\n"
            "item = PaperItem('Z001-WS·2026-D30-XZ-0001', 2026, 'D30', 'XZ', '行政', 1, '通知')\n"
            "assert catalogue_xlsx([Group(2026, 'D30', 'XZ', '行政', (item,))],"
            " Fonds('Z001', '测试站'))[:2] == b'PK'\n"
            f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    loaded = json.loads(r.stdout)
    assert {"reportlab.pdfgen", "openpyxl", "docx"} <= set(loaded)


def test_an_extraction_worker_does_not_load_the_index() -> None:
    """A spawned extraction worker imports `archive.search.extract` (to unpickle its target):
    that must not bring the index, SQLCipher or the query code — 0.09 s of CPU per worker,
    two workers per `sgz file` or `sgz index rebuild`, on the cores filing needs."""
    code = ("import json, sys\nimport archive.search.extract\n"
            "print(json.dumps([m for m in ('archive.search.index', 'sqlcipher3',"
            " 'archive.search.query', 'archive.search.snippet') if m in sys.modules]))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                       check=True)
    assert json.loads(r.stdout) == []
