"""The one wrapper every signed-in page goes through: session, CSRF, role, errors.

`@signed_in()` resolves the session from the cookie (expired ones are wiped), parses and
CSRF-checks every POST, refuses roles a page is not for, and turns library errors into a page
(or an htmx fragment) in Chinese with a fitting HTTP status.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from archive.errors import ArchiveError, ValidationError
from archive.web.render import allowed, render
from archive.web.security import TooLarge, csrf_ok, read_form, same_origin
from archive.web.sessions import Session, SessionEnded

COOKIE = "sgz_session"
Endpoint = Callable[[Request, Session], Awaitable[Response]]

HTTP_STATUS = {2: 400, 3: 404, 4: 409, 5: 403, 6: 422, 7: 401, 8: 500, 9: 507}


def error_status(exc: ArchiveError) -> int:
    return HTTP_STATUS.get(exc.exit_code, 500)


def to_login(request: Request) -> Response:
    """Back to sign-in; htmx requests are told to navigate rather than swap in a login form."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    nxt = request.url.path if request.method == "GET" else "/"
    return RedirectResponse(f"/login?next={quote(nxt)}", status_code=303)


def refuse(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status_code=status, message=message)


async def posted_form(request: Request, too_large: str) -> FormData | HTMLResponse:
    """The body of a POST from this site, or the page refusing it: 403 when it comes from
    elsewhere, 413 (with `too_large`) when it is over the limit."""
    if not same_origin(request):
        return refuse(request, 403, "请求来源不是本站，已拒绝。")
    try:
        return await read_form(request)
    except TooLarge:
        return refuse(request, 413, too_large)


def signed_in(rule: str | frozenset[str] | None = None) -> Callable[[Endpoint], Callable[
        [Request], Awaitable[Response]]]:
    """`rule`: a policy action the user must be allowed (non-record actions), a set of roles,
    or None for every signed-in user. The library still decides every operation itself."""
    def deco(fn: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            store = request.app.state.sessions
            sess: Session | None = store.get(request.cookies.get(COOKIE))
            if sess is None:
                resp = to_login(request)
                resp.delete_cookie(COOKIE, path="/")
                return resp
            request.state.session = sess
            request.state.form = FormData()
            if request.method == "POST":
                sess.listings.clear()  # whatever this changes shows at once
                form = await posted_form(request, "上传内容过大（单次不超过 200 MB），请分批上传。")
                if isinstance(form, Response):
                    return form
                if not csrf_ok(request, form, sess.csrf):
                    return refuse(request, 403, "表单已失效或缺少安全令牌（CSRF），请刷新页面后重试。")
                request.state.form = form
            if not allowed(rule, sess.user, sess.role):
                return refuse(request, 403, "您的角色无权使用此页面。")
            try:
                return await fn(request, sess)
            except SessionEnded:
                return to_login(request)
            except ArchiveError as exc:
                return refuse(request, error_status(exc), str(exc))
        return endpoint
    return deco


class Pages:
    """One menu entry's routes, each declared on its endpoint: `@page.get(path, rule)` guards
    the endpoint with `signed_in(rule)` and registers it, so a page cannot be routed unguarded
    and no separate route table repeats the paths. `pages.routes()` puts literal paths before
    parameterised ones ("/access/register.docx" before "/access/{no}")."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def get(self, path: str, rule: str | frozenset[str] | None = None) -> Callable[[Endpoint], Any]:
        return self.route(path, rule, "GET")

    def post(self, path: str, rule: str | frozenset[str] | None = None
             ) -> Callable[[Endpoint], Any]:
        return self.route(path, rule, "POST")

    def route(self, path: str, rule: str | frozenset[str] | None, *methods: str
              ) -> Callable[[Endpoint], Any]:
        def deco(fn: Endpoint) -> Callable[[Request], Awaitable[Response]]:
            endpoint = signed_in(rule)(fn)
            self.routes.append(Route(path, endpoint, methods=list(methods)))
            return endpoint
        return deco


MAX_ID = 2**63 - 1  # what SQLite holds: a larger number from a link is a 500 without this


def whole_number(text: str, what: str, *, lo: int = 0, hi: int = MAX_ID) -> int | None:
    """A whole number typed into a form or carried in a link: None when blank; otherwise
    ASCII digits within lo..hi, or a ValidationError in Chinese (the page says what is wrong)."""
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise ValidationError(f"{what}必须是数字：{text[:20]}", found=text[:20])
    n = int(text[:30]) if len(text) <= 30 else hi + 1
    if not lo <= n <= hi:
        raise ValidationError(f"{what}超出范围（{lo}–{hi}）：{text[:20]}", found=text[:20])
    return n


def year_param(text: str) -> int | None:
    """年度 from a form or a link (the catalogue holds years 1900-2999)."""
    return whole_number(text, "年度", lo=1900, hi=2999)


def form_text(request: Request, name: str, default: str = "") -> str:
    v: Any = request.state.form.get(name)
    return v.strip() if isinstance(v, str) else default


def form_flag(request: Request, name: str) -> bool:
    return form_text(request, name) in ("1", "on", "true", "yes")
