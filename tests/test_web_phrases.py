"""`sgz serve` keeps a phrase index per search index in memory (ADR 0005 round 7): signing in
starts its build, a pasted sentence is then answered from it with the same hits as FTS5, and
signing out drops it. Real HTTP, real archive, real threads."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CHEAP_WF, PASS
from web_fixtures import Server, TickClock, make_home, serve

from archive.app import Archive
from archive.search.index import SearchIndex
from archive.search.phrases import PHRASES

SENTENCE = "本次服务时长45分钟，服务对象签字确认。下一步将链接慈善总会资源"


def _token(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m
    return m.group(1)


@pytest.fixture
def served(tmp_path: Path) -> Any:
    clock = TickClock()
    home = make_home(tmp_path, clock)
    arc = Archive.unlock(home, user="wangwu", passphrase=PASS, clock=clock,
                         kdf_work_factor=CHEAP_WF)
    with arc:
        for i in range(12):
            body = f"第{i}次入户走访：{SENTENCE}。" if i % 3 else f"第{i}次电话回访，情况稳定。"
            path = tmp_path / f"visit{i}.txt"
            path.write_text(body, encoding="utf-8")
            arc.records.file([path], category="FW", title=f"走访记录{i}")
    PHRASES.disable()
    yield from serve(home, clock)
    PHRASES.disable()


def _hits(html: str) -> list[str]:
    return re.findall(r"Z001-WS·2026-D30-FW-\d{4}", html)


def test_signing_in_builds_it_a_sentence_is_answered_from_it_and_signing_out_drops_it(
        served: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[int] = []
    real = SearchIndex._probe_phrases
    monkeypatch.setattr(SearchIndex, "_probe_phrases",
                        lambda self, *a: used.append(1) or real(self, *a))
    with httpx.Client(base_url=served.url, follow_redirects=False, timeout=60) as client:
        assert PHRASES.enabled  # the server's lifespan turned it on
        page = client.get("/login")
        r = client.post("/login", data={"user": "wangwu", "passphrase": PASS,
                                        "csrf": _token(page.text), "next": "/"})
        assert r.status_code == 303
        deadline = time.monotonic() + 30
        while not PHRASES.held_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert PHRASES.held_bytes() > 0  # built in the background after signing in
        token = _token(client.get("/").text)
        html = client.post("/search", data={"q": SENTENCE, "csrf": token}).text
        assert used, "the sentence was not answered from the phrase index"
        found = _hits(html)
        assert len(set(found)) == 8  # visits 1, 2, 4, 5, 7, 8, 10, 11
        # FTS5 alone gives the same page
        PHRASES.enabled = False
        try:
            again = client.post("/search", data={"q": SENTENCE, "csrf": token}).text
            assert _hits(again) == found
        finally:
            PHRASES.enabled = True
        assert client.post("/logout", data={"csrf": token}).status_code == 303
        assert PHRASES.held_bytes() == 0  # the last holder signed out
