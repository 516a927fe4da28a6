"""Throughput of age encrypt/decrypt on a 256 MiB file, against a plain copy in the same run.

Usage (from the repo root): PYTHONPATH=. python bench/bench_age.py [--mib 256] [--dir DIR]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

from archive.crypto.age import X25519Identity, decrypt, encrypt


def _timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--dir", default=None, help="directory for the temporary files")
    args = parser.parse_args()
    size = args.mib * 1024 * 1024
    identity = X25519Identity.generate()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        plain, copy, enc, dec = (Path(tmp) / n for n in ("plain", "copy", "enc.age", "dec"))
        block = os.urandom(1024 * 1024)
        with plain.open("wb") as f:
            for _ in range(args.mib):
                f.write(block)

        def do_copy() -> None:
            with plain.open("rb") as s, copy.open("wb") as d:
                shutil.copyfileobj(s, d, 1024 * 1024)

        def do_encrypt() -> None:
            with plain.open("rb") as s, enc.open("wb") as d:
                encrypt(s, d, [identity.recipient()])

        def do_decrypt() -> None:
            with enc.open("rb") as s, dec.open("wb") as d:
                decrypt(s, d, [identity])

        class _Null(io.RawIOBase):
            def writable(self) -> bool:
                return True

            def write(self, b: object) -> int:  # type: ignore[override]
                return len(memoryview(b))  # type: ignore[arg-type]

        mem = plain.read_bytes()

        def mem_encrypt() -> None:
            encrypt(io.BytesIO(mem), _Null(), [identity.recipient()])

        t_mem = min(_timed(mem_encrypt) for _ in range(2))
        do_copy()  # warm the page cache
        t_copy = min(_timed(do_copy) for _ in range(2))
        t_enc = min(_timed(do_encrypt) for _ in range(2))
        t_dec = min(_timed(do_decrypt) for _ in range(2))
        assert dec.read_bytes() == plain.read_bytes()
    mb = size / 1e6
    print(f"size            {args.mib} MiB")
    print(f"plain copy      {mb / t_copy:8.0f} MB/s")
    print(f"age encrypt     {mb / t_enc:8.0f} MB/s  ({t_enc / t_copy:.2f}x copy time)")
    print(f"age decrypt     {mb / t_dec:8.0f} MB/s  ({t_dec / t_copy:.2f}x copy time)")
    print(f"encrypt, no I/O {mb / t_mem:8.0f} MB/s  (memory to null sink: the CPU bound)")


if __name__ == "__main__":
    main()
