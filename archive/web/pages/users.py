"""用户 (head, deputy): add, change role, remove staff accounts."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from archive.errors import ArchiveError
from archive.web.guard import error_status, form_text, signed_in
from archive.web.render import ROLE_LABELS, render
from archive.web.sessions import Session

_OK = {"add": "已添加用户。", "remove": "已移除用户。", "role": "已更改角色。"}


def _list(arc: Any) -> dict[str, Any]:
    return {"users": arc.users.list(), "can_set_role": hasattr(arc.users, "set_role")}


async def _page(request: Request, sess: Session, *, status: int = 200, error: str = "",
                values: dict[str, str] | None = None) -> Response:
    data = await sess.run(_list)
    ok = request.query_params.get("ok", "")
    return render(request, "users.html", status_code=status, title="用户", error=error,
                  values=values or {}, roles=ROLE_LABELS, flash=_OK.get(ok), **data)


@signed_in("user.manage")
async def users(request: Request, sess: Session) -> Response:
    return await _page(request, sess)


@signed_in("user.manage")
async def add(request: Request, sess: Session) -> Response:
    values = {k: form_text(request, k) for k in ("name", "role", "display")}
    passphrase = str(request.state.form.get("passphrase") or "")
    again = str(request.state.form.get("passphrase2") or "")
    if passphrase != again:
        return await _page(request, sess, status=422, error="两次输入的口令不一致", values=values)
    try:
        await sess.run(lambda arc: arc.users.add(values["name"], values["role"], passphrase,
                                                display=values["display"]))
    except ArchiveError as exc:
        return await _page(request, sess, status=error_status(exc), error=str(exc), values=values)
    return RedirectResponse("/users?ok=add", status_code=303)


@signed_in("user.manage")
async def remove(request: Request, sess: Session) -> Response:
    name = form_text(request, "name")
    try:
        await sess.run(lambda arc: arc.users.remove(name))
    except ArchiveError as exc:
        return await _page(request, sess, status=error_status(exc), error=str(exc))
    return RedirectResponse("/users?ok=remove", status_code=303)


@signed_in("user.manage")
async def set_role(request: Request, sess: Session) -> Response:
    name, role = form_text(request, "name"), form_text(request, "role")
    try:
        await sess.run(lambda arc: arc.users.set_role(name, role))
    except ArchiveError as exc:
        return await _page(request, sess, status=error_status(exc), error=str(exc))
    return RedirectResponse("/users?ok=role", status_code=303)


ROUTES = [
    Route("/users", users, methods=["GET"]),
    Route("/users/add", add, methods=["POST"]),
    Route("/users/remove", remove, methods=["POST"]),
    Route("/users/role", set_role, methods=["POST"]),
]
