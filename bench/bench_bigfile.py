"""Large file: the vault's encrypt (stage) and decrypt paths vs the Debian `age` CLI, same file,
same run, both with fsync of their output. Peak RSS of ours is measured in a child process,
above what the child holds after its imports.

Usage: PYTHONPATH=. python bench/bench_bigfile.py [--mib 1024] [--runs 3]
This is the object path `sgz file` / `sgz get` use (ObjectStore.stage, age.decrypt); the
catalogue and audit work of one filing is not included (milliseconds).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_CHILD = r"""
import os, resource, sys, time
from pathlib import Path
from archive.crypto import age
from archive.vault.objects import ObjectStore
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
mode, src, vault = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
store = ObjectStore(vault)
store.create_dirs()
t = time.perf_counter()
if mode == "file":
    with open(src, "rb") as f:
        obj = store.stage(f, os.urandom(32), sync=True)
    store.publish(obj.object_id)
    Path(sys.argv[4]).write_text(obj.object_id + " " + obj.identity.hex())
else:
    oid, ident = Path(sys.argv[4]).read_text().split()
    identity = age.X25519Identity.from_secret_bytes(bytes.fromhex(ident))
    with store.open(oid) as f, open(sys.argv[5], "wb") as out:
        age.decrypt(f, out, [identity])
        out.flush()
        os.fsync(out.fileno())
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(dt, (peak - base) / 1024)
"""


def run_age(args: list[str], out: Path) -> float:
    t = time.perf_counter()
    subprocess.run(["age", *args], check=True)
    fd = os.open(out, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    return time.perf_counter() - t


def run_ours(*args: str) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", _CHILD, *args], check=True, env=env,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    from archive.crypto import age

    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if shutil.which("age") is None:
        sys.exit("age CLI not installed (apt-get install age)")
    work = Path(tempfile.mkdtemp(prefix="sgzbig"))
    try:
        src = work / "big.bin"
        with open(src, "wb") as f:  # a text prefix: never an executable's magic number
            f.write(b"sgz bench: random payload follows\n")
            for _ in range(args.mib):
                f.write(os.urandom(1 << 20))
        ident = age.X25519Identity.generate()
        idfile = work / "id.txt"
        fd = os.open(idfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, str(ident).encode() + b"\n")
        os.close(fd)
        rec = str(ident.recipient())
        times: dict[str, list[float]] = {"age enc": [], "age dec": [], "sgz file": [],
                                         "sgz get": []}
        rss: dict[str, float] = {"sgz file": 0.0, "sgz get": 0.0}
        for i in range(args.runs):
            enc, dec = work / f"a{i}.age", work / f"a{i}.out"
            times["age enc"].append(run_age(["-r", rec, "-o", str(enc), str(src)], enc))
            times["age dec"].append(run_age(["-d", "-i", str(idfile), "-o", str(dec), str(enc)],
                                            dec))
            enc.unlink()
            dec.unlink()
            vault, meta, out = work / f"v{i}", work / f"m{i}", work / f"o{i}"
            t, r = run_ours("file", str(src), str(vault), str(meta))
            times["sgz file"].append(t)
            rss["sgz file"] = max(rss["sgz file"], r)
            t, r = run_ours("get", str(src), str(vault), str(meta), str(out))
            times["sgz get"].append(t)
            rss["sgz get"] = max(rss["sgz get"], r)
            assert os.path.getsize(out) == os.path.getsize(src)
            shutil.rmtree(vault)
            out.unlink()
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{args.mib} MiB, median of {args.runs} runs (wall, with fsync):")
        for k, v in med.items():
            print(f"  {k:9s} {v:7.2f} s  {args.mib / v:7.1f} MiB/s")
        print(f"  file / age encrypt = {med['sgz file'] / med['age enc']:.2f} (goal ≤ 1.2), "
              f"peak RSS above imports {rss['sgz file']:.0f} MB (goal ≤ 100)")
        print(f"  get / age decrypt  = {med['sgz get'] / med['age dec']:.2f} (goal ≤ 1.2), "
              f"peak RSS above imports {rss['sgz get']:.0f} MB (goal ≤ 100)")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
