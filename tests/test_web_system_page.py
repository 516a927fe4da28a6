"""The 系统 page's index status line: what a rebuild would change, in words people read."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from archive.web.render import ENV


def _render(index: dict[str, int | bool]) -> str:
    ctx = {"request": SimpleNamespace(url=SimpleNamespace(path="/system")), "session": None,
           "nav": [], "path": "/system", "csrf": "t", "station_name": "测试站", "flash": None,
           "htmx": False, "title": "系统", "check": None, "backup": None, "error": "",
           "rebuilt": None, "dest": "", "index": index}
    return ENV.get_template("system.html").render(ctx)


@pytest.mark.parametrize(("index", "shown", "absent"), [
    ({"docs": 3, "expected": 3, "needs_rebuild": False, "old_order": 0}, "正常", "旧版排列"),
    ({"docs": 3, "expected": 3, "needs_rebuild": False, "old_order": 1}, "旧版排列", "正常"),
    ({"docs": 2, "expected": 3, "needs_rebuild": True, "old_order": 1}, "需要重建", "旧版排列"),
])
def test_index_status_says_what_a_rebuild_changes(index: dict[str, int | bool], shown: str,
                                                  absent: str) -> None:
    html = _render(index)
    assert shown in html and absent not in html
