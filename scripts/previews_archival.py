"""Write sample archival outputs under build/previews/ to look at (not committed).

Usage (from the repo root): PYTHONPATH=. python scripts/previews_archival.py
Writes: stamped-page.pdf / stamped-page1.png / stamped-stamp-zoom.png (归档章 on a PDF/A-2b
rendition), catalogue.pdf, beikao.pdf, spine.pdf (+ PNGs), and transfer-2026/ (a demo year's
transfer package with its 四性检测报告).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from paper_fixtures import FONDS, demo_items  # noqa: E402
from transfer_fixtures import STATION, demo_year, opener  # noqa: E402

from archive.paper.boxes import BoxNote  # noqa: E402
from archive.paper.prints import render_print  # noqa: E402
from archive.transfer import checks  # noqa: E402
from archive.transfer.writer import export_year  # noqa: E402


def main() -> None:
    out = ROOT / "build" / "previews"
    out.mkdir(parents=True, exist_ok=True)
    pkg = out / "transfer-2026"
    shutil.rmtree(pkg, ignore_errors=True)
    records, blobs = demo_year(6)
    _s, rep = export_year(records, opener(blobs), pkg, station=STATION, year=2026,
                          created_at="2026-12-01T09:00:00", reason="2026年度档案进馆",
                          approved_by="张三", exported_by="李四")
    print(checks.format_report(rep))
    ref = records[2].meta.ref
    shutil.copy(pkg / "电子档案" / "2026" / "FW" / ref / "长期保存版本.pdf", out / "stamped-page.pdf")
    pdf = str(out / "stamped-page.pdf")
    subprocess.run(["pdftoppm", "-r", "80", "-f", "1", "-l", "1", "-png", "-singlefile", pdf,
                    str(out / "stamped-page1")], check=True)
    subprocess.run(["pdftoppm", "-r", "200", "-f", "1", "-l", "1", "-x", "550", "-y", "0", "-W",
                    "560", "-H", "220", "-png", "-singlefile", pdf,
                    str(out / "stamped-stamp-zoom")], check=True)
    items = demo_items(7) + demo_items(3, cls="XZ", cls_name="行政", retention="Y")
    boxed = demo_items(12)
    notes = {str(b): BoxNote("李四", "张三", "2026年12月1日") for b in range(1, 4)}
    for name, kind, its in (("catalogue", "catalogue", items), ("beikao", "备考表", boxed),
                            ("spine", "盒脊", boxed)):
        (out / f"{name}.pdf").write_bytes(render_print(kind, its, FONDS, f"{name}.pdf",
                                                       notes=notes, thickness_mm=30))
        subprocess.run(["pdftoppm", "-r", "60", "-png", str(out / f"{name}.pdf"),
                        str(out / name)], check=True)
    print(f"written under {out}")


if __name__ == "__main__":
    main()
