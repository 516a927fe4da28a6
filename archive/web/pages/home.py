"""Each role's landing page: what is waiting for this person today."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from archive.errors import ArchiveError
from archive.web.guard import Pages
from archive.web.render import render
from archive.web.sessions import Session

page = Pages()

APPROVERS = frozenset({"head", "deputy"})
SERVERS = frozenset({"archivist"})


def _quiet(fn: Any, *args: Any, **kw: Any) -> Any:
    """A panel the role may not have (AccessDenied) is left out rather than failing the page."""
    try:
        return fn(*args, **kw)
    except ArchiveError:
        return None


def home_data(arc: Any) -> dict[str, Any]:
    """What the signed-in user's home shows, by role (runs in the session's thread)."""
    role = arc.kernel.user.role
    data: dict[str, Any] = {"role": role}
    if role in APPROVERS:
        data["pending"] = _quiet(arc.access.list, status="pending") or []
        data["batches"] = _quiet(arc.disposal.list, "proposed") or []
        data["flags"] = _quiet(arc.access.flags) or []
        data["checkpoint_due"] = bool(_quiet(arc.kernel.checkpoint_due))
    if role in SERVERS or role in APPROVERS:
        data["approved"] = _quiet(arc.access.list, status="approved") or []
        data["approved_batches"] = _quiet(arc.disposal.list, "approved") or []
    return data


def due_list(arc: Any) -> list[dict[str, Any]]:
    """Records due for appraisal (a walk over the whole catalogue: cached per session)."""
    return _quiet(arc.retention.due) or []


def my_households(arc: Any) -> list[tuple[str, list[Any]]]:
    mine: dict[str, list[Any]] = defaultdict(list)
    for rec in _quiet(arc.records.ls, category="FW") or []:
        if rec.responsible == arc.kernel.user.name:
            mine[rec.household or "（未填户号）"].append(rec)
    return sorted(mine.items())


@page.get("/")
async def home(request: Request, sess: Session) -> Response:
    now = request.app.state.clock()
    # the inbox panels are audited listings; like the catalogue they are kept in the session
    # for a minute (or until this user changes something), so going back and forth to the
    # home page does not write five audit entries each time
    data = dict(await sess.listing(("home",), now, home_data))
    if data["role"] in SERVERS or data["role"] in APPROVERS:
        data["due"] = await sess.listing(("due",), now, due_list)
    if data["role"] == "social_worker":
        data["households"] = await sess.listing(("mine",), now, my_households)
    return render(request, "home.html", title="首页", **data)


