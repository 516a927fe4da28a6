"""保管期限与销毁: records due for appraisal, propose a batch, approve, execute with witnesses."""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from archive.errors import ArchiveError
from archive.web.guard import Pages, error_status, form_text
from archive.web.render import render
from archive.web.replies import act
from archive.web.sessions import Session

page = Pages()

STAFF = frozenset({"head", "deputy", "archivist"})
_OK = {"propose": "已提出销毁批次，销毁清册已归档，待站长批准。", "approve": "已批准。",
       "execute": "已在监销人见证下执行销毁；审计日志已签发检查点。"}


async def _overview(request: Request, sess: Session, *, status: int = 200, error: str = "",
                    note: str = "") -> Response:
    from archive.web.pages.home import due_list

    data = {"due": await sess.listing(("due",), request.app.state.clock(), due_list),
            "batches": await sess.run(lambda arc: arc.disposal.list())}
    return render(request, "retention.html", status_code=status, title="保管期限与销毁",
                  error=error, note=note, flash=_OK.get(request.query_params.get("ok", "")),
                  **data)


@page.get("/retention", STAFF)
async def retention(request: Request, sess: Session) -> Response:
    return await _overview(request, sess)


@page.post("/retention/propose", STAFF)
async def propose(request: Request, sess: Session) -> Response:
    refs = [str(r) for r in request.state.form.getlist("ref") if str(r).strip()]
    note = form_text(request, "note")
    try:
        batch = await sess.run(lambda arc: arc.disposal.propose(refs, appraisal_note=note)
                               if refs else arc.disposal.propose(due=True, appraisal_note=note))
    except ArchiveError as exc:
        return await _overview(request, sess, status=error_status(exc), error=str(exc), note=note)
    return RedirectResponse(f"/retention/batch/{batch.id}?ok=propose", status_code=303)


def _batch_data(arc: Any, bid: str) -> dict[str, Any]:
    users = []
    try:
        users = [u for u in arc.users.list() if u.name != arc.kernel.user.name]
    except ArchiveError:
        users = []
    return {"batch": arc.disposal.show(bid), "users": users}


async def _batch_page(request: Request, sess: Session, bid: str, *, status: int = 200,
                      error: str = "") -> Response:
    data = await sess.run(_batch_data, bid)
    typed = {f"witness{i}": form_text(request, f"witness{i}") for i in (1, 2, 3)}
    return render(request, "batch.html", status_code=status, title=f"销毁批次 {bid}", error=error,
                  typed=typed,
                  flash=_OK.get(request.query_params.get("ok", "")), **data)


@page.get("/retention/batch/{bid}", STAFF)
async def batch(request: Request, sess: Session) -> Response:
    return await _batch_page(request, sess, request.path_params["bid"])


@page.post("/retention/batch/{bid}/approve", STAFF)
async def approve(request: Request, sess: Session) -> Response:
    bid = request.path_params["bid"]
    return await act(sess, lambda arc: arc.disposal.approve(bid),
                     f"/retention/batch/{bid}?ok=approve",
                     functools.partial(_batch_page, request, sess, bid))


@page.post("/retention/batch/{bid}/execute", STAFF)
async def execute(request: Request, sess: Session) -> Response:
    bid = request.path_params["bid"]
    witnesses = [form_text(request, "witness1"), form_text(request, "witness2"),
                 form_text(request, "witness3")]
    witnesses = [w for w in witnesses if w]
    if form_text(request, "confirm") != "1":
        return await _batch_page(request, sess, bid, status=422,
                                 error="请勾选确认：销毁不可恢复，监销人均在场。")
    return await act(sess, lambda arc: arc.disposal.execute(bid, witnesses=witnesses),
                     f"/retention/batch/{bid}?ok=execute",
                     functools.partial(_batch_page, request, sess, bid))


