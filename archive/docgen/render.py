"""Sandboxed docxtpl rendering and the filters every template may use.

Templates are data the station may edit, so they run in Jinja's SandboxedEnvironment with
StrictUndefined: reaching Python internals or naming an unknown variable is a ValidationError,
never a crash or a silently blank field.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from archive.docgen.fields import _date
from archive.docgen.workdays import WorkCalendar
from archive.errors import ValidationError

BLANK_DATE = "　　　　年　　月　　日"


def _as_date(value: Any, filter_name: str) -> dt.date:
    """A date-typed filter argument: a date, a datetime (its date) or a date string."""
    if isinstance(value, str):
        value = _date(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        raise ValidationError(f"{filter_name} 需要日期，得到“{value}”")
    return value


def cn_date(value: Any) -> str:
    """`2021-05-06` → `2021年5月6日` (GB/T 9704: Arabic numerals, no zero padding)."""
    if value is None or value == "":
        return BLANK_DATE
    day = _as_date(value, "cn_date")
    return f"{day.year}年{day.month}月{day.day}日"


def cn_money(value: Any) -> str:
    """Decimal → `1,234.50` (two places, half up, thousands separators)."""
    if value is None or value == "":
        return ""
    d = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{d:,.2f}"


def rmb_upper(value: Any) -> str:
    """Amount in yuan → 人民币大写 (`186500` → 壹拾捌万陆仟伍佰元整), by cn2an's RMB mode."""
    if value is None or value == "":
        return ""
    import cn2an

    d = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if d < 0:
        raise ValidationError(f"金额不能为负数：{d}")
    if d == 0:
        return "零元整"
    words = str(cn2an.an2cn(str(d), "rmb"))
    # 会计基础工作规范 第五十二条：到“元”或“角”为止的，其后写“整”；有“分”的，不写。cn2an
    # writes 整 after 元 but not after 角 (1005.50 → 壹仟零伍元伍角).
    return words + "整" if words.endswith("角") else words


def add_workdays(start: Any, n: int, calendar: WorkCalendar | None = None) -> dt.date:
    """The date `n` working days after `start`: public holidays and 调休 from the calendar."""
    return (calendar or WorkCalendar()).add_workdays(_as_date(start, "add_workdays"), int(n))


def star_level(hours: Any) -> int:
    """Volunteer stars: one per 100 service hours, at most 5."""
    if hours is None or hours == "":
        return 0
    return max(0, min(5, int(Decimal(str(hours)) // 100)))


def period_name(code: Any) -> str:
    """Retention code → Chinese period name (`D10` → 定期10年)."""
    from archive.docgen.lookup import period_name as name

    return name(str(code or ""))


HELPERS: dict[str, Any] = {"cn_date": cn_date, "cn_money": cn_money, "rmb_upper": rmb_upper,
                           "add_workdays": add_workdays, "star_level": star_level,
                           "period_name": period_name, "calendar_note": lambda: ""}


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def make_env(calendar: WorkCalendar | None = None) -> SandboxedEnvironment:
    """A fresh sandboxed, strict Jinja environment with our filters and globals.

    `add_workdays` counts on `calendar` (library data plus station overrides); after a render,
    `calendar.note()` tells which years' data were used, and so does `calendar_note()` when a
    template prints it after the deadlines it computed.
    """
    cal = calendar or WorkCalendar()
    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, finalize=_finalize,
                               autoescape=True)
    helpers = {**HELPERS,
               "add_workdays": lambda start, n: add_workdays(start, n, cal),
               "calendar_note": cal.note}
    env.filters.update(helpers)
    env.globals.update(helpers)
    return env


def _explain(exc: Exception) -> str:
    if isinstance(exc, jinja2.sandbox.SecurityError):
        return f"模板试图访问不安全的内部属性，已拒绝（{exc}）"
    if isinstance(exc, jinja2.UndefinedError):
        return f"模板引用了未定义的名称或属性（{exc}）"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"模板语法错误，第 {exc.lineno} 行附近：{exc.message}"
    return f"{type(exc).__name__}: {exc}"


def render_docx(template: Path | bytes, context: Mapping[str, Any],
                env: SandboxedEnvironment | None = None) -> bytes:
    """Render a docxtpl template with `context`; return the .docx bytes.

    Any template failure (syntax, undefined name, sandbox violation) becomes a ValidationError.
    """
    from docxtpl import DocxTemplate

    src = io.BytesIO(template) if isinstance(template, bytes) else Path(template)
    tpl = DocxTemplate(src)
    try:
        tpl.render(dict(context), jinja_env=env or make_env(), autoescape=True)
    except ValidationError:
        raise
    except (jinja2.TemplateError, AttributeError, TypeError, ValueError, KeyError,
            ArithmeticError) as exc:
        raise ValidationError("模板渲染失败：" + _explain(exc), details=[_explain(exc)]) from None
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()
