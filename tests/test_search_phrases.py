"""The phrase index (archive/search/phrases.py): long plain queries answered from positions held
in memory must give FTS5's answer exactly — the same count, exactness and hits in the same
order — for every user's visibility, with components grouped per 档号, one-unit segments, and
after the index changes. Real SQLCipher, real FTS5, real threads building it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.search.index import SearchIndex
from archive.search.phrases import MIN_BIGRAMS, PHRASES, PhraseIndex, build_apart
from archive.search.query import parse
from archive.search.visibility import Visibility

KEY = bytes(range(32))
# sentences shared by many documents (as a station's template wording is), and rare ones
COMMON = ["社工到村民家中开展入户走访，了解低保待遇落实情况和困境儿童学业情况。",
          "本次服务时长45分钟，服务对象签字确认。", "下一步将链接慈善总会资源，跟进帮扶。",
          "各乡镇（街道）要于4月21日前将工作开展情况报送县民政局社会救助股。",
          "对符合条件的对象，审批时限原则上不超过13个工作日。"]
RARE = ["该户房屋漏雨，已协调村委会维修屋顶并更换门窗。", "服务对象反映孩子辍学在家，社工当场做了记录。",
        "老人腿脚不便，每月由网格员代为领取高龄津贴。", "因病致贫，医疗救助已于3月到账 5 次。"]
NAMES = ["张桂兰", "李建国", "王秀英", "刘德华", "陈美玲", "赵志强"]
WORKERS = ["社工甲", "社工乙", "社工丙"]


def corpus(n: int, seed: int = 7) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    docs: list[dict[str, object]] = []
    for i in range(n):
        name = rnd.choice(NAMES)
        parts = rnd.sample(COMMON, rnd.randint(1, 4))
        if rnd.random() < 0.15:
            parts.append(rnd.choice(RARE))
        if rnd.random() < 0.3:
            parts.append(f"第{rnd.randint(1, 30)}次走访　　走访日期 2026年{rnd.randint(1, 12)}月")
        rnd.shuffle(parts)
        cat = rnd.choice(["FW", "FW", "XZ", "RS"])
        ref = f"Z001-WS·2026-D30-{cat}-{i:04d}"
        kind = rnd.choice(['入户走访', '节日慰问', '个案服务'])
        title = (f"{name}戶入戶走訪記錄ＸＺ（第{i}次）" if i % 7 == 0  # as FTS5 sees it: normalised
                 else f"{name}户{kind}记录")
        base = dict(title=title,
                    text=f"{name}：" + "".join(parts), doc_no=f"吉民发〔2026〕{i % 50}号",
                    date=f"2026-{1 + i % 12:02d}-01", category=cat, year=2020 + i % 7,
                    retention="D30", household=name if cat == "FW" else "",
                    responsible=rnd.choice(WORKERS), compartment="service",
                    secret=rnd.random() < 0.05)
        docs.append(dict(base, doc_id=ref))
        if rnd.random() < 0.2:  # a second component of the same 档号: hits are grouped
            docs.append(dict(base, doc_id=f"{ref}#2", title="签字扫描件",
                             text=rnd.choice(COMMON + RARE)))
    return docs


def pasted(docs: list[dict[str, object]], n: int, seed: int = 3) -> list[str]:
    """Pieces of the documents' texts, as a user pastes them: across punctuation, with
    numbers standing alone, 12 to 36 characters; plus a few that are in no document."""
    rnd = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        text = str(rnd.choice(docs)["text"])
        if len(text) < 14:
            continue
        size = rnd.randint(12, min(36, len(text)))
        at = rnd.randint(0, len(text) - size)
        q = text[at:at + size]
        if len(parse(q).bigrams) >= MIN_BIGRAMS:
            out.append(q)
    out += [f"{name}戶入戶走訪記錄ＸＺ" for name in NAMES[:3]]  # from a title
    out += ["王秀英户入户走访记录xz（第", "刘德华户入户走访记录XZ"]
    out += ["社工到村民家中开展入户走访，了解高龄津贴落实情况",  # words of two sentences
            "本次服务时长45分钟，服务对象签字确认。 7 次", "该户房屋漏雨，已协调村委会维修屋顶并更换门窗"]
    return out


VISIBILITIES = {
    "head": Visibility.all(),
    "no secret": Visibility(everything=True),
    "worker": Visibility(categories={"XZ"}, responsible={"社工甲"}),
    "own service records": Visibility(own={("FW", "社工乙")}, households={"王秀英"}),
    "excluded": Visibility(everything=True, excluded={"Z001-WS·2026-D30-FW-0003"}),
    "compartment": Visibility(everything=True, compartments={"service"}),
}


@pytest.fixture
def phrases() -> Iterator[None]:
    PHRASES.disable()
    yield
    PHRASES.disable()


@pytest.fixture
def index(tmp_path: Path, phrases: None) -> Iterator[SearchIndex]:
    ix = SearchIndex.create(tmp_path / "service.db", KEY)
    ix.rebuild(corpus(900))
    yield ix
    ix.close()


def answer(ix: SearchIndex, q: str, vis: Visibility, **kw: object) -> tuple[object, ...]:
    r = ix.search(q, vis, limit=20, fallback="never", **kw)  # type: ignore[arg-type]
    return r.total, r.total_exact, [h.doc_id for h in r.hits], r.no_text_count


def built(ix: SearchIndex) -> PhraseIndex:
    ix.prepare_phrases()
    PHRASES.wait()
    got = PHRASES.lookup(ix.stamp())
    assert got is not None
    return got


def test_the_same_answers_as_fts5_for_every_visibility(index: SearchIndex,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    docs = corpus(900)
    queries = pasted(docs, 60)
    want = {(name, q): answer(index, q, vis) for name, vis in VISIBILITIES.items()
            for q in queries}
    want_filtered = {q: answer(index, q, VISIBILITIES["worker"], category="XZ", year=2024)
                     for q in queries}
    PHRASES.enable()
    ph = built(index)
    assert len(ph) == len(docs)
    used = []
    real = SearchIndex._probe_phrases

    def counting(self: SearchIndex, *a: object) -> object:
        used.append(1)
        return real(self, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(SearchIndex, "_probe_phrases", counting)
    for (name, q), expected in want.items():
        assert answer(index, q, VISIBILITIES[name]) == expected, (name, q)
    for q, expected in want_filtered.items():
        assert answer(index, q, VISIBILITIES["worker"], category="XZ", year=2024) == expected, q
    assert len(used) == len(want) + len(want_filtered)  # every one went through the index
    # the corpus exercises what it must: answers past the cap, exact ones, empty ones,
    # grouped components, one-unit segments
    totals = [v for k, v in want.items() if k[0] == "head"]
    assert any(not exact for _, exact, _, _ in totals)
    assert any(exact and 0 < total for total, exact, _, _ in totals)
    assert any(total == 0 for total, _, _, _ in totals)
    assert any(parse(q).units for q in queries)
    assert any("#" in h for _, _, hits, _ in totals for h in hits)


def test_a_one_unit_segment_and_a_missing_word_narrow_the_answer(index: SearchIndex) -> None:
    q = "本次服务时长45分钟，服务对象签字确认。"
    PHRASES.enable()
    built(index)
    every = index.search(q, Visibility.all(), fallback="never")
    assert not every.total_exact  # in more documents than are counted exactly
    rare = index.search(q + " 5 次", Visibility.all(), fallback="never")
    assert rare.total_exact and 0 < rare.total < every.total  # only those with a unit 5 too
    PHRASES.disable()
    assert index.search(q + " 5 次", Visibility.all(), fallback="never").total == rare.total
    PHRASES.enable()
    built(index)
    none = index.search(q + " 鑫", Visibility.all(), fallback="never")
    assert none.total == 0


def test_a_write_makes_it_stale_until_built_again(index: SearchIndex) -> None:
    PHRASES.enable()
    ph = built(index)
    q = "该户房屋漏雨，已协调村委会维修屋顶并更换门窗。"
    before = index.search(q, Visibility.all(), fallback="never").total
    index.add("Z001-WS·2026-D30-FW-9999", title="新档", text="新情况：" + q,
              category="FW", compartment="service")
    assert PHRASES.held_bytes() == 0  # dropped with the write
    assert PHRASES.lookup(index.stamp()) is None
    # FTS5 answers meanwhile, and the new document is found at once
    after = index.search(q, Visibility.all(), fallback="never")
    assert after.total == before + 1
    assert after.hits[0].doc_id == "Z001-WS·2026-D30-FW-9999"  # the newest first among equals
    PHRASES.wait()  # the search above asked for a build of the new content
    again = PHRASES.lookup(index.stamp())
    assert again is not None and again is not ph and len(again) == len(ph) + 1
    assert index.search(q, Visibility.all(), fallback="never").total == before + 1
    index.remove("Z001-WS·2026-D30-FW-9999")
    assert PHRASES.lookup(index.stamp()) is None


def test_never_built_unless_enabled_nor_over_budget_and_dropped_on_close(
        tmp_path: Path, phrases: None) -> None:
    ix = SearchIndex.create(tmp_path / "a.db", KEY)
    ix.rebuild(corpus(200))
    q = "社工到村民家中开展入户走访，了解低保待遇落实情况"
    ix.search(q, Visibility.all())
    PHRASES.wait()
    assert PHRASES.lookup(ix.stamp()) is None  # a one-shot `sgz search` builds nothing
    PHRASES.enable(budget_mb=0)
    ix.search(q, Visibility.all())
    PHRASES.wait()
    assert PHRASES.lookup(ix.stamp()) is None  # over the budget: FTS5 alone
    PHRASES.enable(budget_mb=64)
    ph = built(ix)
    assert PHRASES.held_bytes() == ph.nbytes > 0
    # a second session opening the same file shares it; the last one out drops it
    other = SearchIndex.open(tmp_path / "a.db", KEY)
    assert other.stamp() == ix.stamp()
    other.prepare_phrases()
    PHRASES.wait()
    assert PHRASES.lookup(other.stamp()) is ph
    ix.close()
    assert PHRASES.lookup(other.stamp()) is ph
    other.close()
    assert PHRASES.held_bytes() == 0


def test_a_file_made_anew_is_not_mistaken_for_the_old_one(tmp_path: Path, phrases: None) -> None:
    """Destruction rebuilds an index under a fresh key as a new file at the same path: the
    same count of writes must not let the old file's positions answer for it."""
    PHRASES.enable()
    path = tmp_path / "b.db"
    ix = SearchIndex.create(path, KEY)
    ix.rebuild(corpus(100))
    built(ix)
    old = ix.stamp()
    ix.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    ix = SearchIndex.create(path, bytes(32))
    ix.rebuild(corpus(100, seed=8))
    assert ix.stamp().writes == old.writes and ix.stamp() != old
    ix.close()


