"""系统: integrity check, backup to a chosen folder, search index status and rebuild."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from archive.errors import ArchiveError, ValidationError
from archive.web.guard import Pages, error_status, form_flag, form_text
from archive.web.render import render
from archive.web.sessions import Session

page = Pages()


def _status(arc: Any) -> dict[str, Any]:
    return dict(arc.search.status())


async def _page(request: Request, sess: Session, status: int = 200, **ctx: Any) -> Response:
    index = await sess.run(_status)
    base: dict[str, Any] = {"check": None, "backup": None, "error": "", "rebuilt": None,
                            "dest": ""}
    return render(request, "system.html", status_code=status, title="系统", index=index,
                  **{**base, **ctx})


@page.get("/system", "check")
async def system(request: Request, sess: Session) -> Response:
    return await _page(request, sess)


@page.post("/system/check", "check")
async def check(request: Request, sess: Session) -> Response:
    read_data = form_flag(request, "read_data")
    report = await sess.run(lambda arc: arc.maintenance.check(read_data=read_data))
    return await _page(request, sess, check=report)


@page.post("/system/backup", "backup")
async def backup(request: Request, sess: Session) -> Response:
    dest = form_text(request, "dest")
    try:
        if not dest or not Path(dest).is_absolute():
            raise ValidationError("请填写备份目标文件夹的完整路径，例如 E:\\档案备份\\2026-12-01")
        report = await sess.run(lambda arc: arc.maintenance.backup(Path(dest)))
    except ArchiveError as exc:
        return await _page(request, sess, status=error_status(exc), error=str(exc), dest=dest)
    return await _page(request, sess, backup=report, dest=dest)


@page.post("/system/rebuild", "check")
async def rebuild(request: Request, sess: Session) -> Response:
    n = await sess.run(lambda arc: arc.search.rebuild())
    return await _page(request, sess, rebuilt=n)


