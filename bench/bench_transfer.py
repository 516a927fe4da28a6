"""Bench: `sgz transfer export` and `sgz transfer verify` on a demo year, through the CLI.

Usage (from the repo root): PYTHONPATH=. python bench/bench_transfer.py [--records N] [--kib K]
Files N records into a fresh station home (each a PDF 正文 with K KiB of incompressible payload,
plus a JPEG 签字扫描件 component), then times in the same run: (1) baseline — copy every
component's plaintext and hash it with SHA-256 and SM3 (the unavoidable work); (2) `sgz transfer
export --no-renditions` (decrypt through the door with one audit entry per component, EEP with
Base64, digests, manifests, the four checks); (3) `sgz transfer verify`; (4) `sgz transfer
export` with stamped PDF/A-2b renditions. CLI times include process start and unlock (cheap
scrypt, as in the tests).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pikepdf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the demo-year fixtures
from transfer_fixtures import pdf_bytes, scan_bytes  # noqa: E402

from archive.app import Archive  # noqa: E402

PASS = "correct-horse-battery"


def _payload_pdf(title: str, kib: int) -> bytes:
    pdf = pikepdf.open(io.BytesIO(pdf_bytes(title, 3)))
    pdf.Root.SgzPayload = pdf.make_stream(os.urandom(kib * 1024))  # not drawn; makes size real
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _sgz(args: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "archive.cli.main", *args], env=env,
                       capture_output=True, text=True)
    took = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"sgz {' '.join(args)} failed ({r.returncode}): {r.stderr[-2000:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200)
    ap.add_argument("--kib", type=int, default=300)
    args = ap.parse_args()
    n = args.records
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        src = root / "src"
        src.mkdir()
        home = root / "station"
        arc, _code = Archive.init(home, user="zhangsan", role="head", passphrase=PASS,
                                  kdf_work_factor=10)
        mains = []
        for i in range(1, n + 1):
            p = src / f"通知{i:04d}.pdf"
            p.write_bytes(_payload_pdf(f"关于第{i}号救助的通知", args.kib))
            mains.append(p)
        t = time.perf_counter()
        refs = [r.ref for r in arc.records.file(mains, category="FW", year=2026, retention="D30",
                                                index=False, archive_pdf_now=0)]
        for i, ref in enumerate(refs, start=1):
            s = src / f"扫描{i:04d}.jpg"
            s.write_bytes(scan_bytes(i % 200))
            arc.records.file([s], of=ref, kind="签字扫描件", index=False)
        filing = time.perf_counter() - t
        arc.close()
        plain = sorted(src.iterdir())
        mb = sum(p.stat().st_size for p in plain) / 1e6

        t = time.perf_counter()
        (root / "base").mkdir()
        for p in plain:
            data = p.read_bytes()
            (root / "base" / p.name).write_bytes(data)
            hashlib.sha256((root / "base" / p.name).read_bytes()).hexdigest()
            hashlib.new("sm3", data).hexdigest()
        base = time.perf_counter() - t

        env = {k: v for k, v in os.environ.items() if not k.startswith("SGZ_")}
        env.update({"SGZ_HOME": str(home), "SGZ_USER": "zhangsan", "SGZ_PASSPHRASE": PASS})
        exp = _sgz(["transfer", "export", "--year", "2026", "-o", str(root / "plain"),
                    "--reason", "bench", "--no-renditions"], env)
        ver = _sgz(["transfer", "verify", str(root / "plain")], env)
        exp_r = _sgz(["transfer", "export", "--year", "2026", "-o", str(root / "pdfa"),
                      "--reason", "bench"], env)
        ver_r = _sgz(["transfer", "verify", str(root / "pdfa")], env)
    print(f"{n} records ({n} PDFs of ~{args.kib} KiB + {n} JPEG scans), {mb:.1f} MB of "
          f"components; filed in {filing:.1f} s")
    print(f"baseline copy+SHA-256+SM3:   {base:6.2f} s  {mb / base:7.1f} MB/s")
    print(f"sgz transfer export:         {exp:6.2f} s  {n / exp:7.1f} records/s  "
          f"{mb / exp:6.1f} MB/s  ({exp / base:.1f}x baseline; includes the four checks)")
    print(f"sgz transfer verify:         {ver:6.2f} s  {n / ver:7.1f} records/s  "
          f"{mb / ver:6.1f} MB/s  ({ver / base:.1f}x baseline)")
    print(f"export with PDF/A + 归档章:   {exp_r:6.2f} s  {n / exp_r:7.1f} records/s  "
          f"{mb / exp_r:6.1f} MB/s")
    print(f"verify (with renditions):    {ver_r:6.2f} s  {n / ver_r:7.1f} records/s")


if __name__ == "__main__":
    main()
