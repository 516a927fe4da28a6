"""Search on the user's path: `SearchService.query` (what `sgz search` and the web UI call:
authorise, audit entry, Visibility derived from the policy, index query, snippets) as the
head and as a social worker, and the whole `sgz search` process including unlock; against
(same run, same tokens) bare FTS5 (plain SQLite, bm25 over every match and an exact count,
no visibility: what search did before the bounded path) and, if installed, tantivy in memory.

The station home is real (Archive.init, real KDF, real catalogue and encrypted index); only
the vault objects are absent: the catalogue lines and the index are written directly from the
generated texts (search never opens an object).

Usage: PYTHONPATH=. python bench/bench_search_path.py [--docs 50000] [--queries 30]
           [--process 2] [--work DIR] [--service-only] [--no-server]
The "server" engines are the same service call in a process that keeps phrase indexes in
memory, as `sgz serve` does (ADR 0005 round 7); their answers are checked against the
service engines' (FTS5's) for every query.
Prints p50 / p95 per query kind and engine, the ratios, and checks every service answer against
the plain FTS5 copy filtered by the generator's facts: exact counts (or a true lower bound for
very common words), never a hit the user may not read.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlcipher3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.app import Archive  # noqa: E402
from archive.catalog.numbering import ArchivalRef  # noqa: E402
from archive.host.memory import locking_summary  # noqa: E402
from archive.search.index import (  # noqa: E402
    FTS_COLUMNS,
    WEIGHTS,
    exact_up_to,
    literals_tokens,
)
from archive.search.phrases import PHRASES  # noqa: E402
from archive.search.query import COLUMNS, parse  # noqa: E402
from archive.search.tokens import index_tokens, segment_bigrams  # noqa: E402
from archive.search.visibility import Visibility, doc_tokens, own_key, token  # noqa: E402
from tests.search_eval import generate as g  # noqa: E402

KINDS = ("1-char", "2-char", "4-char", "phrase", "文号", "pasted sentence", "rare name")
WORKERS = ["sgjia", "sgyi", "sgbing", "sgding", "sgwu", "sgji"]  # social workers' user names
HEAD = Visibility(everything=True, secret=True)
# what the policy gives a social worker (checked against SearchService.visibility() below)
WORKER = Visibility(categories=frozenset({"XZ"}), own=frozenset({("FW", "sgjia")}))
PASS = "bench-passphrase-长一点的口令"


def docs(n: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """n documents of 1–5 KB of Chinese text with the facts visibility needs."""
    rnd = random.Random(seed)
    pool = g.POLICY_SENTENCES + g.RECORD_SENTENCES
    for i in range(n):
        name = rnd.choice(g.SURNAMES) + "".join(rnd.sample(g.GIVEN, 2))
        org, year, num = rnd.choice(g.ORGS), rnd.randint(2010, 2026), rnd.randint(1, 300)
        cat = rnd.choices(["FW", "XZ", "RS", "CW"], [5, 3, 1, 1])[0]
        parts, size, target = [], 0, rnd.randint(1000, 5000)
        while size < target:
            s = rnd.choice(pool).format(
                topic=rnd.choice(g.TOPICS), year=year, days=rnd.randint(3, 30),
                month=rnd.randint(1, 12), day=rnd.randint(1, 28), staff=rnd.randint(1, 5),
                worker=rnd.choice(g.SURNAMES) + rnd.choice(g.GIVEN), date=f"{year}年",
                village=rnd.choice(g.VILLAGES), name=name, service=rnd.choice(g.SERVICES),
                age=rnd.randint(6, 90), members=rnd.randint(1, 6), need=rnd.choice(g.NEEDS),
                problem=rnd.choice(g.PROBLEMS), resource=rnd.choice(g.RESOURCES),
                minutes=rnd.randint(20, 120))
            parts.append(s)
            size += len(s.encode())
        yield {"doc_id": f"Z001-WS·{year}-D30-{cat}-{i + 1:04d}", "doc_no": f"{org}〔{year}〕{num}号",
               "title": f"关于{rnd.choice(g.ACTIONS)}{rnd.choice(g.TOPICS)}工作的通知（{name}）",
               "text": "".join(parts), "year": year, "category": cat,
               "compartment": "service" if cat == "FW" else "general",
               "responsible": rnd.choice(WORKERS) if cat == "FW" else "",
               "household": f"H{rnd.randint(1, 3000):05d}" if cat == "FW" else ""}


def queries(sample: list[dict[str, Any]], n: int, seed: int = 11) -> dict[str, list[str]]:
    rnd = random.Random(seed)
    q: dict[str, list[str]] = {k: [] for k in KINDS}
    for _ in range(n):
        d = rnd.choice(sample)
        at = rnd.randrange(0, max(1, len(d["text"]) - 40))
        q["1-char"].append(rnd.choice(g.RARE_SURNAMES + "张王孙"))
        q["2-char"].append(rnd.choice(["走访", "慰问", "残疾", "医疗", "取暖", "辍学", "低保", "救助"]))
        q["4-char"].append(rnd.choice(["临时救助", "困境儿童", "入户走访", "节日慰问", "心理疏导",
                                       "资源链接", "高龄津贴", "医疗救助"]))
        q["phrase"].append(f'"{rnd.choice(g.PROBLEMS)}"')
        q["文号"].append(d["doc_no"])
        q["pasted sentence"].append(d["text"][at: at + 30])
        q["rare name"].append(d["title"].rsplit("（", 1)[1].rstrip("）"))
    return q


def tantivy_engine(all_docs: Iterator[dict[str, Any]]) -> Callable[[str, Visibility], Any] | None:
    """The alternative of ADR 0005: tantivy in memory over the same token streams and the same
    access tokens (nothing on disk: it would be rebuilt from the encrypted store at start)."""
    try:
        import tantivy
    except ImportError:
        return None
    from archive.search.query import _lex, _Parser

    sb = tantivy.SchemaBuilder()
    for col in COLUMNS:
        sb.add_text_field(col, stored=False, tokenizer_name="whitespace", index_option="position")
    sb.add_text_field("acl", stored=False, tokenizer_name="whitespace", index_option="basic")
    sb.add_integer_field("rid", stored=True, indexed=False)
    schema = sb.build()
    index = tantivy.Index(schema)
    writer = index.writer(heap_size=200_000_000, num_threads=1)
    t = time.perf_counter()
    n = 0
    for n, d in enumerate(all_docs, 1):
        fields = dict(zip(("title_bi", "title_uni"), index_tokens(d["title"]), strict=True))
        fields.update(zip(("body_bi", "body_uni"), index_tokens(d["text"]), strict=True))
        fields.update(zip(("no_bi", "no_uni"), index_tokens(d["doc_no"]), strict=True))
        acl = doc_tokens(d["doc_id"], category=d["category"], compartment=d["compartment"],
                         responsible=d["responsible"], household=d["household"],
                         year=d["year"], retention="", status="ok", secret=False)
        writer.add_document(tantivy.Document(**{k: [v] for k, v in fields.items()},
                                             acl=[acl], rid=[n]))
    writer.commit()
    index.reload()
    searcher = index.searcher()
    print(f"tantivy (in memory): {n / (time.perf_counter() - t):.0f} docs/s")
    must, should = tantivy.Occur.Must, tantivy.Occur.Should
    boost = {"title": 6.0, "body": 1.0, "no": 3.0}

    def any_field(kind: str, toks: list[str]) -> Any:
        qs = []
        for f in ("title", "body", "no"):
            q = (tantivy.Query.term_query(schema, f"{f}_{kind}", toks[0]) if len(toks) == 1
                 else tantivy.Query.phrase_query(schema, f"{f}_{kind}", toks))
            qs.append((should, tantivy.Query.boost_query(q, boost[f])))
        return tantivy.Query.boolean_query(qs)

    def run(q: str, vis: Visibility) -> Any:
        import unicodedata

        parser = _Parser(_lex(unicodedata.normalize("NFKC", q).strip()))
        parser.parse()
        clauses = []
        for term in parser.terms:
            if term.phrase and len(term.segs) > 1:  # as Term.fts: one phrase of all bigrams
                clauses.append((must, any_field("bi", [b for s in term.segs
                                                       for b in segment_bigrams(s)])))
                continue
            for seg in term.segs:
                kind = "uni" if len(seg) == 1 else "bi"
                clauses.append((must, any_field(kind, segment_bigrams(seg))))
        if not vis.everything:
            grants = [token("cat", c) for c in vis.categories] + [
                token("rsp", r) for r in vis.responsible] + [
                token("own", own_key(c, r)) for c, r in vis.own]
            clauses.append((must, tantivy.Query.boolean_query(
                [(should, tantivy.Query.term_query(schema, "acl", g)) for g in grants])))
        res = searcher.search(tantivy.Query.boolean_query(clauses), 20, count=True)
        return res.count, [searcher.doc(a)["rid"][0] for _, a in res.hits]

    return run


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def station(work: Path, n: int, sample: list[dict[str, Any]],
            facts: dict[str, tuple[str, str]]) -> tuple[Path, float]:
    """A real station home holding the n generated documents in its catalogue and index;
    returns (home, index docs/s)."""
    home = work / "home"
    arc, _code = Archive.init(home, user="zhanzhang", role="head", passphrase=PASS)
    for w in WORKERS:
        arc.users.add(w, "social_worker", PASS + w)
    k, svc = arc.kernel, arc.search
    t_ix, batch = 0.0, []
    now = k.clock.iso()
    for i, d in enumerate(docs(n)):
        facts[d["doc_id"]] = (d["category"], d["responsible"])
        if i % max(1, n // 500) == 0:
            sample.append(d)
        batch.append(d)
        if len(batch) < 2000 and i != n - 1:
            continue
        with k.writer_lock, k.db.transaction():
            for b in batch:
                rid = k.records.insert(ArchivalRef.parse(b["doc_id"]), {
                    "title": b["title"], "title_source": "given", "doc_no": b["doc_no"],
                    "date": f"{b['year']}0301", "household": b["household"],
                    "responsible": b["responsible"], "filed_at": now, "filed_by": "zhanzhang"})
                oid = os.urandom(16).hex()
                k.object_keys.add(oid, os.urandom(32), 0, k.records.get(b["doc_id"]).compartment)
                k.records.add_component(rid, {
                    "kind": "正文", "object_id": oid, "filename": "x.txt", "mime": "text/plain",
                    "size": len(b["text"].encode()), "fp_sha": oid, "fp_sm3": "",
                    "text_status": "ok", "added_at": now, "added_by": "zhanzhang"})
        rows: dict[str, list[dict[str, Any]]] = {}
        for b in batch:
            rec = k.records.get(b["doc_id"])
            comp = k.records.components(rec.id)[0]
            rows.setdefault(rec.compartment, []).append(
                {"doc_id": rec.ref, **svc._index_fields(rec, comp, rec, b["text"], "ok")})
        t = time.perf_counter()
        for cname, part in rows.items():  # one index per compartment, as filing does
            svc._open_index(cname).add_many(part)
        t_ix += time.perf_counter() - t
        batch = []
    arc.close()
    return home, n / t_ix


def sgz_process(home: Path, user: str, passphrase: str, q: str) -> float:
    """Wall time of one whole `sgz search` process: start, unlock (scrypt), query, print."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SGZ_")}
    env.update(SGZ_HOME=str(home), SGZ_USER=user, SGZ_PASSPHRASE=passphrase,
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "archive.cli.main", "search", q, "--json"],
                       env=env, capture_output=True, text=True)
    took = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"sgz search {q!r} failed: {r.stderr}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=50000)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--process", type=int, default=2,
                    help="whole `sgz search` processes per query kind and user")
    ap.add_argument("--work", type=Path, help="build the station home here, or reuse the one a"
                    " run with the same --docs left there (building 200,000 takes ~30 min)")
    ap.add_argument("--service-only", action="store_true",
                    help="only the service path: no bare FTS5, tantivy or count cross-check")
    ap.add_argument("--no-server", action="store_true",
                    help="leave out the server engines (the service call with the phrase"
                         " indexes `sgz serve` builds; ADR 0005 round 7)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="sgzbench"))
    work.mkdir(parents=True, exist_ok=True)
    facts: dict[str, tuple[str, str]] = {}
    sample: list[dict[str, Any]] = []
    if (work / "home").is_dir():  # the generator is deterministic: the same facts and sample
        for i, d in enumerate(docs(args.docs)):
            facts[d["doc_id"]] = (d["category"], d["responsible"])
            if i % max(1, args.docs // 500) == 0:
                sample.append(d)
        home, ix_rate = work / "home", float("nan")
    else:
        home, ix_rate = station(work, args.docs, sample, facts)
    if args.service_only:
        service_only(home, sample, facts, args)
        return
    # sqlcipher3 without a key is plain SQLite 3.51 (the system sqlite3 lacks contentless_delete)
    bare = sqlcipher3.connect(str(work / "bare.db"), isolation_level=None)
    bare.execute(f"CREATE VIRTUAL TABLE fts USING fts5({', '.join(COLUMNS)}, content='',"
                 " contentless_delete=1, tokenize='unicode61 remove_diacritics 0')")
    t_bare = 0.0
    all_docs = list(docs(args.docs))
    for start in range(0, len(all_docs), 2000):
        t = time.perf_counter()
        bare.execute("BEGIN")
        for j, b in enumerate(all_docs[start:start + 2000]):
            bare.execute("INSERT INTO fts(rowid, title_bi, title_uni, body_bi, body_uni,"
                         " no_bi, no_uni) VALUES(?,?,?,?,?,?,?)",
                         (start + j + 1, *index_tokens(b["title"]), *index_tokens(b["text"]),
                          *index_tokens(b["doc_no"])))
        bare.execute("COMMIT")
        t_bare += time.perf_counter() - t
    bare.execute("INSERT INTO fts(fts) VALUES('optimize')")  # merged, like the service's
    t = time.perf_counter()
    head = Archive.unlock(home, user="zhanzhang", passphrase=PASS)
    t_unlock = time.perf_counter() - t
    worker = Archive.unlock(home, user="sgjia", passphrase=PASS + "sgjia")
    if worker.search.visibility() != WORKER or head.search.visibility() != HEAD:
        raise SystemExit(f"policy view changed: {worker.search.visibility()}")
    size = sum(f.stat().st_size for f in (home / "indexes").glob("*.db"))
    print(locking_summary())
    print(f"corpus: {args.docs} docs; service indexes {ix_rate:.0f} docs/s ({size / 1e6:.0f} MB),"
          f" bare FTS5 {args.docs / t_bare:.0f} docs/s; Archive.unlock {t_unlock * 1000:.0f} ms")
    qs = queries(sample, args.queries)
    ids = [d["doc_id"] for d in all_docs]

    def may(vis: Visibility) -> Callable[[str], bool]:
        return lambda doc_id: vis.may_see(doc_id, category=facts[doc_id][0],
                                          compartment="", responsible=facts[doc_id][1],
                                          household="", secret=False)

    weights = ", ".join(str(WEIGHTS[c]) for c in FTS_COLUMNS[:-1])

    def run_bare(q: str) -> None:
        """The baseline: bm25 over every match and an exact count, no visibility."""
        expr = parse(q).fts
        bare.execute(f"SELECT rowid, bm25(fts, {weights}) AS s FROM fts WHERE fts MATCH ?"
                     " ORDER BY s LIMIT 20", (expr,)).fetchall()
        bare.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (expr,)).fetchone()

    def expected(q: str, vis: Visibility) -> int:
        """Every visible match, from the plain FTS5 copy and the generator's facts."""
        rows = bare.execute("SELECT rowid FROM fts WHERE fts MATCH ?", (parse(q).fts,))
        return sum(1 for (r,) in rows if may(vis)(ids[r - 1]))

    engines: dict[str, Callable[[str], Any]] = {
        "service head": lambda q: head.search.query(q, limit=20),
        "service worker": lambda q: worker.search.query(q, limit=20),
        "bare FTS5": run_bare,
    }
    tv = tantivy_engine(iter(all_docs))
    if tv is not None:
        engines["tantivy head"] = lambda q: tv(q, HEAD)
        engines["tantivy worker"] = lambda q: tv(q, WORKER)
    servers: tuple[Archive, ...] = ()
    if not args.no_server:
        more, servers = server_engines(home)
        engines.update(more)
    same = Same()
    lat: dict[str, dict[str, list[float]]] = {e: {k: [] for k in KINDS} for e in engines}
    mismatches, leaks, tv_mismatch, capped = 0, 0, 0, 0
    for kind in KINDS:
        for q in qs[kind]:
            for name, fn in engines.items():
                t = time.perf_counter()
                res = fn(q)
                lat[name][kind].append(time.perf_counter() - t)
                vis = HEAD if name.endswith("head") else WORKER
                same.note(name, q, res)
                if name.startswith(("service", "server")):
                    leaks += sum(1 for h in res.hits if not may(vis)(h.ref))
                    if res.fallback:
                        continue  # nothing matched exactly: the fallback's own answer
                    want = expected(q, vis)
                    capped += not res.total_exact
                    # a lower bound: each index stops counting past its cap (exact_up_to)
                    ok = (res.total == want if res.total_exact
                          else exact_up_to(len(literals_tokens(parse(q).literals)))
                          <= res.total < want)
                    if not ok:
                        mismatches += 1
                        print(f"count differs: {name} {kind} {q!r} {res.total} vs {want}")
                    if tv is not None:
                        tv_count = tv(q, vis)[0]
                        if tv_count != want:
                            tv_mismatch += 1
    print(f"\ncounts right (exact, or a true lower bound for {capped} very common queries): "
          f"{'yes' if not mismatches else f'NO ({mismatches} differ)'}"
          f"; hits a user may not read: {leaks}; tantivy counts differing: {tv_mismatch}")
    print(same.summary())
    report(engines, lat)
    print(_order(head))
    for a in (head, worker, *servers):
        a.close()
    if args.process:
        proc: dict[str, dict[str, list[float]]] = {e: {k: [] for k in KINDS} for e in
                                                   ("sgz search head", "sgz search worker")}
        for kind in KINDS:
            for q in qs[kind][:args.process]:
                proc["sgz search head"][kind].append(sgz_process(home, "zhanzhang", PASS, q))
                proc["sgz search worker"][kind].append(
                    sgz_process(home, "sgjia", PASS + "sgjia", q))
        print("\nwhole process (start + unlock + search + print), "
              f"{args.process} per kind and user:")
        report(proc, proc, ratios=False)


def service_only(home: Path, sample: list[dict[str, Any]],
                 facts: dict[str, tuple[str, str]], args: argparse.Namespace) -> None:
    """The service path alone, after one warm-up search per user (the first search after
    unlock also counts the catalogue; the bench's full run includes it in 1-char)."""
    head = Archive.unlock(home, user="zhanzhang", passphrase=PASS)
    worker = Archive.unlock(home, user="sgjia", passphrase=PASS + "sgjia")
    engines: dict[str, Callable[[str], Any]] = {
        "service head": lambda q: head.search.query(q, limit=20),
        "service worker": lambda q: worker.search.query(q, limit=20)}
    for a in (head, worker):
        a.search.query("救助")
    servers: tuple[Archive, ...] = ()
    if not args.no_server:
        more, servers = server_engines(home)
        engines.update(more)
    same = Same()
    qs = queries(sample, args.queries)
    lat: dict[str, dict[str, list[float]]] = {e: {k: [] for k in KINDS} for e in engines}
    leaks = 0
    for kind in KINDS:
        for q in qs[kind]:
            for name, fn in engines.items():
                t = time.perf_counter()
                res = fn(q)
                lat[name][kind].append(time.perf_counter() - t)
                same.note(name, q, res)
                vis = HEAD if name.endswith("head") else WORKER
                leaks += sum(1 for h in res.hits if not vis.may_see(
                    h.ref, category=facts[h.ref][0], compartment="",
                    responsible=facts[h.ref][1], household="", secret=False))
    print(locking_summary())
    print(f"corpus: {args.docs} docs (service only); hits a user may not read: {leaks};"
          f" {_order(head)}")
    print(same.summary())
    report(engines, lat, ratios=False)
    for a in (head, worker, *servers):
        a.close()


def server_engines(home: Path) -> tuple[dict[str, Callable[[str], Any]], tuple[Archive, ...]]:
    """What `sgz serve` answers with: the same service call, by archives unlocked as a server
    session is, once their phrase indexes are built (ADR 0005 round 7). The registry is
    process-wide, so it is switched on only around these engines' calls: the service
    engines stay on FTS5 alone."""
    import psutil

    PHRASES.enable(budget_mb=8192)
    head = Archive.unlock(home, user="zhanzhang", passphrase=PASS)
    worker = Archive.unlock(home, user="sgjia", passphrase=PASS + "sgjia")
    for a in (head, worker):
        a.search.query("救助")
    rss = psutil.Process().memory_info().rss
    t = time.perf_counter()
    cpu = time.process_time()
    for a in (head, worker):
        a.search.prepare_phrases()
    PHRASES.wait()
    print(f"server: phrase indexes built in {time.perf_counter() - t:.1f} s"
          f" ({time.process_time() - cpu:.1f} s CPU), {PHRASES.held_bytes() / 2**20:.0f} MiB of"
          f" postings, RSS +{(psutil.Process().memory_info().rss - rss) / 2**20:.0f} MiB after")
    PHRASES.enabled = False

    def on(a: Archive) -> Callable[[str], Any]:
        def run(q: str) -> Any:
            PHRASES.enabled = True
            try:
                return a.search.query(q, limit=20)
            finally:
                PHRASES.enabled = False
        return run

    return {"server head": on(head), "server worker": on(worker)}, (head, worker)


class Same:
    """Whether the server engines answer exactly as the service (FTS5) engines do."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.checked = self.differ = 0

    def note(self, name: str, q: str, res: Any) -> None:
        if not name.startswith(("service", "server")):
            return
        user = name.split()[-1]
        got = (res.total, res.total_exact, [h.ref for h in res.hits])
        if name.startswith("service"):
            self.seen[(user, q)] = got
        elif (user, q) in self.seen:
            self.checked += 1
            if got != self.seen[(user, q)]:
                self.differ += 1
                print(f"server answer differs: {user} {q!r}: {got[:2]} vs {self.seen[(user, q)][:2]}")

    def summary(self) -> str:
        if not self.checked:
            return "server engines: not run"
        return (f"server answers the same as the service's (count, exactness, hits in order):"
                f" {self.checked - self.differ} of {self.checked}")


def _order(arc: Archive) -> str:
    """Which rowid order the indexes have (a home built before schema 4 has the old one)."""
    old = [c for c, ix in arc.search._indexes.items() if not ix.newest_lowest]
    return f"old-order (schema 2/3) indexes: {', '.join(old)}" if old else "indexes: schema 4"


def report(engines: dict[str, Any], lat: dict[str, dict[str, list[float]]],
           ratios: bool = True) -> None:
    print(f"\n{'kind (p50 / p95 ms)':18s}" + "".join(f"{e:>20s}" for e in engines))
    for kind in (*KINDS, "ALL"):
        row = f"{kind:18s}"
        for e in engines:
            v = [x for k in KINDS for x in lat[e][k]] if kind == "ALL" else lat[e][kind]
            row += f"{pct(v, 50):10.1f} /{pct(v, 95):7.1f}"
        print(row)
    if not ratios:
        return
    allv = {e: [x for k in KINDS for x in lat[e][k]] for e in engines}
    for base in ("bare FTS5", "tantivy head", "tantivy worker"):
        if base in allv:
            print(f"p95 / {base}: " + ", ".join(
                f"{e} {pct(allv[e], 95) / pct(allv[base], 95):.2f}"
                for e in engines if e != base))


if __name__ == "__main__":
    main()
