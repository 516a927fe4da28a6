"""Generate a document: station profile + validated input → rendered .docx (or plaque)."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archive.docgen.fields import validate_data
from archive.docgen.manifest import Manifest
from archive.docgen.render import make_env, render_docx
from archive.errors import NotFound, ValidationError

SAMPLE_STATION = Path(__file__).with_name("sample_station.toml")


def load_station_vars(path: Path) -> dict[str, Any]:
    """The `station.*` template variables from a station.toml (the one seam to the profile)."""
    from archive.kernel.station import load_station

    return load_station(Path(path)).template_vars()


def sample_station_vars() -> dict[str, Any]:
    """The sample station (长春市双阳区奢岭街道社会工作服务站) used by `--sample` and tests."""
    return load_station_vars(SAMPLE_STATION)


def load_data_file(path: Path) -> dict[str, Any]:
    """Read input values from a .toml, .json or .yaml/.yml file."""
    path = Path(path)
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
            raise ValidationError(f"数据文件 {path} 的格式不支持：应为 .toml、.json 或 .yaml")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"数据文件 {path} 格式错误：{exc}") from None
    except Exception as exc:  # yaml.YAMLError without importing yaml eagerly
        if type(exc).__module__.startswith("yaml"):
            raise ValidationError(f"数据文件 {path} 格式错误：{exc}") from None
        raise
    if not isinstance(data, dict):
        raise ValidationError(f"数据文件 {path} 的顶层应为“字段 = 值”的表")
    return data


def build_context(manifest: Manifest, data: Mapping[str, Any], station: Mapping[str, Any],
                  today: dt.date) -> dict[str, Any]:
    """Validate `data` against the manifest and add the implicit variables."""
    values = validate_data(manifest, data)
    return {**values, "station": dict(station), "today": today}


def generate(manifest: Manifest, data: Mapping[str, Any], station: Mapping[str, Any], *,
             today: dt.date, fmt: str = "docx") -> bytes:
    """Render one document; ValidationError lists every input problem before anything runs.

    `fmt` matters only for the plaque (svg or pdf); other templates always give .docx bytes.
    """
    context = build_context(manifest, data, station, today)
    if manifest.layout == "plaque":
        from archive.docgen.plaque import render_plaque

        return render_plaque(station, size=str(context.get("size") or "60x40"), fmt=fmt)
    if not manifest.docx_path.is_file():
        raise NotFound(f"模板 {manifest.id} 缺少 template.docx，请先运行 "
                       f"python -m archive.docgen.build {manifest.id}")
    return render_docx(manifest.docx_path, context, make_env())
