"""Vault benchmarks (issues #2, #12), each as a ratio to a baseline measured in the same run.

1. Filing 1,000 small .docx/PDF files (half Word, half PDF with a non-embedded CJK font, as
   WPS/Word exports them) in one call, on the path users take: the service call
   `arc.records.file(paths)` and the whole `sgz file a b c …` process, with and without
   indexing; against `--base` (a copy of main's code, e.g. `git archive main | tar -x -C DIR`)
   in the same run, interleaved, medians of `--runs`; bare age+fsync for scale.
   Goal (issue 12): ≥ 300 documents/s with indexing.
   `--only rebuild`: `sgz index rebuild` of the same files filed without indexing (the service
   call and the whole command), against `--base` the same way.
2. Filing and getting a 1 GiB file vs a plain file copy (goal ≥ 70 %), peak RSS (goal ≤ 150 MB).
3. Cold start of `sgz --help` vs `python -c pass` (goal ≤ 150 ms more).

Run: `make bench` or `.venv/bin/python bench/bench_vault.py [--small 1000] [--big-mib 1024]
[--base DIR] [--runs 3] [--corpus DIR] [--only small|big|cold]`.
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

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.crypto import age  # noqa: E402
from archive.host.memory import locking_summary  # noqa: E402

PASS = "bench-passphrase"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SGZ_")}
    env.update(SGZ_HOME=str(home), SGZ_USER="bench", SGZ_PASSPHRASE=PASS,
               SGZ_NEW_PASSPHRASE=PASS, SGZ_KDF_WORK_FACTOR="10")
    return env


def _sgz(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Run sgz; return (seconds, peak RSS bytes) of the child."""
    t = time.perf_counter()
    errf = tempfile.TemporaryFile()
    p = subprocess.Popen([sys.executable, "-m", "archive.cli.main", *args], env=env,
                         stdout=subprocess.DEVNULL, stderr=errf)
    proc = psutil.Process(p.pid)
    peak = 0
    while p.poll() is None:
        try:
            peak = max(peak, proc.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    errf.seek(0)
    err = errf.read().decode(errors="replace")
    if p.returncode:
        raise SystemExit(f"sgz {' '.join(args[:2])} failed: {err}")
    return time.perf_counter() - t, peak


def _small_corpus(folder: Path, n: int) -> list[Path]:
    import docx
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))

    paths = []
    for i in range(n):
        if i % 2 == 0:
            d = docx.Document()
            d.add_heading(f"服务记录 第{i}号", level=1)
            d.add_paragraph("入户走访，了解家庭结构、健康状况、享受政策等基本信息。" * 5 + str(i))
            p = folder / f"doc{i:04d}.docx"
            d.save(p)
        else:  # a small PDF with a Chinese text layer (as exported from WPS/Word)
            p = folder / f"scan{i:04d}.pdf"
            c = canvas.Canvas(str(p))
            c.setTitle(f"服务协议 {i}")
            c.setFont("STSong-Light", 12)
            for line in range(12):
                c.drawString(60, 780 - 20 * line, f"第{line + 1}条 服务对象同意接受社工站服务，编号{i}。")
            c.save()
        paths.append(p)
    return paths


_SERVICE_CHILD = """
import cProfile, sys, time
from pathlib import Path
from archive.app import Archive
home, listfile, index, prof = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
arc, _ = Archive.init(Path(home), user="bench", role="head", passphrase=PASSPHRASE, kdf_work_factor=10)
paths = Path(listfile).read_text(encoding="utf-8").splitlines()
pr = cProfile.Profile(time.thread_time) if prof else None
t = time.perf_counter()
if pr:
    pr.enable()
res = arc.records.file(paths, category="FW", retention="D30", index=index)
if pr:
    pr.disable()
    pr.dump_stats(prof)
wall = time.perf_counter() - t
assert sum(r.status == "filed" for r in res) == len(paths), "not every file was filed"
arc.close()
import resource
own = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime)
print(wall)
""".replace("PASSPHRASE", repr(PASS))


CPU: dict[tuple[str, bool], list[tuple[float, float]]] = {}  # (code, index) → (parent, workers)


