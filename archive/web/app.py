"""The Starlette application behind `sgz serve`: routes, sign-in, sign-out, static files.

`create_app(home)` builds an app over one station home. Every page calls the same library
services as the CLI, through the signed-in user's own unlocked `Archive` (archive/web/sessions.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from archive.errors import ArchiveError
from archive.search.phrases import PHRASES
from archive.web import pages
from archive.web.guard import COOKIE, posted_form, refuse, signed_in
from archive.web.render import HERE, render
from archive.web.sessions import DATABASES, IDLE, MAX_AGE, Session, SessionStore

LOGIN_COOKIE = "sgz_login"
SWEEP_SECONDS = 30.0
# `sgz serve` listens on 127.0.0.1 only; a page asked for under any other host name came
# through DNS rebinding (a web page that re-points its own name at this machine)
ALLOWED_HOSTS = ("127.0.0.1", "localhost")
HTTP_MESSAGES = {404: "没有这个页面：地址有误，或该页面已不存在。",
                 405: "此页面不接受这种请求方式（例如需要从页面上的按钮提交）。"}


async def _http_error(request: Request, exc: Exception) -> Response:
    """404, 405 and other HTTP errors as the site's own page, in Chinese."""
    status = getattr(exc, "status_code", 500)
    return refuse(request, status, HTTP_MESSAGES.get(status, "请求无法处理。"))


async def _server_error(request: Request, exc: Exception) -> Response:
    """An unexpected error: a Chinese page. Starlette re-raises it afterwards, so the server
    window still shows the traceback a maintainer needs (no passphrase or key is ever in a
    local variable's message: the library raises its own errors for those)."""
    return refuse(request, 500, "服务器内部错误，操作未完成。请重试；如反复出现，请联系维护人员"
                                "（错误详情已显示在运行 sgz serve 的窗口中）。")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _station_header(home: Path) -> tuple[str, str]:
    """The station's name for every page's header, and the warning every signed-in page shows
    while station.toml is still `sgz init`'s built-in example ('' otherwise)."""
    from archive.kernel.station import EXAMPLE_WARNING, load_station

    try:
        station = load_station(home / "station.toml")
    except (ArchiveError, OSError):
        return "社工站档案", ""
    return station.name, EXAMPLE_WARNING if station.is_example else ""


def _safe_next(target: str) -> str:
    """Only a local path is followed after sign-in (no open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _cookie(resp: Response, name: str, value: str) -> None:
    resp.set_cookie(name, value, httponly=True, samesite="strict", path="/")


async def login_form(request: Request) -> Response:
    if request.app.state.sessions.get(request.cookies.get(COOKIE)) is not None:
        return RedirectResponse("/", status_code=303)
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", csrf=token, error="", user="",
                  next=_safe_next(request.query_params.get("next", "/")))
    _cookie(resp, LOGIN_COOKIE, token)
    return resp


async def login(request: Request) -> Response:
    form = await posted_form(request, "请求过大。")
    if isinstance(form, Response):
        return form
    sent, kept = str(form.get("csrf") or ""), request.cookies.get(LOGIN_COOKIE, "")
    if not sent or not kept or not hmac.compare_digest(sent.encode(), kept.encode()):
        return refuse(request, 403, "登录表单已失效（CSRF），请刷新页面后重试。")
    user = str(form.get("user") or "").strip()
    passphrase = str(form.get("passphrase") or "")
    nxt = _safe_next(str(form.get("next") or "/"))
    state = request.app.state
    from archive.app import Archive

    def unlock() -> Any:
        arc = Archive.unlock(state.home, user=user, passphrase=passphrase, clock=state.clock,
                             **state.archive_kw)
        arc.search.prepare_phrases()  # built in the background: pasted sentences from memory
        return arc

    try:
        if not user or not passphrase:
            raise _BadLogin()
        sess: Session = await state.sessions.open(unlock, display=_display)
    except (_BadLogin, ArchiveError) as exc:
        code = getattr(exc, "exit_code", 7)
        message = "用户名或口令不正确。" if code in (3, 7) or isinstance(exc, _BadLogin) \
            else f"无法登录：{exc}"
        token = secrets.token_urlsafe(24)
        failed = render(request, "login.html", status_code=401, csrf=token, error=message,
                      user=user, next=nxt)
        _cookie(failed, LOGIN_COOKIE, token)
        return failed
    finally:
        passphrase = ""
    resp = RedirectResponse(nxt, status_code=303)
    _cookie(resp, COOKIE, sess.id)
    resp.delete_cookie(LOGIN_COOKIE, path="/")
    return resp


class _BadLogin(Exception):
    exit_code = 7


def _display(arc: Any) -> str:
    return str(getattr(arc.kernel.user, "display", "") or arc.kernel.user.name)


@signed_in()
async def logout(request: Request, sess: Session) -> Response:
    # wait (off the event loop) until the archive is closed and dropped
    await asyncio.get_running_loop().run_in_executor(None, request.app.state.sessions.end,
                                                     sess.id)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


def create_app(home: Path | str, *, clock: Callable[[], datetime] = _utc_now,
               archive_kw: dict[str, Any] | None = None, idle: Any = IDLE,
               max_age: Any = MAX_AGE, sweep_seconds: float = SWEEP_SECONDS,
               phrases: bool = True) -> Starlette:
    """The web application over one station home. `clock` drives both the archive and the
    session timeouts (tests move it); `archive_kw` goes to `Archive.unlock`. `phrases`: a
    long-running server keeps a phrase index per search index in memory (pasted sentences
    answered from it, archive/search/phrases.py; SGZ_SEARCH_MEMORY_MB bounds it)."""
    sessions = SessionStore(clock, idle=idle, max_age=max_age)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def sweeper() -> None:
            while True:
                await asyncio.sleep(sweep_seconds)
                await asyncio.get_running_loop().run_in_executor(None, sessions.sweep)

        task = asyncio.create_task(sweeper())
        if phrases:
            PHRASES.enable(lock=DATABASES)
        try:
            yield
        finally:
            task.cancel()
            sessions.close_all()
            if phrases:
                PHRASES.disable()

    routes = [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        *pages.routes(),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    from archive.web.security import SecurityHeaders

    app = Starlette(routes=routes, lifespan=lifespan, middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=list(ALLOWED_HOSTS)),
        Middleware(SecurityHeaders)],
        exception_handlers={HTTPException: _http_error, Exception: _server_error})
    app.state.home = Path(home)
    app.state.clock = clock
    app.state.archive_kw = dict(archive_kw or {})
    app.state.sessions = sessions
    app.state.station_name, app.state.example_station = _station_header(Path(home))
    return app
