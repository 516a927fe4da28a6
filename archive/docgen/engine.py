"""Generate a document: station profile + validated input → rendered .docx (or plaque)."""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.docgen.fields import _is_blank, validate_data
from archive.docgen.manifest import Manifest
from archive.docgen.workdays import WorkCalendar
from archive.errors import NotFound, ValidationError
from archive.tomlzh import toml_error

SAMPLE_STATION = Path(__file__).with_name("sample_station.toml")


def load_station_vars(path: Path) -> dict[str, Any]:
    """The `station.*` template variables from a station.toml (the one seam to the profile)."""
    from archive.kernel.station import load_station

    return load_station(Path(path)).template_vars()


def sample_station_vars() -> dict[str, Any]:
    """The sample station (长春市双阳区奢岭街道社会工作服务站) used by `--sample` and tests."""
    return load_station_vars(SAMPLE_STATION)


def load_data_file(path: Path) -> dict[str, Any]:
    """Read input values from a .toml, .json, .yaml/.yml or a filled-in blank .xlsx sheet."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from archive.docgen.blank import read_data_xlsx

        return read_data_xlsx(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFound(f"找不到数据文件 {path}") from None
    except UnicodeDecodeError:
        raise ValidationError(f"数据文件 {path} 不是 UTF-8 编码") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            raise ValidationError(f"数据文件 {path} 的格式不支持：应为 .toml、.json、.yaml 或 .xlsx")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"数据文件 {path} 格式错误：{toml_error(exc)}") from None
    except Exception as exc:  # yaml.YAMLError without importing yaml eagerly
        if type(exc).__module__.startswith("yaml"):  # PyYAML's own text is English
            mark = getattr(exc, "problem_mark", None)
            where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列附近" if mark is not None else ""
            raise ValidationError(f"数据文件 {path} 格式错误：{where}不是有效的 YAML"
                                  "（请检查缩进、冒号后的空格和引号）") from None
        raise
    if not isinstance(data, dict):
        raise ValidationError(f"数据文件 {path} 的顶层应为“字段 = 值”的表")
    return data


def build_context(manifest: Manifest, data: Mapping[str, Any], station: Mapping[str, Any],
                  today: dt.date) -> dict[str, Any]:
    """Validate `data` against the manifest and add the implicit variables.

    `{station.x}` placeholders (as in [sample] values) are filled from `station` first.
    """
    values = validate_data(manifest, fill_placeholders(dict(data), station), today,
                           fonds=str(station.get("fonds") or ""))
    return {**values, "station": dict(station), "today": today}


# `{station.township}` / `{station.staff[1]}` in a [sample] value: filled from the station in use,
# so a sample never names another township or its people.
_PLACEHOLDER = re.compile(r"\{station\.([a-z]+)(?:\[(\d)\])?\}")


def _station_text(station: Mapping[str, Any], key: str, index: str | None) -> str:
    if key == "staff":
        staff = list(station.get("staff") or [])
        i = int(index or 0)
        if i < len(staff):
            return str(staff[i].get("name", ""))
        return str(station.get("head", ""))
    return str(station.get(key, ""))


def fill_placeholders(value: Any, station: Mapping[str, Any]) -> Any:
    """Replace `{station.x}` placeholders in sample values (recursively in lists and tables)."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: _station_text(station, m[1], m[2]), value)
    if isinstance(value, list):
        return [fill_placeholders(v, station) for v in value]
    if isinstance(value, dict):
        return {k: fill_placeholders(v, station) for k, v in value.items()}
    return value


def merge_sample(manifest: Manifest, data: Mapping[str, Any],
                 station: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Fill only the fields the caller left blank with the manifest's sample values.

    Returns the merged data and the names of the fields that took a sample value.
    """
    given: set[str] = set()
    for key, raw in data.items():
        fld = next((f for f in manifest.fields if key in (f.name, f.label)), None)
        if fld is not None and not _is_blank(raw):
            given.add(fld.name)
    merged = dict(data)
    used: list[str] = []
    for f in manifest.fields:
        if f.name in given or f.name not in manifest.sample:
            continue
        for key in (f.name, f.label):
            merged.pop(key, None)
        merged[f.name] = fill_placeholders(manifest.sample[f.name], station)
        used.append(f.name)
    return merged, tuple(used)


@dataclass(frozen=True)
class RenderResult:
    """A rendered document and what went into it.

    `sample_fields` lists fields filled from the template's sample data; `sample_station` is
    true when the sample station stood in for a missing station.toml. Either makes it a 样例:
    it carries the visible mark on every page and `filing_metadata` refuses it.
    """

    data: bytes
    manifest: Manifest
    values: dict[str, Any]
    sample_fields: tuple[str, ...] = ()
    sample_station: bool = False
    calendar_note: str = ""
    fmt: str = "docx"

    @property
    def sample_used(self) -> bool:
        return bool(self.sample_fields) or self.sample_station


def render(manifest: Manifest, data: Mapping[str, Any], station: Mapping[str, Any], *,
           today: dt.date, sample: bool = False, sample_station: bool = False,
           calendar: WorkCalendar | None = None, fmt: str = "docx") -> RenderResult:
    """Validate and render one document. Station fields come from `station` only.

    With `sample`, fields the caller did not give take the template's sample values; the
    result then says so and the .docx carries a 样例 header on every page.
    """
    used: tuple[str, ...] = ()
    if sample:
        data, used = merge_sample(manifest, data, station)
    context = build_context(manifest, data, station, today)
    values = {k: v for k, v in context.items() if k not in ("station", "today")}
    is_sample = bool(used) or sample_station
    if manifest.layout == "plaque":
        from archive.docgen.plaque import render_plaque

        blob = render_plaque(station, size=str(context.get("size") or "60x40"), fmt=fmt,
                             sample=is_sample)
        return RenderResult(blob, manifest, values, used, sample_station, "", fmt)
    if not manifest.docx_path.is_file():
        raise NotFound(f"模板 {manifest.id} 缺少 template.docx，请先运行 "
                       f"python -m archive.docgen.build {manifest.id}")
    cal = calendar or WorkCalendar()
    # the templating libraries (docxtpl, jinja2) load only where a document is drawn
    from archive.docgen.render import make_env, render_docx

    blob = render_docx(manifest.docx_path, context, make_env(cal))
    if is_sample:
        from archive.docgen.mark import add_sample_mark

        blob = add_sample_mark(blob)
    return RenderResult(blob, manifest, values, used, sample_station, cal.note(), "docx")


def generate(manifest: Manifest, data: Mapping[str, Any], station: Mapping[str, Any], *,
             today: dt.date, fmt: str = "docx", calendar: WorkCalendar | None = None) -> bytes:
    """Render one document from the caller's data only; the bytes of `render(...)`.

    `fmt` matters only for the plaque (svg or pdf); other templates always give .docx bytes.
    """
    return render(manifest, data, station, today=today, fmt=fmt, calendar=calendar).data