def test_a_build_stops_soon_when_asked_and_leaves_no_process() -> None:
    """A closing server (or the last holder signing out) must not wait for a build: the
    rows stop at the next check and the child is killed."""
    import multiprocessing
    import time

    rnd = random.Random(1)
    rows = [(i, "长文", "", "".join(rnd.choice(COMMON + RARE) for _ in range(150)))
            for i in range(2000)]
    t = time.monotonic()
    whole = build_apart(iter(rows))
    took = time.monotonic() - t
    assert whole is not None and len(whole) == 2000
    pulled: list[int] = []

    def feed() -> Iterator[tuple[int, str, str, str]]:
        for row in rows:
            pulled.append(1)
            yield row

    t = time.monotonic()
    assert build_apart(feed(), stop=lambda: len(pulled) > 300) is None
    assert time.monotonic() - t < took / 2, (time.monotonic() - t, took)
    assert len(pulled) < 1000  # it stopped reading too
    assert not [p for p in multiprocessing.active_children() if p.name == "sgz-phrase-index"]


def test_a_write_by_another_process_drops_it_at_the_next_look(tmp_path: Path,
                                                               phrases: None) -> None:
    """`sgz disposal execute` in a terminal while `sgz serve` runs: the server hears nothing,
    but the first long query sees the file's new stamp and drops what it held (the words of a
    destroyed record must not stay in memory), then answers from FTS5."""
    import subprocess
    import sys

    path = tmp_path / "c.db"
    ix = SearchIndex.create(path, KEY)
    ix.rebuild(corpus(200))
    PHRASES.enable()
    built(ix)
    q = "该户房屋漏雨，已协调村委会维修屋顶并更换门窗"
    before = ix.search(q, Visibility.all(), fallback="never")
    victim = before.hits[0].doc_id
    code = ("import sys; from archive.search.index import SearchIndex\n"
            f"ix = SearchIndex.open(sys.argv[1], bytes(range(32))); ix.remove({victim!r})\n")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True,
                   cwd=Path(__file__).resolve().parents[1])
    assert PHRASES.held_bytes() > 0  # nothing told this process
    asked = []
    real = PHRASES.request
    PHRASES.request = lambda *a: asked.append(a)  # type: ignore[method-assign]
    try:
        after = ix.search(q, Visibility.all(), fallback="never")
    finally:
        PHRASES.request = real  # type: ignore[method-assign]
    assert victim not in [h.doc_id for h in after.hits] and after.total == before.total - 1
    assert PHRASES.held_bytes() == 0 and asked  # dropped, and a build of the new content asked
    ix.search(q, Visibility.all(), fallback="never")
    PHRASES.wait()
    assert PHRASES.lookup(ix.stamp()) is not None
    ix.close()


def test_an_empty_index_asks_for_nothing(tmp_path: Path, phrases: None) -> None:
    """Signing in to a station whose index is still empty must not fail (an empty FTS5
    index has no averages record) and builds nothing."""
    PHRASES.enable()
    ix = SearchIndex.create(tmp_path / "empty.db", KEY)
    ix.prepare_phrases()
    PHRASES.wait()
    assert PHRASES.held_bytes() == 0
    assert ix.search("社工到村民家中开展入户走访，了解低保待遇", Visibility.all()).total == 0
    ix.close()
