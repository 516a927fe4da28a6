"""The pages of the web UI, one module per menu entry; `routes()` collects them."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route


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

    out: list[Route] = []
    for mod in (home, filing, records, search, gen, access, retention, audit, users, system):
        out.extend(mod.page.routes)
    # a literal segment wins over a parameter: "/gen/daxie" is not the template "daxie"
    out.sort(key=lambda r: r.path.count("{"))
    return list(out)
