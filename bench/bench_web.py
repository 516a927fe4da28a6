"""Web UI bench: server time per page with 10,000 records (target p95 ≤ 200 ms).

Builds a station home with N records (small Chinese text documents, indexed), serves the app
on 127.0.0.1 in-process and requests every main page R times as the head, the archivist and a
social worker over real HTTP (keep-alive). The baseline, measured in the same run, is the
library call behind the heaviest page (`arc.records.ls()` over the whole catalogue), so the
ratio shows what the web layer adds.
Usage: python bench/bench_web.py [--records 10000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import httpx  # noqa: E402
from conftest import CHEAP_WF, PASS  # noqa: E402
from web_fixtures import TickClock, make_home, serve  # noqa: E402

from archive.app import Archive  # noqa: E402
from archive.fs.sources import InMemoryFile  # noqa: E402

TOPICS = ["临时救助", "低保复核", "入户走访", "困境儿童", "高龄津贴", "残疾人服务", "志愿者活动",
          "社区议事", "心理疏导", "就业帮扶"]
VILLAGES = ["奢岭村", "新风村", "平安村", "友好村", "双榆村"]


def populate(home: Path, clock: TickClock, n: int) -> float:
    """File n records (XZ by the archivist, FW by a social worker); returns seconds."""
    t0 = time.perf_counter()
    per_user = {"lisi": ("XZ", n // 2), "wangwu": ("FW", n - n // 2)}
    for user, (cls, count) in per_user.items():
        with Archive.unlock(home, user=user, passphrase=PASS, clock=clock,
                            kdf_work_factor=CHEAP_WF) as arc:
            files = []
            for i in range(count):
                topic, village = TOPICS[i % len(TOPICS)], VILLAGES[i % len(VILLAGES)]
                text = (f"{village}{topic}工作记录第{i}号。服务对象情况稳定，"
                        f"社工按计划开展{topic}服务，记录编号 {cls}-{i:05d}。\n")
                files.append(InMemoryFile(f"{cls}-{topic}-{i:05d}.txt", text.encode()))
            for start in range(0, count, 1000):
                arc.records.file(files[start:start + 1000], category=cls,
                                 household=f"H-{start // 1000:04d}" if cls == "FW" else "",
                                 date=f"20{10 + (start // 1000) % 16:02d}-05-01")
    return time.perf_counter() - t0


def login(client: httpx.Client, user: str) -> None:
    page = client.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"user": user, "passphrase": PASS, "csrf": token, "next": "/"})
    assert r.status_code == 303, r.text


def token_of(client: httpx.Client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"',  # type: ignore[union-attr]
                     client.get("/search").text).group(1)


def timed(fn, rounds: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        r = fn()
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (r.status_code, r.text[:300])
    return out


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(round(0.95 * len(xs))) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clock = TickClock()
        home = make_home(Path(tmp), clock)
        secs = populate(home, clock, args.records)
        print(f"filed {args.records} records in {secs:.1f} s")
        with Archive.unlock(home, user="zhangsan", passphrase=PASS, clock=clock,
                            kdf_work_factor=CHEAP_WF) as arc:
            some_ref = arc.records.ls(category="XZ")[0].ref
            base = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                arc.records.ls()
                base.append((time.perf_counter() - t0) * 1000)
        base_p95 = p95(base)
        print(f"baseline arc.records.ls() over {args.records} records: p50 "
              f"{statistics.median(base):.1f} ms, p95 {base_p95:.1f} ms")
        gen = serve(home, clock)
        server = next(gen)
        pages = {
            "zhangsan": ["/", "/records", "/records?page=100", "/records?sort=title&dir=desc",
                         "/records?category=FW&household=H-0003", f"/records/{some_ref}",
                         "/access", "/retention", "/audit", "/users", "/gen",
                         "/gen/referral-consent", "/system"],
            "lisi": ["/", "/records", "/file", "/retention"],
            "wangwu": ["/", "/records", "/gen/service-purchase-agreement"],
        }
        rows: list[tuple[str, str, float, float, float]] = []
        try:
            for user, paths in pages.items():
                with httpx.Client(base_url=server.url, timeout=120) as c:
                    login(c, user)
                    for path in paths:
                        first = timed(lambda c=c, path=path: c.get(path), 1)[0]  # cold
                        t = timed(lambda c=c, path=path: c.get(path), args.rounds)
                        rows.append((user, path, first, statistics.median(t), p95(t)))
                    tok = token_of(c)
                    t = timed(lambda c=c, tok=tok: c.post("/search", data={
                        "q": "临时救助", "csrf": tok}), args.rounds)
                    rows.append((user, "POST /search 临时救助", t[0], statistics.median(t),
                                 p95(t)))
        finally:
            next(gen, None)
        width = max(len(r[1]) for r in rows)
        print(f"{'user':<9}{'page':<{width + 2}}{'first ms':>9}{'p50 ms':>9}{'p95 ms':>9}"
              f"{'×ls p95':>9}")
        for user, path, cold, m, p in rows:
            print(f"{user:<9}{path:<{width + 2}}{cold:>9.1f}{m:>9.1f}{p:>9.1f}"
                  f"{p / base_p95:>9.2f}")
        worst = max(rows, key=lambda r: r[4])
        print(f"worst p95: {worst[4]:.1f} ms ({worst[0]} {worst[1]}); target ≤ 200 ms: "
              f"{'met' if worst[4] <= 200 else 'NOT met'}")
        print("first = the first view after sign-in (session listings empty); p50/p95 over "
              f"{args.rounds} further views")


if __name__ == "__main__":
    main()
