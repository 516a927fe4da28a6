"""Jinja2 environment (autoescape on), Chinese labels and filters shared by every page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from archive.safetext import without_bidi

HERE = Path(__file__).resolve().parent
STATION_TZ = timezone(timedelta(hours=8), "北京时间")

ROLE_LABELS = {
    "head": "站长", "deputy": "副站长", "archivist": "档案管理员", "social_worker": "社工",
    "supervisor": "督导", "authority": "主管部门",
}
CLASS_LABELS = {"XZ": "行政", "FW": "服务", "RS": "人事", "CW": "财务"}
RETENTION_LABELS = {"Y": "永久", "D30": "30年", "D10": "10年"}
STATUS_LABELS = {
    "active": "在库", "destroyed": "已销毁", "pending": "待审批", "approved": "已批准",
    "denied": "已驳回", "expired": "已过期", "proposed": "待批准", "executing": "执行中",
    "done": "已销毁", "executed": "已销毁",
}

# Navigation: (path, label, what decides who sees it). A string is a policy action (the policy
# module answers, so the menu never offers what the library would refuse); a set is the roles
# for pages that cover record actions; None = everyone.
STAFF = frozenset({"head", "deputy", "archivist", "social_worker"})
MANAGERS = frozenset({"head", "deputy", "archivist"})
NAV: list[tuple[str, str, str | frozenset[str] | None]] = [
    ("/", "首页", None),
    ("/file", "归档", STAFF),
    ("/records", "档案目录", None),
    ("/search", "检索", "search"),
    ("/gen", "文书", "gen"),
    ("/access", "外单位查阅", "access.register"),
    ("/retention", "保管期限与销毁", MANAGERS),
    ("/audit", "审计", "audit.read"),
    ("/users", "用户", "user.manage"),
    ("/system", "系统", "check"),
]


def allowed(rule: str | frozenset[str] | None, user: str, role: str) -> bool:
    if rule is None:
        return True
    if isinstance(rule, str):
        from archive.policy.rules import Actor, decide

        return decide(Actor(user, role), rule).allowed
    return role in rule


def nav_for(user: str, role: str) -> list[tuple[str, str]]:
    return [(p, label) for p, label, rule in NAV if allowed(rule, user, role)]


def station_time(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO UTC time (or datetime) shown in station time; '' stays ''."""
    if not value:
        return ""
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).replace("Z", "+00:00")
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return str(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(STATION_TZ).strftime(fmt)


def date8(value: Any) -> str:
    """20260506 → 2026-05-06."""
    s = str(value or "")
    return f"{s[:4]}-{s[4:6]}-{s[6:8]}" if len(s) == 8 and s.isdigit() else s


def size_text(n: Any) -> str:
    try:
        v = float(n)
    except (TypeError, ValueError):
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if v < 1024 or unit == "GB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return ""


DETAIL_LABELS = {
    "reason": "事由", "count": "数量", "filter": "条件", "unit": "单位", "items": "档案",
    "title": "题名", "filename": "文件名", "size": "大小", "kind": "类型", "seq": "组件",
    "out": "去向", "copy_no": "编号", "request": "申请", "query": "检索词", "category": "类别",
    "year": "年度", "retention": "期限", "household": "户号", "status": "状态",
    "details": "含详情", "flagged": "提请关注", "witnesses": "监销人", "until": "期限至",
    "allow_copy": "准予复制", "role": "角色", "as_of": "截至", "dest": "目标", "letter": "介绍信",
    "purpose": "目的", "copy": "申请复制", "applicant": "查阅人", "epoch": "密钥纪元",
    "problems": "问题数", "read_data": "读取内容", "files": "文件数", "bytes": "字节",
    "objects": "对象数", "item": "档案", "batch": "批次", "old": "原期限", "new": "新期限",
}


def _value_text(v: Any) -> str:
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, dict):
        return "，".join(f"{DETAIL_LABELS.get(k, k)}={_value_text(x)}" for k, x in v.items()) or "无"
    if isinstance(v, list | tuple):
        return "、".join(_value_text(x) for x in v)
    return str(v)


def detail_text(detail: Any) -> str:
    """An audit entry's detail as one line of Chinese (keys translated, values plain)."""
    if not isinstance(detail, dict):
        return "" if detail is None else str(detail)
    return "；".join(f"{DETAIL_LABELS.get(k, k)}：{_value_text(v)}" for k, v in detail.items()
                    if v is not None and v != "")


def _finalize(value: Any) -> Any:
    """Every value a template prints: bidi controls shown as escapes (safetext.without_bidi)."""
    if isinstance(value, Markup):
        return Markup(without_bidi(str(value)))
    return without_bidi(value) if isinstance(value, str) else value


def make_env() -> Environment:
    env = Environment(
        finalize=_finalize,
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        station_time=station_time, date8=date8, size=size_text, detail=detail_text,
        role=lambda r: ROLE_LABELS.get(r, r), cls=lambda c: CLASS_LABELS.get(c, c),
        period=lambda r: RETENTION_LABELS.get(r, r), status=lambda s: STATUS_LABELS.get(s, s),
    )
    env.globals.update(ROLE_LABELS=ROLE_LABELS, CLASS_LABELS=CLASS_LABELS,
                       RETENTION_LABELS=RETENTION_LABELS)
    return env


ENV = make_env()


def render(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    """Render a page; the layout gets the session (user, role, CSRF token) and the nav."""
    sess = getattr(request.state, "session", None)
    nav = []
    if sess is not None:
        nav = nav_for(sess.user, sess.role)
    base = {
        "request": request, "session": sess, "nav": nav, "path": request.url.path,
        "csrf": sess.csrf if sess is not None else ctx.pop("csrf", ""),
        "station_name": request.app.state.station_name, "flash": ctx.pop("flash", None),
        "example_station": getattr(request.app.state, "example_station", ""),
        "htmx": request.headers.get("hx-request") == "true",
    }
    html = ENV.get_template(name).render({**base, **ctx})
    return HTMLResponse(html, status_code=status_code)
