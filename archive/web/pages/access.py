"""外单位查阅: register a request with its 介绍信, the head approves or denies, the archivist
hands out watermarked view copies and numbered copies (downloaded, never written to disk)."""

from __future__ import annotations

import functools
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from archive.errors import ArchiveError, ValidationError
from archive.web.guard import Pages, error_status, form_flag, form_text, year_param
from archive.web.pages.filing import read_uploads
from archive.web.render import render
from archive.web.replies import DOCX, act, download
from archive.web.sessions import Session

page = Pages()

APPROVERS = frozenset({"head", "deputy"})
FIELDS = ("unit", "applicant", "phone", "id_doc", "letter_no", "purpose", "items")
_OK = {"register": "已登记，介绍信已归档。请站长审批。", "approve": "已批准。", "deny": "已驳回。"}


async def _list(request: Request, sess: Session, *, status: int = 200, error: str = "",
                values: dict[str, str] | None = None) -> Response:
    want = request.query_params.get("status") or None
    rows = await sess.run(lambda arc: arc.access.list(status=want))
    return render(request, "access.html", status_code=status, title="外单位查阅", rows=rows,
                  want=want or "", error=error, values=values or {})


@page.get("/access", "access.register")
async def access(request: Request, sess: Session) -> Response:
    return await _list(request, sess)


@page.post("/access", "access.register")
async def register(request: Request, sess: Session) -> Response:
    values = {k: form_text(request, k) for k in FIELDS}
    letters = await read_uploads(request, "letter")
    items = [x for x in re.split(r"[\s,，、；;]+", values["items"]) if x]
    try:
        if len(letters) != 1:
            raise ValidationError("请上传一份介绍信扫描件")
        copy = form_flag(request, "copy")
        req = await sess.run(lambda arc: arc.access.request(
            unit=values["unit"], letter=letters[0], purpose=values["purpose"], items=items,
            copy=copy, applicant=values["applicant"], phone=values["phone"],
            id_doc=values["id_doc"], letter_no=values["letter_no"]))
    except ArchiveError as exc:
        return await _list(request, sess, status=error_status(exc), error=str(exc),
                           values=values)
    return RedirectResponse(f"/access/{req.no}?ok=register", status_code=303)


def _show(arc: Any, no: str) -> dict[str, Any]:
    return {"req": arc.access.show(no)}


async def _page(request: Request, sess: Session, no: str, *, status: int = 200,
                error: str = "") -> Response:
    data = await sess.run(_show, no)
    return render(request, "access_request.html", status_code=status, title=f"查阅申请 {no}",
                  error=error, flash=_OK.get(request.query_params.get("ok", "")), **data)


@page.get("/access/{no}", "access.register")
async def show(request: Request, sess: Session) -> Response:
    return await _page(request, sess, request.path_params["no"])


@page.post("/access/{no}/approve", APPROVERS)
async def approve(request: Request, sess: Session) -> Response:
    no = request.path_params["no"]
    until = form_text(request, "until") or None
    allow_copy = form_flag(request, "allow_copy")
    return await act(sess, lambda arc: arc.access.approve(no, until=until, allow_copy=allow_copy),
                     f"/access/{no}?ok=approve", functools.partial(_page, request, sess, no))


@page.post("/access/{no}/deny", APPROVERS)
async def deny(request: Request, sess: Session) -> Response:
    no = request.path_params["no"]
    reason = form_text(request, "reason")
    return await act(sess, lambda arc: arc.access.deny(no, reason=reason),
                     f"/access/{no}?ok=deny", functools.partial(_page, request, sess, no))


def _issue(kind: str) -> Any:
    async def endpoint(request: Request, sess: Session) -> Response:
        no = request.path_params["no"]
        ref, reason = form_text(request, "ref"), form_text(request, "reason")
        try:
            out = await sess.run(lambda arc: arc.access.issue_bytes(kind, no, ref, reason=reason))
        except ArchiveError as exc:
            return await _page(request, sess, no, status=error_status(exc), error=str(exc))
        return download(out.data, out.mime, out.filename)
    return endpoint


@page.get("/access/register.docx", "access.register")
async def register_doc(request: Request, sess: Session) -> Response:
    year = request.query_params.get("year", "")
    blob, _n = await sess.run(lambda arc: arc.access.register_doc(
        year=year_param(year)))
    return download(blob, DOCX, "档案查阅申请与登记表.docx")
page.post("/access/{no}/view", "access.register")(_issue("view"))
page.post("/access/{no}/copy", "access.register")(_issue("copy"))
