"""Sessions take turns on the encrypted databases (archive/web/sessions.py DATABASES): two
signed-in people's archive work never runs at the same moment in one server process."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from archive.web.sessions import SessionStore


class _Archive:
    def __init__(self, name: str) -> None:
        self.kernel = SimpleNamespace(user=SimpleNamespace(name=name, role="head"))

    def close(self) -> None:
        pass


def test_two_sessions_never_work_on_the_databases_at_once() -> None:
    store = SessionStore(clock=lambda: datetime.now(UTC))
    inside: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    guard = threading.Lock()

    def job(arc: Any) -> str:
        with guard:
            inside.append(arc.kernel.user.name)
            if len(inside) > 1:
                overlaps.append(tuple(inside))
        time.sleep(0.02)  # a search's worth of work
        with guard:
            inside.remove(arc.kernel.user.name)
        return str(arc.kernel.user.name)

    async def main() -> list[str]:
        a = await store.open(lambda: _Archive("zhangsan"), display=lambda arc: "张三")
        b = await store.open(lambda: _Archive("lisi"), display=lambda arc: "李四")
        try:
            return list(await asyncio.gather(*[s.run(job) for _ in range(6) for s in (a, b)]))
        finally:
            a.wipe()
            b.wipe()

    out: dict[str, list[str]] = {}  # its own thread and loop: a browser test may hold this one's
    runner = threading.Thread(target=lambda: out.update(done=asyncio.run(main())))
    runner.start()
    runner.join(timeout=60)
    done = out["done"]
    assert sorted(done) == ["lisi"] * 6 + ["zhangsan"] * 6
    assert overlaps == []
