"""The page route table: declared on the endpoints (`@page.get(path, rule)`), every page
guarded, and a literal path is never shadowed by a parameterised one."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Route
from starlette.testclient import TestClient

from archive.web.app import create_app
from archive.web.pages import routes


def test_every_page_route_is_guarded_and_listed_once() -> None:
    table = [r for r in routes() if isinstance(r, Route)]
    assert len(table) >= 40
    seen = set()
    for r in table:
        # signed_in wraps with functools.wraps: the guarded endpoint carries its page function
        assert getattr(r.endpoint, "__wrapped__", None) is not None, r.path
        for m in r.methods or ():
            assert (r.path, m) not in seen, (r.path, m)
            seen.add((r.path, m))


def test_literal_paths_come_before_parameterised_ones() -> None:
    paths = [r.path for r in routes() if isinstance(r, Route)]
    assert paths.index("/access/register.docx") < paths.index("/access/{no}")
    assert paths.index("/gen/daxie") < paths.index("/gen/{tid}")
    first_param = next(i for i, p in enumerate(paths) if "{" in p)
    assert all("{" in p for p in paths[first_param:])


def test_unsigned_requests_go_to_login_for_every_page(tmp_path: Path) -> None:
    client = TestClient(create_app(tmp_path / "no-home"), base_url="http://127.0.0.1",
                        follow_redirects=False)
    for r in routes():
        assert isinstance(r, Route)
        path = r.path.replace("{no}", "CY-2026-0001").replace("{ref}", "X").replace(
            "{tid}", "t").replace("{bid}", "XH-2026-0001")
        for m in sorted(r.methods or ()):
            if m == "HEAD":
                continue
            resp = client.request(m, path)
            assert resp.status_code in (303, 403), (m, path, resp.status_code)
            if resp.status_code == 303:
                assert resp.headers["location"].startswith("/login"), (m, path)
