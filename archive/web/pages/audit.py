"""审计: the log in Chinese (paged, filterable), verification, checkpoint download, flags."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from archive.errors import ArchiveError
from archive.web.guard import Pages, form_text, whole_number
from archive.web.render import render
from archive.web.replies import download
from archive.web.sessions import Session

page = Pages()

PAGE = 100


def history(arc: Any, actor: str | None, ref: str | None, before: int | None
            ) -> list[dict[str, Any]]:
    return list(arc.audit.history(actor=actor, ref=ref, before=before, limit=PAGE))


@page.get("/audit", "audit.read")
async def log_page(request: Request, sess: Session) -> Response:
    """Newest first, one page at a time (only the page's details are decrypted)."""
    p = request.query_params
    actor, ref = p.get("actor") or None, p.get("ref") or None
    before_text = p.get("before", "")
    before = whole_number(before_text, "审计序号", lo=1)
    entries = list(reversed(await sess.run(history, actor, ref, before)))
    older = entries[-1]["seq"] if len(entries) == PAGE else None
    return render(request, "audit.html", title="审计", entries=entries, older=older,
                  newest=before is None, p=p)


def verify(arc: Any) -> Any:
    from archive.audit.verify import verify_log

    return verify_log(arc.kernel.home.audit)


@page.post("/audit/verify", "audit.verify")
async def verify_page(request: Request, sess: Session) -> Response:
    try:
        rep = await sess.run(verify)
        err = ""
    except ArchiveError as exc:
        rep, err = None, str(exc)
    return render(request, "audit_verify.html", title="校验审计日志", rep=rep, verify_error=err)


@page.post("/audit/checkpoint", "audit.read")
async def checkpoint(request: Request, sess: Session) -> Response:
    cp = await sess.run(lambda arc: arc.audit.checkpoint())
    day = request.app.state.clock().strftime("%Y%m%d")
    return download(cp["note"].encode("utf-8"), "text/plain; charset=utf-8",
                    f"检查点-{day}.note", fallback="checkpoint.note")


@page.get("/audit/flags", "audit.details")
async def flags(request: Request, sess: Session) -> Response:
    rows = await sess.run(lambda arc: arc.access.flags())
    return render(request, "flags.html", title="提请关注", flags=rows)


@page.post("/audit/flags/ack", "audit.details")
async def ack(request: Request, sess: Session) -> Response:
    fid = whole_number(form_text(request, "id"), "提请关注编号", lo=1)
    if fid is not None:
        await sess.run(lambda arc: arc.access.ack_flag(fid))
    return RedirectResponse("/audit/flags", status_code=303)


