"""Responses several pages share: a file download, and "run one service call, then either
go on to the result page or show the form again with the library's error beside it"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from starlette.responses import RedirectResponse, Response

from archive.errors import ArchiveError
from archive.web.guard import error_status
from archive.web.sessions import Session

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(data: bytes, mime: str, name: str, *, fallback: str = "") -> Response:
    """`data` as an attachment called `name` (UTF-8, RFC 6266); `fallback` is the plain ASCII
    name for clients that do not read `filename*` (default: "sgz-download" with the name's
    extension, so the file still opens with the right program)."""
    if not fallback:
        suffix = PurePath(name).suffix
        fallback = "sgz-download" + (suffix if suffix.isascii() and suffix[1:].isalnum() else "")
    return Response(data, media_type=mime, headers={
        "content-disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"})


async def act(sess: Session, call: Callable[[Any], object], done: str,
              again: Callable[..., Awaitable[Response]]) -> Response:
    """Run `call(archive)` in the session; on success redirect (303) to `done`, on a library
    error return `again(status=..., error=...)`: the form's page with the message beside it."""
    try:
        await sess.run(call)
    except ArchiveError as exc:
        return await again(status=error_status(exc), error=str(exc))
    return RedirectResponse(done, status_code=303)
