"""The pages of the web UI, one module per menu entry; `routes()` collects them."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    from archive.web.pages import (
        access,
        audit,
        filing,
        gen,
        home,
        records,
        retention,
        search,
        system,
        users,
    )

    out: list[BaseRoute] = []
    for mod in (home, filing, records, search, gen, access, retention, audit, users, system):
        out.extend(mod.ROUTES)
    return out
