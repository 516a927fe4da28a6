"""Large file on the user's path: `Archive.records.file` / `Archive.records.get` on a real,
initialised station home (real KDF), and the ObjectStore layer underneath (stage + publish,
age decrypt), against the Debian `age` CLI on the same file in the same run; every output is
fsynced (age's by the bench right after the CLI exits, as a user's copy would be).

Each measurement runs in its own child process. Unlocking (scrypt 2^18, ~256 MiB) is not
timed; the memory figure is the peak RSS during the call minus the peak RSS that unlocking
alone took (the goal's definition), with the growth over the settled RSS after unlock beside
it (the peak is reset through /proc/self/clear_refs before the call).

The file is a realistic big type, chosen with --kind: `mp4` (a video of an activity: sniffed
from its first bytes, no text, no archival PDF), `zip` (sniffed through its central directory)
or `pdf` (title and text skipped by size; `sgz file` also makes the archival PDF at once, which
is refused by size). `file` is called as the CLI calls it: with indexing and
archive_pdf_now=ARCHIVE_PDF_NOW.

Before each timed write the page cache is levelled (a scratch file of the same size is written
and deleted: see `level`), so no side pays alone for the VM growing its page cache.

Usage: PYTHONPATH=. python bench/bench_bigfile.py [--mib 1024] [--runs 3] [--kind mp4]
       [--only service|store] [--before /path/to/main/checkout] [--no-level]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PASS = "bench-passphrase-长一点的口令"
USER = "zhanzhang"

_CHILD = r"""
import json, os, resource, sys, time
from pathlib import Path

def status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                out[k] = int(v.split()[0]) / 1024
    return out

def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

mode, args = sys.argv[1], json.loads(sys.argv[2])
from archive.app import Archive
from archive.crypto import age
from archive.records.service import ARCHIVE_PDF_NOW
from archive.vault.objects import ObjectStore
arc = None
if mode.startswith("svc"):
    arc = Archive.unlock(Path(args["home"]), user=args["user"], passphrase=args["passphrase"])
before = status()  # VmHWM: what unlocking (or the imports) took at its peak
reset_peak()
settled = status()["VmRSS"]
t = time.perf_counter()
r0 = resource.getrusage(resource.RUSAGE_SELF)
result = None
if mode == "svc-file":
    res = arc.records.file([args["src"]], category="FW", year=2026,
                           archive_pdf_now=ARCHIVE_PDF_NOW)
    result = res[0].ref
elif mode == "svc-get":
    arc.records.get(args["ref"], args["out"], reason="核对大文件")
elif mode == "store-file":
    store = ObjectStore(Path(args["vault"]))
    store.create_dirs()
    with open(args["src"], "rb") as f:
        obj = store.stage(f, os.urandom(32), sync=True)
    store.publish(obj.object_id)
    result = [obj.object_id, obj.identity.hex()]
elif mode == "store-get":
    store = ObjectStore(Path(args["vault"]))
    identity = age.X25519Identity.from_secret_bytes(bytes.fromhex(args["identity"]))
    with store.open(args["oid"]) as f, open(args["out"], "wb") as out:
        age.decrypt(f, out, [identity])
        out.flush()
        os.fsync(out.fileno())
dt = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
peak = status()["VmHWM"]
if arc is not None:
    arc.close()
import archive
print(json.dumps({"t": dt, "cpu": cpu, "code": archive.__file__, "above_unlock": peak - before["VmHWM"],
                  "above_settled": peak - settled, "unlock_peak": before["VmHWM"],
                  "result": result}))
"""


def make_source(path: Path, mib: int, kind: str) -> None:
    """A file of `kind` with `mib` MiB of random payload (random data never starts the file,
    so it cannot look like an executable)."""
    if kind == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z, \
                z.open("活动录像.bin", "w", force_zip64=True) as f:
            for _ in range(mib):
                f.write(os.urandom(1 << 20))
        return
    with open(path, "wb") as f:
        if kind == "mp4":
            f.write(b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41")
            f.write((8 + (mib << 20)).to_bytes(4, "big") + b"mdat")
        else:  # pdf: one big binary stream
            f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length " + str(mib << 20).encode()
                    + b" >>\nstream\n")
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
        if kind == "pdf":
            f.write(b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")


def fsync_path(p: Path) -> None:
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def level(work: Path, size: int) -> None:
    """Write and delete a scratch file as large as the one about to be written, so every
    timed writer finds the same freed page cache: on this VM the first time the page cache
    grows by a GiB costs ~2.4 s of kernel time, which otherwise lands on whoever writes a new
    GiB first (measured: `get` 2.04× `age -d` in the bench, 0.45× when rerun)."""
    scratch = work / "level.tmp"
    block = b"\0" * (1 << 20)
    with open(scratch, "wb") as f:
        for _ in range(size // len(block) + 1):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
    scratch.unlink()


def run_age(args: list[str], out: Path) -> tuple[float, float]:
    """Wall time (with the fsync) and CPU time of one `age` run."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(["age", *args], check=True)
    fsync_path(out)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (time.perf_counter() - t,
            r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)


def child(mode: str, repo: Path = REPO, **args: object) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(repo)}
    r = subprocess.run([sys.executable, "-c", _CHILD, mode, json.dumps(args)], env=env,
                       capture_output=True, text=True, cwd=repo)  # -c puts the cwd first
    if r.returncode != 0:
        sys.exit(f"{mode} failed:\n{r.stderr}")
    out: dict[str, object] = json.loads(r.stdout.strip().splitlines()[-1])
    assert Path(str(out["code"])).is_relative_to(repo), (out["code"], repo)
    return out


