"""Bench: `check --read-data` throughput against plainly reading the same object files.

Usage (from the repo root): PYTHONPATH=. python bench/bench_check.py [--files N] [--mib M]
Files N documents of M MiB of random bytes into a fresh archive (cheap KDF), then in the same
run times (1) reading every object file, (2) re-hashing them (SHA-256, the object name), and
(3) `Archive.check(read_data=True)`: re-hash + audited decrypt + keyed fingerprint per object.
The page cache is warm for all three, so the ratio is CPU cost, not disk speed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

from archive.app import Archive


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--mib", type=float, default=5.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        arc, _ = Archive.init(root / "station", user="bench", role="head",
                              passphrase="bench-passphrase", kdf_work_factor=10)
        size = int(args.mib * (1 << 20))
        for i in range(args.files):
            p = root / f"doc{i}.bin"
            p.write_bytes(os.urandom(size))
            arc.records.file([p], category="XZ")
            p.unlink()
        paths = [arc.kernel.objects.path(o) for o in arc.kernel.objects.iter_ids()]
        total = sum(p.stat().st_size for p in paths)
        mib = total / (1 << 20)

        t = time.perf_counter()
        for p in paths:
            with open(p, "rb") as f:
                while f.read(1 << 20):
                    pass
        t_read = time.perf_counter() - t

        t = time.perf_counter()
        for p in paths:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        t_hash = time.perf_counter() - t

        t = time.perf_counter()
        rep = arc.maintenance.check(read_data=True)
        t_check = time.perf_counter() - t
        assert rep.ok and rep.read == args.files, rep.problems
        arc.close()
    print(f"objects: {args.files} × {args.mib} MiB = {mib:.1f} MiB of ciphertext")
    print(f"plain read:           {t_read:7.3f} s  {mib / t_read:8.1f} MiB/s")
    print(f"read + SHA-256:       {t_hash:7.3f} s  {mib / t_hash:8.1f} MiB/s")
    print(f"check --read-data:    {t_check:7.3f} s  {mib / t_check:8.1f} MiB/s"
          f"  ({t_check / t_read:.1f}× plain read, {t_check / t_hash:.1f}× read + SHA-256)")


if __name__ == "__main__":
    main()
