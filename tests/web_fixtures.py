"""Fixtures for the web UI tests: a station home with one user per role, the app served by
uvicorn in-process on 127.0.0.1 (random port), and Debian's chromium driven by Playwright."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import CHEAP_WF, PASS

CHROMIUM = "/usr/bin/chromium"
SCREENS = Path(__file__).resolve().parents[1] / "build" / "screens"
USERS = {  # name: (role, display)
    "zhangsan": ("head", "张三"),
    "lisi": ("archivist", "李四"),
    "wangwu": ("social_worker", "王五"),
    "zhaoliu": ("social_worker", "赵六"),
    "qianqi": ("deputy", "钱七"),
}


class TickClock:
    """Real time from a fixed start, plus an offset tests can move (idle timeouts)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.start = start or datetime(2026, 11, 28, 1, 0, 0, tzinfo=UTC)
        self.t0 = time.monotonic()
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0) + self.offset

    def advance(self, **kw: float) -> None:
        self.offset += timedelta(**kw)


@dataclass
class Server:
    url: str
    app: Any
    home: Path
    clock: TickClock
    extra: dict[str, Any] = field(default_factory=dict)


def make_home(root: Path, clock: TickClock) -> Path:
    from archive.app import Archive

    home = root / "station"
    home.mkdir()
    arc, _code = Archive.init(home, user="zhangsan", role="head", passphrase=PASS, clock=clock,
                              kdf_work_factor=CHEAP_WF)
    with arc:
        for name, (role, display) in USERS.items():
            if name != "zhangsan":
                arc.users.add(name, role, PASS, display=display)
    return home


def serve(home: Path, clock: TickClock, **app_kw: Any) -> Iterator[Server]:
    """Run the app on 127.0.0.1 with a random port in a background thread."""
    import uvicorn

    from archive.web.app import create_app

    app = create_app(home, clock=clock, archive_kw={"kdf_work_factor": CHEAP_WF}, **app_kw)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                            access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("web server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Server(f"http://127.0.0.1:{port}", app, home, clock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        loop.close()


@pytest.fixture
def web_clock() -> TickClock:
    return TickClock()


@pytest.fixture
def web_home(tmp_path: Path, web_clock: TickClock) -> Path:
    return make_home(tmp_path, web_clock)


@pytest.fixture
def server(web_home: Path, web_clock: TickClock) -> Iterator[Server]:
    yield from serve(web_home, web_clock)


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    """Debian's chromium, never a downloaded browser; no network side channels."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("chromium is not installed (apt-get install chromium; .ci/run does this)")
    return {
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"],
    }


@pytest.fixture(scope="session")
def browser_context_args() -> dict[str, Any]:
    return {"viewport": {"width": 1366, "height": 768}, "locale": "zh-CN",
            "accept_downloads": True}


def sign_in(page: Any, url: str, user: str, passphrase: str = PASS) -> None:
    page.goto(url + "/login")
    page.get_by_label("用户名").fill(user)
    page.get_by_label("口令").fill(passphrase)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(url + "/")


def screenshot(page: Any, name: str) -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
