"""检索: one search box, ranked hits with highlighted snippets, the same filters as the CLI."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from archive.web.guard import form_text, signed_in
from archive.web.render import render
from archive.web.sessions import Session

OPEN, CLOSE = "【", "】"


def marked(snippet: str) -> list[tuple[str, bool]]:
    """Split a snippet whose hits are marked 【…】 into (text, is_hit) runs; the template draws
    hits as <mark> (escaped text both ways)."""
    out: list[tuple[str, bool]] = []
    rest = snippet
    while rest:
        i = rest.find(OPEN)
        j = rest.find(CLOSE, i + 1) if i >= 0 else -1
        if i < 0 or j < 0:
            out.append((rest, False))
            break
        if i:
            out.append((rest[:i], False))
        out.append((rest[i + 1:j], True))
        rest = rest[j + 1:]
    return out


def run_search(arc: Any, q: str, filters: dict[str, Any]) -> Any:
    return arc.search.query(q, limit=50, **filters)


@signed_in()
async def search(request: Request, sess: Session) -> Response:
    # POST, so the words searched for (often a client's name) stay out of URLs and history
    p = request.state.form
    q = form_text(request, "q")
    year = form_text(request, "year")
    filters = {"category": form_text(request, "category") or None,
               "year": int(year) if year.isdigit() else None,
               "retention": form_text(request, "retention") or None,
               "household": form_text(request, "household") or None}
    res = await sess.run(run_search, q, filters) if q else None
    return render(request, "search.html", title="检索", q=q, p=p, res=res, marked=marked)


ROUTES = [Route("/search", search, methods=["GET", "POST"])]
