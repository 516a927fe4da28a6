"""Web UI sessions and request security over real HTTP (no browser): sign-in, cookies, CSRF,
CSP, sign-out and idle/absolute timeouts wiping the unlocked archive."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from conftest import PASS
from web_fixtures import Server, server, web_clock, web_home  # noqa: F401

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


def _token(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def login(client: httpx.Client, user: str = "zhangsan", passphrase: str = PASS) -> httpx.Response:
    page = client.get("/login")
    return client.post("/login", data={"user": user, "passphrase": passphrase,
                                       "csrf": _token(page.text), "next": "/"})


@pytest.fixture
def client(server: Server) -> Any:  # noqa: F811
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=30) as c:
        yield c


def test_headers_are_strict(client: httpx.Client) -> None:
    r = client.get("/login")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert "<script>" not in r.text and " style=" not in r.text and " on" not in \
        re.sub(r'"[^"]*"', '""', r.text).replace(" only", "")
    assert 'lang="zh-CN"' in r.text and "登录" in r.text


def test_sign_in_sets_a_strict_session_cookie(client: httpx.Client, server: Server) -> None:  # noqa: F811
    r = login(client)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("sgz_session="))
    low = cookie.lower()
    assert "httponly" in low and "samesite=strict" in low and "path=/" in low
    assert "expires" not in low and "max-age" not in low  # a browser-session cookie
    sess = server.app.state.sessions.live()
    assert len(sess) == 1 and sess[0].user == "zhangsan" and sess[0].role == "head"
    assert len(cookie.split(";")[0].split("=", 1)[1]) >= 40  # 32 random bytes, url-safe
    home = client.get("/")
    assert home.status_code == 200 and "zhangsan（站长）" in home.text
    assert "待审批的外单位查阅" in home.text


def test_wrong_passphrase_is_one_message_and_no_session(client: httpx.Client,
                                                        server: Server) -> None:  # noqa: F811
    for user, pw in (("zhangsan", "wrong-passphrase"), ("nobody", PASS)):
        r = login(client, user, pw)
        assert r.status_code == 401
        assert "用户名或口令不正确" in r.text
        assert "sgz_session" not in r.headers.get("set-cookie", "")
    assert len(server.app.state.sessions) == 0


def test_login_form_needs_its_token(client: httpx.Client) -> None:
    client.get("/login")
    r = client.post("/login", data={"user": "zhangsan", "passphrase": PASS, "csrf": "forged"})
    assert r.status_code == 403
    assert "sgz_session" not in r.headers.get("set-cookie", "")


def test_post_without_csrf_token_is_refused(client: httpx.Client, server: Server) -> None:  # noqa: F811
    login(client)
    page = client.get("/users")
    token = _token(page.text)
    for data, headers in (
        ({"name": "evil", "role": "head", "passphrase": PASS, "passphrase2": PASS}, {}),
        ({"name": "evil", "role": "head", "passphrase": PASS, "passphrase2": PASS,
          "csrf": ("y" if token[0] == "x" else "x") + token[1:]}, {}),  # one character off
        ({"name": "evil", "role": "head", "passphrase": PASS, "passphrase2": PASS,
          "csrf": token}, {"origin": "http://evil.example"}),
    ):
        r = client.post("/users/add", data=data, headers=headers)
        assert r.status_code == 403, r.text
    assert "evil" not in client.get("/users").text
    # the htmx header carries the same token
    r = client.post("/users/add", data={"name": "sunba", "role": "supervisor",
                                        "passphrase": PASS, "passphrase2": PASS},
                    headers={"x-csrf-token": token})
    assert r.status_code == 303
    assert "sunba" in client.get("/users").text
    assert len(server.app.state.sessions) == 1


def test_sign_out_wipes_the_session(client: httpx.Client, server: Server) -> None:  # noqa: F811
    login(client)
    sess = server.app.state.sessions.live()[0]
    token = _token(client.get("/").text)
    r = client.post("/logout", data={"csrf": token})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert len(server.app.state.sessions) == 0
    assert sess.closed and sess.archive is None and sess.csrf == ""
    assert sess.worker._shutdown  # the session's thread is stopped
    again = client.get("/")  # the old cookie is worthless now
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


def test_idle_timeout_wipes_the_session(client: httpx.Client, server: Server) -> None:  # noqa: F811
    login(client)
    sess = server.app.state.sessions.live()[0]
    server.clock.advance(minutes=14)
    assert client.get("/").status_code == 200  # activity keeps it alive
    server.clock.advance(minutes=15, seconds=1)
    assert server.app.state.sessions.sweep() == 1  # the sweeper ends it without a request
    assert sess.closed and sess.archive is None
    r = client.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_absolute_timeout_after_eight_hours(client: httpx.Client, server: Server) -> None:  # noqa: F811
    login(client)
    for _ in range(7 * 6 + 5):  # busy all day: a request every 10 minutes
        server.clock.advance(minutes=10)
        assert client.get("/").status_code == 200
    server.clock.advance(minutes=11)
    r = client.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert len(server.app.state.sessions) == 0


def test_two_people_signed_in_at_once(server: Server) -> None:  # noqa: F811
    with httpx.Client(base_url=server.url) as a, httpx.Client(base_url=server.url) as b:
        login(a, "zhangsan")
        login(b, "lisi")
        assert "zhangsan（站长）" in a.get("/").text
        home_b = b.get("/").text
        assert "李四" in home_b and "档案管理员" in home_b and "待审批的外单位查阅" not in home_b
        assert b.get("/users").status_code == 403  # the archivist does not manage users
    assert len(server.app.state.sessions) == 2


def test_next_is_never_an_open_redirect(client: httpx.Client) -> None:
    page = client.get("/login?next=//evil.example/x")
    r = client.post("/login", data={"user": "zhangsan", "passphrase": PASS,
                                     "csrf": _token(page.text), "next": "//evil.example/x"})
    assert r.headers["location"] == "/"
