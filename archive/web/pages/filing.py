"""归档: drag and drop one or many files, a form for the catalogue fields, the new 档号.

Uploads arrive in memory (archive/web/security.py never spools them to disk) and go to the
records service as in-memory files, which encrypts them into the vault's own staging.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from archive.errors import ArchiveError, ValidationError
from archive.fs.sources import InMemoryFile
from archive.web.guard import Pages, error_status, form_flag, form_text
from archive.web.render import render
from archive.web.security import uploads
from archive.web.sessions import Session

page = Pages()

FILERS = frozenset({"head", "deputy", "archivist", "social_worker"})
META = ("category", "retention", "date", "household", "title", "doc_no", "author", "note")


def classes(arc: Any) -> dict[str, Any]:
    """The station's classes and each one's default retention from the retention table."""
    k = arc.kernel
    return {"classes": dict(k.station.classes),
            "defaults": {c: arc.retention.default_for(c) for c in k.station.classes}}


async def read_uploads(request: Request, name: str = "files") -> list[InMemoryFile]:
    out = []
    for up in uploads(request.state.form, name):
        data = await up.read()
        out.append(InMemoryFile(up.filename or "upload", data))
        await up.close()
    return out


def file_uploads(arc: Any, files: list[InMemoryFile], meta: dict[str, Any]) -> list[Any]:
    return list(arc.records.file(files, **meta))


def _meta(request: Request, nfiles: int) -> dict[str, Any]:
    v = {k: form_text(request, k) for k in META}
    meta: dict[str, Any] = {
        "category": v["category"] or None, "retention": v["retention"] or None,
        "date": v["date"] or None, "household": v["household"], "doc_no": v["doc_no"],
        "author": v["author"], "note": v["note"], "precious": form_flag(request, "precious"),
    }
    if v["title"]:
        if nfiles > 1:
            raise ValidationError("一次上传多个文件时，题名取自各文件本身；请清空“题名”或逐个上传")
        meta["title"] = v["title"]
    return meta


async def _form(request: Request, sess: Session, *, status: int = 200, error: str = "",
                results: list[Any] | None = None) -> Response:
    data = await sess.run(classes)
    values = {k: form_text(request, k) for k in META}
    tpl = "filing_result.html" if request.headers.get("hx-request") == "true" else "filing.html"
    return render(request, tpl, status_code=status, title="归档", error=error,
                  results=results, values=values, **data)


@page.get("/file", FILERS)
async def filing_form(request: Request, sess: Session) -> Response:
    return await _form(request, sess)


@page.post("/file", FILERS)
async def file_post(request: Request, sess: Session) -> Response:
    files = await read_uploads(request)
    try:
        if not files:
            raise ValidationError("请选择或拖入至少一个文件")
        meta = _meta(request, len(files))
        results = await sess.run(file_uploads, files, meta)
    except ArchiveError as exc:
        return await _form(request, sess, status=error_status(exc), error=str(exc))
    finally:
        files.clear()
    return await _form(request, sess, results=results)


@page.get("/file/retention", FILERS)
async def retention_default(request: Request, sess: Session) -> Response:
    """htmx: the retention select with the chosen class's default selected."""
    data = await sess.run(classes)
    cls = request.query_params.get("category", "")
    return render(request, "filing_retention.html", selected=data["defaults"].get(cls, ""))


