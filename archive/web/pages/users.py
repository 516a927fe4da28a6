"""用户 (head, deputy): add, change role, remove staff accounts."""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from archive.web.guard import Pages, form_text
from archive.web.render import ROLE_LABELS, render
from archive.web.replies import act
from archive.web.sessions import Session

page = Pages()

_OK = {"add": "已添加用户。", "remove": "已移除用户。", "role": "已更改角色。"}


def _list(arc: Any) -> dict[str, Any]:
    return {"users": arc.users.list()}


async def _page(request: Request, sess: Session, *, status: int = 200, error: str = "",
                values: dict[str, str] | None = None) -> Response:
    data = await sess.run(_list)
    ok = request.query_params.get("ok", "")
    return render(request, "users.html", status_code=status, title="用户", error=error,
                  values=values or {}, roles=ROLE_LABELS, flash=_OK.get(ok), **data)


@page.get("/users", "user.manage")
async def users(request: Request, sess: Session) -> Response:
    return await _page(request, sess)


@page.post("/users/add", "user.manage")
async def add(request: Request, sess: Session) -> Response:
    values = {k: form_text(request, k) for k in ("name", "role", "display")}
    passphrase = str(request.state.form.get("passphrase") or "")
    again = str(request.state.form.get("passphrase2") or "")
    if passphrase != again:
        return await _page(request, sess, status=422, error="两次输入的口令不一致", values=values)
    return await act(sess, lambda arc: arc.users.add(values["name"], values["role"], passphrase,
                                                     display=values["display"]),
                     "/users?ok=add", functools.partial(_page, request, sess, values=values))


@page.post("/users/remove", "user.manage")
async def remove(request: Request, sess: Session) -> Response:
    name = form_text(request, "name")
    return await act(sess, lambda arc: arc.users.remove(name), "/users?ok=remove",
                     functools.partial(_page, request, sess))


@page.post("/users/role", "user.manage")
async def set_role(request: Request, sess: Session) -> Response:
    name, role = form_text(request, "name"), form_text(request, "role")
    return await act(sess, lambda arc: arc.users.role(name, role), "/users?ok=role",
                     functools.partial(_page, request, sess))