def _service_file(code: Path, home: Path, listfile: Path, index: bool, prof: str = "") -> float:
    """Seconds of one in-process `arc.records.file(paths)` call (unlock excluded), run in a
    child whose code is `code` (this tree, or a copy of main as the baseline). The CPU
    seconds of the whole child (init included) and of its extraction workers go to CPU."""
    env = _env(home)
    env["PYTHONPATH"] = str(code)
    out = subprocess.run([sys.executable, "-c", _SERVICE_CHILD, str(home), str(listfile),
                          "1" if index else "0", prof], env=env, cwd=code, check=True,
                         capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    own, kids = map(float, lines[-2].split())
    CPU.setdefault((str(code), index), []).append((own, kids))
    return float(lines[-1])


def _cli_file(code: Path, home: Path, paths: list[Path], index: bool) -> float:
    """Seconds of the whole `sgz file a b c …` process (start, unlock, filing, exit)."""
    env = _env(home)
    env["PYTHONPATH"] = str(code)
    subprocess.run([sys.executable, "-m", "archive.cli.main", "init", "--user", "bench",
                    "--role", "head"], env=env, cwd=code, check=True, capture_output=True)
    args = [sys.executable, "-m", "archive.cli.main", "file", *map(str, paths),
            "--category", "FW", "--retention", "D30", *([] if index else ["--no-index"])]
    t = time.perf_counter()
    subprocess.run(args, env=env, cwd=code, check=True, capture_output=True)
    return time.perf_counter() - t


def bench_small(work: Path, n: int, base: Path | None, runs: int, corpus: Path | None) -> None:
    """1,000 small files in one call, on the path users call: the service call
    `arc.records.file(paths)` and the whole `sgz file` command, with and without indexing;
    against `base` (a copy of main's code) in the same run, interleaved, medians of `runs`."""
    if corpus is not None and corpus.is_dir() and len(list(corpus.iterdir())) >= n:
        paths = sorted(corpus.iterdir())[:n]
    else:
        src = corpus or work / "small"
        src.mkdir(exist_ok=True)
        paths = _small_corpus(src, n)
    total = sum(p.stat().st_size for p in paths)
    listfile = work / "paths.txt"
    listfile.write_text("\n".join(map(str, paths)), encoding="utf-8")
    # baseline: bare age encryption of the same bytes to files, same process
    out = work / "bare"
    out.mkdir()
    t = time.perf_counter()
    for p in paths:
        ident = age.X25519Identity.generate()
        with open(p, "rb") as f, open(out / (p.name + ".age"), "wb") as g:
            age.encrypt(f, g, [ident.recipient()])
            g.flush()
            os.fsync(g.fileno())
    bare = time.perf_counter() - t
    # Nothing is deleted until the end: ext4 skips inodes freed in the last minutes when it
    # allocates new ones (`recently_deleted`), so deleting a run's 2,000 files made the next
    # run's file creations scan past them (~12 % of the CPU of a run, measured with perf).
    here = Path(__file__).resolve().parents[1]
    codes = {"this": here, **({"main": base} if base else {})}
    times: dict[tuple[str, str, bool], list[float]] = {}
    k = 0
    for _ in range(runs):
        for path in ("service", "cli"):
            for index in (True, False):
                for name, code in codes.items():
                    k += 1
                    home = work / f"home{k}"
                    secs = (_service_file(code, home, listfile, index) if path == "service"
                            else _cli_file(code, home, paths, index))
                    times.setdefault((name, path, index), []).append(secs)
    for home in [out, *work.glob("home*")]:
        shutil.rmtree(home)
    print(f"[small] {locking_summary()}")
    print(f"[small] {n} files ({total / n / 1024:.1f} KiB avg, half .docx, half PDF); "
          f"bare age+fsync {n / bare:.0f} docs/s; medians of {runs}")
    for path in ("service", "cli"):
        for index in (True, False):
            row = []
            for name in codes:
                med = statistics.median(times[(name, path, index)])
                runs_s = "/".join(f"{t:.1f}" for t in times[(name, path, index)])
                row.append(f"{name} {n / med:.0f} docs/s ({med:.2f} s; runs {runs_s} s)")
            ratio = ""
            if base:
                before = statistics.median(times[("main", path, index)])
                after = statistics.median(times[("this", path, index)])
                ratio = f"; speed-up {before / after:.2f}×"
            what = "arc.records.file" if path == "service" else "sgz file (whole process)"
            goal = " (goal ≥ 300)" if index else ""
            print(f"[small] {what}, {'with' if index else 'without'} indexing{goal}: "
                  f"{'; '.join(row)}{ratio}")
            if path == "service":
                cpu = [f"{name} parent {statistics.median(c[0] for c in CPU[(str(code), index)]):.2f}"
                       f" + workers {statistics.median(c[1] for c in CPU[(str(code), index)]):.2f}"
                       for name, code in codes.items()]
                print(f"        CPU seconds (medians, whole child incl. init): {'; '.join(cpu)}")


_REBUILD_CHILD = """
import sys, time
from pathlib import Path
from archive.app import Archive
arc = Archive.unlock(Path(sys.argv[1]), user="bench", passphrase=PASSPHRASE, kdf_work_factor=10)
t = time.perf_counter()
n = arc.search.rebuild()
wall = time.perf_counter() - t
arc.close()
print(n)
print(wall)
""".replace("PASSPHRASE", repr(PASS))


def bench_rebuild(work: Path, n: int, base: Path | None, runs: int, corpus: Path | None) -> None:
    """`sgz index rebuild` of 1,000 small files filed without indexing, on the path users
    call: the service call `arc.search.rebuild()` and the whole command; against `base` (a
    copy of main's code) in the same run, on the same home, interleaved, medians of `runs`."""
    src = corpus or work / "small"
    if corpus is not None and corpus.is_dir() and len(list(corpus.iterdir())) >= n:
        paths = sorted(corpus.iterdir())[:n]
    else:
        src.mkdir(exist_ok=True)
        paths = _small_corpus(src, n)
    listfile = work / "paths.txt"
    listfile.write_text("\n".join(map(str, paths)), encoding="utf-8")
    here = Path(__file__).resolve().parents[1]
    home = work / "home-rebuild"
    _service_file(here, home, listfile, False)  # filed once, not indexed
    codes = {"this": here, **({"main": base} if base else {})}
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(runs):
        for name, code in codes.items():
            env = _env(home)
            env["PYTHONPATH"] = str(code)
            out = subprocess.run([sys.executable, "-c", _REBUILD_CHILD, str(home)], env=env,
                                 cwd=code, check=True, capture_output=True, text=True)
            count, secs = out.stdout.split()
            assert int(count) == n, f"rebuilt {count} of {n}"
            times.setdefault((name, "service"), []).append(float(secs))
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "archive.cli.main", "index", "rebuild"],
                           env=env, cwd=code, check=True, capture_output=True)
            times.setdefault((name, "cli"), []).append(time.perf_counter() - t)
    print(f"[rebuild] {locking_summary()}")
    for path, what in (("service", "arc.search.rebuild()"), ("cli", "sgz index rebuild (whole process)")):
        row = []
        for name in codes:
            med = statistics.median(times[(name, path)])
            runs_s = "/".join(f"{t:.1f}" for t in times[(name, path)])
            row.append(f"{name} {n / med:.0f} docs/s ({med:.2f} s; runs {runs_s} s)")
        ratio = ""
        if base:
            before = statistics.median(times[("main", path)])
            ratio = f"; speed-up {before / statistics.median(times[('this', path)]):.2f}×"
        print(f"[rebuild] {n} files, {what}: {'; '.join(row)}{ratio}")


