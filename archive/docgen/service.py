"""The generation service behind `sgz gen`: template + station + data → .docx / PDF / plaque,
and, with `file`, into the vault with the template's class and retention.

It needs no unlocked home to render; filing goes through the records service of an unlocked
archive (`Archive.gen`). Both fronts (CLI, web) call this, never the engine directly.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.docgen.engine import build_context, generate, load_data_file
from archive.docgen.fields import parse_assignments
from archive.docgen.manifest import Manifest, default_templates_dir, get_manifest
from archive.docgen.render import make_env, render_docx
from archive.docgen.rows import read_rows
from archive.errors import UsageError, ValidationError
from archive.fs.atomic import write_atomic
from archive.pdf.office import convert_to_pdf, docx_to_pdf
from archive.records.service import RecordService

Progress = Callable[[str], None]


@dataclass
class Generated:
    """What one `gen` call wrote (in order) and the 档号 of what it filed."""

    paths: list[Path] = field(default_factory=list)
    filed: list[str] = field(default_factory=list)


def _safe_name(text: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", text).strip("._")[:40] or "doc"


class GenerationService:
    """Render templates for one station; file through `records` when given."""

    def __init__(self, *, station_vars: Mapping[str, Any], today: Callable[[], dt.date],
                 records: RecordService | None = None, templates: Path | None = None) -> None:
        self._station = dict(station_vars)
        self._today = today
        self._records = records
        self._templates = templates or default_templates_dir()

    def manifest(self, template_id: str) -> Manifest:
        return get_manifest(self._templates, template_id)

    def render_bytes(self, template_id: str, data: Mapping[str, Any], day: dt.date) -> bytes:
        """A document the library itself produces (销毁清册, registers) as .docx bytes."""
        return generate(self.manifest(template_id), data, self._station, today=day)

    def data(self, manifest: Manifest, *, sample: bool = False, data_file: Path | None = None,
             assignments: Sequence[str] = (), size: str | None = None) -> dict[str, Any]:
        """The input values: sample values, then the data file, then `--set` assignments."""
        data: dict[str, Any] = dict(manifest.sample) if sample else {}
        if data_file:
            data.update(load_data_file(data_file))
        data.update(parse_assignments(list(assignments)))
        if size:
            if manifest.layout != "plaque":
                raise UsageError("--size 只用于牌匾（plaque）")
            data["size"] = size
        return data

    def render(self, manifest: Manifest, data: Mapping[str, Any], out: Path | None = None, *,
               pdf: bool = False, file: bool = False) -> Generated:
        """One document to `out` (default <id>.docx, or .svg for the plaque)."""
        self._require_records(file)
        today = self._today()
        result = Generated()
        if manifest.layout == "plaque":
            out = out or Path(manifest.id + ".svg")
            suffix = out.suffix.lower()
            if suffix not in (".svg", ".pdf"):
                raise UsageError("牌匾的输出应为 .svg 或 .pdf")
            write_atomic(out, generate(manifest, data, self._station, today=today,
                                       fmt=suffix[1:]), parents=True)
            result.paths.append(out)
            if pdf and suffix == ".svg":
                pdf_out = out.with_suffix(".pdf")
                write_atomic(pdf_out, generate(manifest, data, self._station, today=today,
                                               fmt="pdf"), parents=True)
                result.paths.append(pdf_out)
            if file:
                result.filed.append(self._file(result.paths[-1], manifest))
            return result
        out = out or Path(manifest.id + ".docx")
        suffix = out.suffix.lower()
        if suffix == ".pdf":
            out, pdf = out.with_suffix(".docx"), True
        elif suffix != ".docx":
            raise UsageError("输出文件应以 .docx 结尾（要 PDF 请加 --pdf）")
        write_atomic(out, generate(manifest, data, self._station, today=today), parents=True)
        result.paths.append(out)
        if pdf:
            result.paths.append(docx_to_pdf(out))
        if file:
            result.filed.append(self._file(result.paths[-1], manifest))
        return result

    def render_rows(self, manifest: Manifest, base: Mapping[str, Any], rows_file: Path,
                    out_dir: Path | None = None, *, pdf: bool = False, file: bool = False,
                    progress: Progress | None = None) -> Generated:
        """One document per row of a .csv/.xlsx; every row is validated (all problems at once)
        before anything is written."""
        self._require_records(file)
        if manifest.layout == "plaque":
            raise UsageError("牌匾不支持 --rows")
        rows = read_rows(rows_file)
        if not rows:
            raise ValidationError(f"{rows_file} 中没有数据行")
        today = self._today()
        contexts, problems = [], []
        for i, row in enumerate(rows, 1):
            try:
                contexts.append(build_context(manifest, {**base, **row}, self._station, today))
            except ValidationError as exc:
                problems += [f"第 {i} 行 {d}" for d in (exc.details or [str(exc)])]
        if problems:
            raise ValidationError(f"{rows_file} 有 {len(problems)} 处错误，未生成任何文件：\n  - "
                                  + "\n  - ".join(problems), details=problems)
        out_dir = out_dir or Path(f"{manifest.id}-批量")
        if out_dir.suffix.lower() == ".docx":
            raise UsageError("--rows 时 -o 应为输出文件夹")
        key = next((f.name for f in manifest.fields if f.type == "string"), None)
        env = make_env()
        written: list[Path] = []
        for i, context in enumerate(contexts, 1):
            label = _safe_name(str(context.get(key) or "")) if key else ""
            path = out_dir / (f"{i:03d}-{label}.docx" if label else f"{i:03d}.docx")
            write_atomic(path, render_docx(manifest.docx_path, context, env), parents=True)
            written.append(path)
            if progress:
                progress(f"[{i}/{len(contexts)}] {path}")
        if pdf:
            if progress:
                progress(f"正在转换 {len(written)} 份 PDF…")
            written = convert_to_pdf(written, out_dir)
        result = Generated(paths=written)
        if file:
            result.filed = [self._file(p, manifest) for p in written]
        return result

    def _require_records(self, file: bool) -> None:
        if file and self._records is None:
            raise UsageError("归档须先解锁档案库（请以站点用户身份运行）")

    def _file(self, path: Path, manifest: Manifest) -> str:
        """File a generated document with the template's default class and retention."""
        assert self._records is not None
        results = self._records.file([path], category=manifest.category,
                                     retention=manifest.retention, title=manifest.title,
                                     author=str(self._station.get("name", "")))
        return str(results[0].ref)