def new_home(path: Path) -> None:
    from archive.app import Archive

    arc, _code = Archive.init(path, user=USER, role="head", passphrase=PASS)
    arc.close()


def main() -> None:
    from archive.crypto import age

    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--kind", choices=("mp4", "zip", "pdf"), default="mp4")
    ap.add_argument("--only", choices=("service", "store"), default=None)
    ap.add_argument("--dir", default=None, help="work folder (default: system temp)")
    ap.add_argument("--no-level", action="store_true",
                    help="do not level the page cache before each timed write (see level())")
    ap.add_argument("--before", default=None,
                    help="another checkout (e.g. main) measured in the same runs, as 'before'")
    args = ap.parse_args()
    if shutil.which("age") is None:
        sys.exit("age CLI not installed (apt-get install age)")
    work = Path(tempfile.mkdtemp(prefix="sgzbig", dir=args.dir))
    service, store = args.only in (None, "service"), args.only in (None, "store")
    try:
        src = work / f"活动录像.{args.kind}"
        make_source(src, args.mib, args.kind)
        size = src.stat().st_size
        ident = age.X25519Identity.generate()
        idfile = work / "id.txt"
        fd = os.open(idfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, str(ident).encode() + b"\n")
        os.close(fd)
        rec = str(ident.recipient())
        times: dict[str, list[float]] = {"age enc": [], "age dec": []}
        cpus: dict[str, list[float]] = {"age enc": [], "age dec": []}
        mem: dict[str, list[tuple[float, float]]] = {}
        unlock_peak = 0.0

        def note(name: str, r: dict[str, object]) -> None:
            times.setdefault(name, []).append(float(r["t"]))  # type: ignore[arg-type]
            cpus.setdefault(name, []).append(float(r["cpu"]))  # type: ignore[arg-type]
            mem.setdefault(name, []).append((float(r["above_unlock"]),  # type: ignore[arg-type]
                                             float(r["above_settled"])))  # type: ignore[arg-type]

        versions: list[tuple[str, Path]] = [("", REPO)]
        if args.before:
            versions.insert(0, ("before", Path(args.before).resolve()))
        for i in range(args.runs):
            enc, dec = work / f"a{i}.age", work / f"a{i}.out"
            for name, cmd, out_ in (("age enc", ["-r", rec, "-o", str(enc), str(src)], enc),
                                    ("age dec", ["-d", "-i", str(idfile), "-o", str(dec),
                                                 str(enc)], dec)):
                if not args.no_level:
                    level(work, size)
                wall, cpu = run_age(cmd, out_)
                times[name].append(wall)
                cpus[name].append(cpu)
            enc.unlink()
            dec.unlink()
            for label, repo in versions:
                tag = f" {label}" if label else ""
                if service:
                    home, out = work / f"home{i}", work / f"svc{i}.{args.kind}"
                    new_home(home)
                    if not args.no_level:
                        level(work, size)
                    r = child("svc-file", repo, home=str(home), user=USER, passphrase=PASS,
                              src=str(src))
                    note(f"file (service){tag}", r)
                    unlock_peak = max(unlock_peak, float(r["unlock_peak"]))  # type: ignore[arg-type]
                    if not args.no_level:
                        level(work, size)
                    note(f"get (service){tag}", child("svc-get", repo, home=str(home), user=USER,
                                                     passphrase=PASS, ref=r["result"],
                                                     out=str(out)))
                    assert out.stat().st_size == size
                    out.unlink()
                    shutil.rmtree(home)
                if store:
                    vault, out = work / f"v{i}", work / f"o{i}"
                    if not args.no_level:
                        level(work, size)
                    r = child("store-file", repo, vault=str(vault), src=str(src))
                    note(f"file (ObjectStore){tag}", r)
                    oid, identity = r["result"]  # type: ignore[misc]
                    if not args.no_level:
                        level(work, size)
                    note(f"get (ObjectStore){tag}", child("store-get", repo, vault=str(vault),
                                                         oid=oid, identity=identity,
                                                         out=str(out)))
                    assert out.stat().st_size == size
                    out.unlink()
                    shutil.rmtree(vault)
        med = {k: statistics.median(v) for k, v in times.items()}
        cmed = {k: statistics.median(v) for k, v in cpus.items()}
        print(f"{args.mib} MiB .{args.kind}, median of {args.runs} runs (wall with fsync; CPU of "
              f"all threads); unlock peak RSS {unlock_peak:.0f} MB")
        print(f"  {'':27s} {'wall s':>7s} {'MiB/s':>7s} {'× age':>6s} {'CPU s':>6s} {'× age':>6s} "
              f"{'RSS+unlock':>10s} {'RSS+settled':>11s}")
        for k, v in med.items():
            base = "age dec" if k.startswith("get") or k == "age dec" else "age enc"
            peak = (f"{max(m[0] for m in mem[k]):7.0f} MB {max(m[1] for m in mem[k]):8.0f} MB"
                    if k in mem else "")
            print(f"  {k:27s} {v:7.2f} {args.mib / v:7.1f} {v / med[base]:6.2f} {cmed[k]:6.2f} "
                  f"{cmed[k] / cmed[base]:6.2f} {peak}")
        print("  walls (s): " + "; ".join(f"{k} {', '.join(f'{x:.2f}' for x in v)}"
                                           for k, v in times.items()))
        print("  goal: file and get (service) ≤ 1.2 × age; peak RSS ≤ 100 MB above unlock")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
