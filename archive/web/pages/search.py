"""检索: one search box, ranked hits with highlighted snippets, the same filters as the CLI."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from archive.web.guard import Pages, form_text, year_param
from archive.web.render import render
from archive.web.sessions import Session

page = Pages()


def marked(hit: Any) -> list[tuple[str, bool]]:
    """A hit's snippet as (text, is_hit) runs from its highlight offsets (never by looking for
    brackets, which real text contains); the template draws hits as <mark>, escaped both
    ways, and … where the document goes on."""
    snip = hit.snippet_obj
    out: list[tuple[str, bool]] = [("…", False)] if snip.cut_before else []
    pos = 0
    for start, end in snip.spans:
        if start > pos:
            out.append((snip.text[pos:start], False))
        out.append((snip.text[start:end], True))
        pos = end
    if pos < len(snip.text):
        out.append((snip.text[pos:], False))
    if snip.cut_after:
        out.append(("…", False))
    return out


def run_search(arc: Any, q: str, filters: dict[str, Any]) -> Any:
    return arc.search.query(q, limit=50, **filters)


@page.route("/search", None, "GET", "POST")
async def search(request: Request, sess: Session) -> Response:
    # POST, so the words searched for (often a client's name) stay out of URLs and history
    p = request.state.form
    q = form_text(request, "q")
    year = form_text(request, "year")
    filters = {"category": form_text(request, "category") or None,
               "year": year_param(year),
               "retention": form_text(request, "retention") or None,
               "household": form_text(request, "household") or None}
    res = await sess.run(run_search, q, filters) if q else None
    return render(request, "search.html", title="检索", q=q, p=p, res=res, marked=marked)


