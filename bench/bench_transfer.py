"""Bench: transfer export and `transfer verify` rates against copying + hashing the same bytes.

Usage (from the repo root): PYTHONPATH=. python bench/bench_transfer.py [--records N] [--kib K]
Builds N records, each a PDF 正文 (text pages plus K KiB of incompressible payload) and a JPEG
scan, then in the same run times: (1) baseline — write every component to disk and hash it with
SHA-256 and SM3 (the unavoidable work); (2) export without renditions (EEP with Base64, digests,
manifests, the four checks); (3) verify only; (4) export with stamped PDF/A-2b renditions.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import pikepdf

from archive.transfer import checks
from archive.transfer.model import Component, TransferRecord
from archive.transfer.writer import export_year

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the demo-year fixtures
from paper_fixtures import demo_items  # noqa: E402
from transfer_fixtures import STATION, opener, pdf_bytes, scan_bytes  # noqa: E402


def _payload_pdf(title: str, kib: int) -> bytes:
    pdf = pikepdf.open(io.BytesIO(pdf_bytes(title, 3)))
    pdf.Root.SgzPayload = pdf.make_stream(os.urandom(kib * 1024))  # not drawn; makes size real
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200)
    ap.add_argument("--kib", type=int, default=300)
    args = ap.parse_args()
    items = demo_items(args.records)
    blobs: dict[tuple[str, int], bytes] = {}
    records = []
    for it in items:
        blobs[(it.ref, 1)] = _payload_pdf(it.title, args.kib)
        blobs[(it.ref, 2)] = scan_bytes(it.item % 200)
        records.append(TransferRecord(it, (Component(1, "正文", "a.pdf"),
                                           Component(2, "签字扫描件", "b.jpg"))))
    total = sum(len(b) for b in blobs.values())
    mb = total / 1e6
    kw = dict(station=STATION, year=2026, created_at="2026-12-01T09:00:00", reason="bench",
              approved_by="张三", exported_by="李四")
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        t = time.perf_counter()
        (root / "base").mkdir()
        for (ref, seq), data in blobs.items():
            p = root / "base" / f"{ref}-{seq}"
            p.write_bytes(data)
            hashlib.sha256(p.read_bytes()).hexdigest()
            hashlib.new("sm3", data).hexdigest()
        base = time.perf_counter() - t
        t = time.perf_counter()
        _s, rep = export_year(records, opener(blobs), root / "plain", renditions=False, **kw)  # type: ignore[arg-type]
        exp = time.perf_counter() - t
        assert rep.ok, checks.format_report(rep)
        t = time.perf_counter()
        assert checks.verify_package(root / "plain").ok
        ver = time.perf_counter() - t
        t = time.perf_counter()
        _s, rep = export_year(records, opener(blobs), root / "pdfa", **kw)  # type: ignore[arg-type]
        exp_r = time.perf_counter() - t
        assert rep.ok, checks.format_report(rep)
    n = args.records
    print(f"{n} records, {mb:.1f} MB of components")
    print(f"baseline copy+SHA-256+SM3: {base:6.2f} s  {mb / base:7.1f} MB/s")
    print(f"export (no renditions):    {exp:6.2f} s  {n / exp:7.1f} records/s  "
          f"{mb / exp:6.1f} MB/s  ({exp / base:.1f}x baseline; includes the four checks)")
    print(f"verify:                    {ver:6.2f} s  {n / ver:7.1f} records/s  "
          f"{mb / ver:6.1f} MB/s  ({ver / base:.1f}x baseline)")
    print(f"export with PDF/A+stamp:   {exp_r:6.2f} s  {n / exp_r:7.1f} records/s  "
          f"{mb / exp_r:6.1f} MB/s")


if __name__ == "__main__":
    main()
