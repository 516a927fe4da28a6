"""Read one input record per row from a .csv (UTF-8 or GBK) or .xlsx sheet for `gen --rows`."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from archive.errors import NotFound, ValidationError


def _csv_text(path: Path) -> str:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):    # Excel on Chinese Windows saves CSV as GBK
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ValidationError(f"{path} 既不是 UTF-8 也不是 GBK 编码")


def _clean(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        kept = {str(k).strip(): v for k, v in row.items()
                if k is not None and str(k).strip() and v not in (None, "")}
        if kept:
            out.append(kept)
    return out


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows as dicts keyed by the header (field name or Chinese label); blank rows skipped."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"找不到数据表 {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(_csv_text(path)))
        return _clean(list(reader))
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            it = wb.worksheets[0].iter_rows(values_only=True)
            header = next(it, None)
            if header is None:
                return []
            names = [str(h).strip() if h is not None else "" for h in header]
            return _clean([dict(zip(names, r, strict=False)) for r in it])
        finally:
            wb.close()
    raise ValidationError(f"数据表 {path} 的格式不支持：应为 .csv 或 .xlsx")
