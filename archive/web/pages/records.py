"""档案目录: the 归档文件目录 as a filterable, sortable, paged table (XLSX export), and the
item page (metadata, components, its audit history, actions)."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from archive.errors import ArchiveError, ValidationError
from archive.web.guard import Pages, form_text, whole_number, year_param
from archive.web.render import CLASS_LABELS, RETENTION_LABELS, date8, render
from archive.web.replies import XLSX, download
from archive.web.sessions import Session

page = Pages()

PAGE = 50
SORTS = {"ref": "档号", "title": "题名", "date": "日期", "year": "年度", "household": "户号",
         "filed_at": "归档时间"}
COLUMNS = ("序号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注")


def _filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    year = q.get("year", "").strip()
    return {
        "category": q.get("category", "").strip() or None,
        "year": year_param(year),
        "retention": q.get("retention", "").strip() or None,
        "household": q.get("household", "").strip() or None,
        "include_destroyed": q.get("status") == "all",
    }


def _sorted(rows: list[Any], key: str, desc: bool) -> list[Any]:
    if key not in SORTS or key == "ref":
        ordered = sorted(rows, key=lambda r: (r.fonds, r.genre, r.year, r.retention, r.cls, r.item))
    else:
        ordered = sorted(rows, key=lambda r: (str(getattr(r, key) or ""), r.ref))
    return list(reversed(ordered)) if desc else ordered


def list_records(arc: Any, filters: dict[str, Any]) -> list[Any]:
    return list(arc.records.ls(**filters))


@page.get("/records")
async def catalogue(request: Request, sess: Session) -> Response:
    filters = _filters(request)
    q = request.query_params
    sort, desc = q.get("sort", "ref"), q.get("dir") == "desc"
    page = whole_number(q.get("page", ""), "页码", lo=1) or 1
    key = ("records", tuple(sorted(filters.items())))
    now = request.app.state.clock()
    rows = _sorted(await sess.listing(key, now, list_records, filters), sort, desc)
    pages = max(1, (len(rows) + PAGE - 1) // PAGE)
    page = min(page, pages)
    keep = {k: v for k, v in q.items() if k not in ("page", "sort", "dir") and v}

    def link(**over: Any) -> str:
        return "/records?" + urlencode({**keep, "sort": sort, "dir": "desc" if desc else "asc",
                                        **over})

    return render(request, "records.html", title="档案目录", rows=rows[(page - 1) * PAGE:page * PAGE],
                  total=len(rows), page=page, pages=pages, sort=sort, desc=desc, sorts=SORTS,
                  link=link, q=q, keep=keep, first=(page - 1) * PAGE)


def xlsx_bytes(rows: list[Any]) -> bytes:
    """The 归档文件目录 as an .xlsx (columns of DA/T 22: 序号 档号 文号 责任者 题名 日期 密级 页数 备注)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "归档文件目录"
    ws.append(list(COLUMNS))
    for c in ws[1]:
        c.font = Font(bold=True)
    for i, r in enumerate(rows, 1):
        ws.append([i, r.ref, r.doc_no, r.author, r.title, date8(r.date), r.secrecy or "",
                   r.pages or "", r.note])
    for col, width in zip("ABCDEFGHI", (6, 26, 14, 14, 48, 12, 8, 6, 20), strict=True):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@page.get("/records.xlsx")
async def catalogue_xlsx(request: Request, sess: Session) -> Response:
    rows = await sess.run(list_records, _filters(request))
    data = xlsx_bytes(_sorted(rows, "ref", False))
    return download(data, XLSX, "归档文件目录.xlsx")


def item_data(arc: Any, ref: str) -> dict[str, Any]:
    info = arc.records.show(ref)
    held = any(h.ref == info["ref"] for h in _quiet_list(arc.holds.list))
    return {"info": info, "held": held, "can_audit": _allowed(arc, "audit.read")}


def _quiet_list(fn: Any) -> list[Any]:
    try:
        return list(fn())
    except ArchiveError:
        return []


def _allowed(arc: Any, action: str) -> bool:
    from archive.web.render import allowed

    return allowed(action, arc.kernel.user.name, arc.kernel.user.role)


@page.get("/records/{ref}")
async def item(request: Request, sess: Session) -> Response:
    ref = request.path_params["ref"]
    data = await sess.run(item_data, ref)
    return render(request, "item.html", title=data["info"]["ref"], error="",
                  flash=request.query_params.get("ok") and _OK.get(request.query_params["ok"]),
                  **data)


_OK = {"hold": "已冻结。", "unhold": "已解除冻结。", "component": "已添加组件。",
       "correct": "已添加更正版本。"}


@page.post("/records/{ref}/hold")
async def hold(request: Request, sess: Session) -> Response:
    ref = request.path_params["ref"]
    reason = form_text(request, "reason")
    release = form_text(request, "op") == "remove"

    def _do(arc: Any) -> None:
        if release:
            arc.holds.remove(ref, reason=reason)
        else:
            arc.holds.add(ref, reason=reason)

    try:
        if not reason:
            raise ValidationError("请填写冻结或解除冻结的原因")
        await sess.run(_do)
    except ValidationError as exc:
        data = await sess.run(item_data, ref)
        return render(request, "item.html", status_code=422, title=ref, error=str(exc), **data)
    return RedirectResponse(f"/records/{ref}?ok={'unhold' if release else 'hold'}", status_code=303)


@page.post("/records/{ref}/export")
async def export(request: Request, sess: Session) -> Response:
    """Decrypt one component for download: a reason, the policy and the audit, like `sgz get`."""
    ref = request.path_params["ref"]
    reason, seq = form_text(request, "reason"), form_text(request, "seq")
    try:
        comp, data = await sess.run(lambda arc: arc.records.read(
            ref, reason=reason, component=whole_number(seq, "组件序号", lo=1)))
    except ValidationError as exc:
        info = await sess.run(item_data, ref)
        return render(request, "item.html", status_code=422, title=ref, error=str(exc), **info)
    return download(data, comp.mime, comp.filename)


@page.post("/records/{ref}/component")
async def component(request: Request, sess: Session) -> Response:
    """Add a signed scan, an attachment or a corrected version (with its reason) to an item."""
    from archive.web.pages.filing import read_uploads

    ref = request.path_params["ref"]
    kind, reason = form_text(request, "kind") or "附件", form_text(request, "reason")
    files = await read_uploads(request)
    try:
        if len(files) != 1:
            raise ValidationError("请选择一个文件")
        await sess.run(lambda arc: arc.records.file(files, of=ref, kind=kind, reason=reason))
    except ValidationError as exc:
        info = await sess.run(item_data, ref)
        return render(request, "item.html", status_code=422, title=ref, error=str(exc), **info)
    ok = "correct" if kind == "更正版本" else "component"
    return RedirectResponse(f"/records/{ref}?ok={ok}", status_code=303)



__all__ = ["CLASS_LABELS", "RETENTION_LABELS", "page"]