def bench_big(work: Path, mib: int) -> None:
    src = work / "big.bin"
    block = os.urandom(1 << 20)
    with open(src, "wb") as f:
        for i in range(mib):
            f.write(block[:-4] + i.to_bytes(4, "big"))
    size_mb = mib * 1.048576
    t = time.perf_counter()
    shutil.copyfile(src, work / "copy.bin")
    with open(work / "copy.bin", "rb+") as f:
        os.fsync(f.fileno())
    copy = time.perf_counter() - t
    (work / "copy.bin").unlink()
    home = work / "home-big"
    env = _env(home)
    _sgz(["init", "--user", "bench", "--role", "head"], env)
    fsecs, fpeak = _sgz(["file", str(src), "--category", "FW", "--title", "大文件",
                         "--year", "2026", "--retention", "D30"], env)
    gsecs, gpeak = _sgz(["get", "Z001-WS·2026-D30-FW-0001", "-o", str(work / "back.bin"),
                         "--reason", "bench"], env)
    print(f"[big] {mib} MiB: copy {size_mb / copy:.0f} MB/s; file {size_mb / fsecs:.0f} MB/s "
          f"({copy / fsecs:.0%} of copy, goal ≥ 70 %), peak RSS {fpeak / 1e6:.0f} MB; get "
          f"{size_mb / gsecs:.0f} MB/s ({copy / gsecs:.0%} of copy), peak RSS {gpeak / 1e6:.0f} MB "
          f"(goal ≤ 150 MB)")


def bench_cold_start(runs: int = 7) -> None:
    def median(cmd: list[str]) -> float:
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    base = median([sys.executable, "-c", "pass"])
    sgz = median([sys.executable, "-m", "archive.cli.main", "--help"])
    print(f"[cold start] python -c pass {base * 1000:.0f} ms; sgz --help {sgz * 1000:.0f} ms; "
          f"+{(sgz - base) * 1000:.0f} ms (goal ≤ 150 ms)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--base", type=Path, help="a copy of main's code, measured in the same run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--corpus", type=Path, help="folder of small files to reuse (made if absent)")
    ap.add_argument("--only", choices=("small", "rebuild", "big", "cold"))
    a = ap.parse_args()
    if a.only in (None, "cold"):
        bench_cold_start()
    if a.only in (None, "small"):
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
            bench_small(Path(d), a.small, a.base, a.runs, a.corpus)
    if a.only in (None, "rebuild"):
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
            bench_rebuild(Path(d), a.small, a.base, a.runs, a.corpus)
    if a.only in (None, "big"):
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
            bench_big(Path(d), a.big_mib)



if __name__ == "__main__":
    main()
