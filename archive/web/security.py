"""Response headers (CSP and friends), CSRF checks, and form parsing that keeps uploads in memory.

CSRF is done here rather than with a middleware package: the token lives in the server-side
session (not a cookie), so a check is one constant-time comparison, and it must run after the
form is parsed by our own memory-only parser (uploads never touch the disk in clear).
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncGenerator
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartParser
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")

HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
NO_STORE = (b"cache-control", b"no-store")

MAX_UPLOAD = 200 * 1024 * 1024  # one request; larger batches are filed from the CLI
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class SecurityHeaders:
    """Pure ASGI middleware: strict CSP and no caching of pages (they hold client data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", [])
                           if h[0].lower() not in {k for k, _ in HEADERS}]
                headers.extend(HEADERS)
                if not static:
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, _send)


class TooLarge(Exception):
    """The request body is over MAX_UPLOAD."""


class _MemoryParser(MultiPartParser):
    # Starlette spools a part to a temporary file past this size; with the body capped at
    # MAX_UPLOAD no part can reach it, so every upload stays in memory.
    spool_max_size = MAX_UPLOAD + 1


async def _capped(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise TooLarge()
        yield chunk


async def read_form(request: Request) -> FormData:
    """Parse a urlencoded or multipart form; uploads are held in memory, never spooled."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_UPLOAD:
        raise TooLarge()
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        parser = _MemoryParser(request.headers, _capped(request, MAX_UPLOAD), max_files=200,
                               max_fields=400, max_part_size=1024 * 1024)
        return await parser.parse()
    if ctype.startswith("application/x-www-form-urlencoded"):
        body = b""
        async for chunk in _capped(request, 4 * 1024 * 1024):
            body += chunk
        request._body = body  # let starlette parse what we already read
        return await request.form()
    return FormData()


def csrf_ok(request: Request, form: FormData, token: str) -> bool:
    """The session's token must come back in the header (htmx) or the hidden field."""
    if not token:
        return False
    sent: Any = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not sent:
        return False
    return hmac.compare_digest(sent.encode(), token.encode())


def same_origin(request: Request) -> bool:
    """Refuse cross-site POSTs outright where the browser tells us (Origin, Sec-Fetch-Site)."""
    site = request.headers.get("sec-fetch-site")
    if site and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        return origin.split("://", 1)[-1] == host
    return True


def uploads(form: FormData, name: str) -> list[UploadFile]:
    """The non-empty files posted under `name`."""
    return [f for f in form.getlist(name)
            if isinstance(f, UploadFile) and f.filename and (f.size or 0) > 0]
