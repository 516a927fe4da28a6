"""The generation service behind `sgz gen`: template + station + data → .docx / PDF / plaque,
and, with `file`, into the vault under the class, retention, date and household the data gives.

It needs no unlocked home to render; filing goes through the records service of an unlocked
archive (`Archive.gen`). Both fronts (CLI, web) call this, never the engine directly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.docgen.engine import RenderResult, load_data_file, render
from archive.docgen.fields import parse_assignments
from archive.docgen.filing_meta import filing_metadata
from archive.docgen.lookup import default_output_name, find_template, safe_file_name
from archive.docgen.manifest import Manifest, default_templates_dir, list_manifests
from archive.docgen.rows import read_rows
from archive.docgen.workdays import WorkCalendar
from archive.errors import Conflict, UsageError, ValidationError
from archive.fs.atomic import write_atomic
from archive.records.service import RecordService, refuse_inside_home
from archive.retention.schedule import Schedule
from archive.safetext import display

Progress = Callable[[str], None]
Warn = Callable[[str], None]

SAMPLE_NOTE = ("注意：以下字段使用了模板的示例数据，文书已加“样例”标记，不得印发或归档："
               "{fields}。请用 --data/--set 填入本站真实数据后重新生成。")
SAMPLE_STATION_NOTE = "注意：未找到 station.toml，使用了示例站点；文书已加“样例”标记，不得印发或归档。"


@dataclass
class Generated:
    """What one `gen` call wrote (in order), what it filed, and notes for the user."""

    paths: list[Path] = field(default_factory=list)
    filed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sample_used: bool = False


class GenerationService:
    """Render templates for one station; file through `records` when given.

    `schedule` gives the station's retention table (filing), `workdir` a private staging folder
    for documents that are only filed (no plaintext copy left in the current folder),
    `calendar` the working-day calendar with the station's overrides.
    """

    def __init__(self, *, station_vars: Mapping[str, Any], today: Callable[[], dt.date],
                 records: RecordService | None = None, templates: Path | None = None,
                 schedule: Callable[[], Schedule] | None = None,
                 workdir: Callable[[], Path] | None = None,
                 calendar: WorkCalendar | None = None, sample_station: bool = False,
                 home: Any = None) -> None:
        self._station = dict(station_vars)
        self._home = home  # HomePaths: no plaintext written into its encrypted folders
        self._today = today
        self._records = records
        self._templates = templates or default_templates_dir()
        self._schedule = schedule
        self._workdir = workdir
        self._calendar = calendar
        self._sample_station = sample_station

    def manifest(self, name: str) -> Manifest:
        """The template named by id, Chinese title or alias (close matches suggested)."""
        return find_template(self._templates, name)

    def templates(self) -> list[Manifest]:
        """Every template, for choosing one (the web UI's 文书 page)."""
        return list_manifests(self._templates)

    # ------------------------------------------------------------------ in memory (web UI)
    def build(self, manifest: Manifest, data: Mapping[str, Any]) -> bytes:
        """One document as bytes (.docx, or .svg for the plaque) for a download; nothing is
        written. Validation errors list every problem at once, as for `render`."""
        return render(manifest, data, self._station, today=self._today(),
                      sample_station=self._sample_station, calendar=self._calendar).data

    def build_pdf(self, manifest: Manifest, data: Mapping[str, Any]) -> bytes:
        """One document as PDF bytes. LibreOffice needs a folder: the .docx goes to the private
        staging folder (inside the home, removed at once), as when `render` files."""
        if manifest.layout == "plaque":
            return render(manifest, data, self._station, today=self._today(),
                          sample_station=self._sample_station, fmt="pdf").data
        docx = self.build(manifest, data)
        with self._place(None, True, Path(f"{manifest.id}.docx")) as target:
            write_atomic(target, docx, parents=True)
            return self._to_pdf(target, None).read_bytes()

    def render_bytes(self, template_id: str, data: Mapping[str, Any], day: dt.date) -> bytes:
        """A document the library itself produces (销毁清册, registers) as .docx bytes."""
        return render(self.manifest(template_id), data, self._station, today=day,
                      calendar=self._calendar).data

    def data(self, manifest: Manifest, *, data_file: Path | None = None,
             assignments: Sequence[str] = (), size: str | None = None) -> dict[str, Any]:
        """The caller's values: the data file, then `--set` assignments (samples come later,
        only for what is still blank)."""
        data: dict[str, Any] = {}
        if data_file:
            data.update(load_data_file(data_file))
        data.update(parse_assignments(list(assignments)))
        if size:
            if manifest.layout != "plaque":
                raise UsageError("--size 只用于牌匾（plaque）")
            data["size"] = size
        return data

    def default_name(self, manifest: Manifest) -> Path:
        suffix = ".svg" if manifest.layout == "plaque" else ".docx"
        return Path(default_output_name(manifest, self._today(), suffix=suffix))

    # ------------------------------------------------------------------ one document
    @property
    def station_vars(self) -> dict[str, Any]:
        """The station variables documents are generated with (a copy)."""
        return dict(self._station)

    def render(self, manifest: Manifest, data: Mapping[str, Any], out: Path | None = None, *,
               sample: bool = False, pdf: bool = False, file: bool = False,
               warn: Warn | None = None, force: bool = False) -> Generated:
        """One document to `out` (default: Chinese title + date). With `file` and no `out`, it
        is written only to the private staging folder and deleted once filed. An existing file
        is not replaced unless `force`."""
        self._require_records(file)
        today = self._today()
        fmt = "docx"
        if manifest.layout == "plaque":
            fmt = (out.suffix.lower()[1:] if out else "svg")
            if fmt not in ("svg", "pdf"):
                raise UsageError("牌匾的输出应为 .svg 或 .pdf")
        elif out is not None and out.suffix.lower() not in (".docx", ".pdf"):
            raise UsageError("输出文件应以 .docx 结尾（要 PDF 请加 --pdf）")
        res = render(manifest, data, self._station, today=today, sample=sample,
                     sample_station=self._sample_station, calendar=self._calendar, fmt=fmt)
        result = Generated(sample_used=res.sample_used, notes=self._notes(manifest, res))
        if file:
            self._refuse_sample(res)
        with self._place(out, file, self.default_name(manifest)) as target:
            if out is not None or not file:
                docx_target = target.with_suffix(".docx") if (
                    manifest.layout != "plaque" and target.suffix.lower() == ".pdf") else target
                pdf_wanted = pdf or target.suffix.lower() == ".pdf"
                self._refuse_overwrite([docx_target, *([target.with_suffix(".pdf")]
                                                       if pdf_wanted else [])], force)
            if manifest.layout == "plaque":
                write_atomic(target, res.data, parents=True)
                result.paths.append(target)
                if pdf and fmt == "svg":
                    pdf_out = target.with_suffix(".pdf")
                    write_atomic(pdf_out, render(manifest, data, self._station, today=today,
                                                 sample=sample, sample_station=self._sample_station,
                                                 fmt="pdf").data, parents=True)
                    result.paths.append(pdf_out)
            else:
                if target.suffix.lower() == ".pdf":
                    target, pdf = target.with_suffix(".docx"), True
                write_atomic(target, res.data, parents=True)
                result.paths.append(target)
                if pdf:
                    result.paths.append(self._to_pdf(target, warn))
            if file:
                result.filed.append(self._file(result.paths[-1], res))
                if out is None:
                    result.paths = []
        return result

    # ------------------------------------------------------------------ one per row
    def render_rows(self, manifest: Manifest, base: Mapping[str, Any], rows_file: Path,
                    out_dir: Path | None = None, *, sample: bool = False, pdf: bool = False,
                    file: bool = False, progress: Progress | None = None,
                    warn: Warn | None = None, force: bool = False) -> Generated:
        """One document per row of a .csv/.xlsx; every row is validated (all problems at once)
        before anything is written."""
        self._require_records(file)
        if manifest.layout == "plaque":
            raise UsageError("牌匾不支持 --rows")
        if out_dir is not None and out_dir.suffix.lower() == ".docx":
            raise UsageError("--rows 时 -o 应为输出文件夹")
        rows = read_rows(rows_file)
        if not rows:
            raise ValidationError(f"{rows_file} 中没有数据行")
        today = self._today()
        results: list[RenderResult] = []
        problems: list[str] = []
        for i, row in enumerate(rows, 1):
            try:
                results.append(render(manifest, {**base, **row}, self._station, today=today,
                                      sample=sample, sample_station=self._sample_station,
                                      calendar=self._calendar))
            except ValidationError as exc:
                problems += [f"第 {i} 行 {d}" for d in (exc.details or [str(exc)])]
        if problems:
            raise ValidationError(f"{rows_file} 有 {len(problems)} 处错误，未生成任何文件：\n  - "
                                  + "\n  - ".join(problems), details=problems)
        if file:
            for res in results:
                self._refuse_sample(res)
        out = Generated(sample_used=any(r.sample_used for r in results))
        if out.sample_used:
            out.notes = self._notes(manifest, next(r for r in results if r.sample_used))
        key = next((f.name for f in manifest.fields if f.type == "string"), None)
        with self._place(out_dir, file, Path(f"{manifest.title}-批量")) as folder:
            written: list[Path] = []
            paths = []
            for i, res in enumerate(results, 1):
                label = safe_file_name(str(res.values.get(key) or ""), 30) if key else ""
                label = "" if label == "文书" else label
                paths.append(folder / (f"{i:03d}-{label}.docx" if label else f"{i:03d}.docx"))
            if out_dir is not None or not file:
                self._refuse_overwrite(
                    paths + ([p.with_suffix(".pdf") for p in paths] if pdf else []), force)
            for i, (res, path) in enumerate(zip(results, paths, strict=True), 1):
                write_atomic(path, res.data, parents=True)
                written.append(path)
                if progress:
                    progress(f"[{i}/{len(results)}] {path.name}")
            if pdf:
                if progress:
                    progress(f"正在转换 {len(written)} 份 PDF…")
                written = self._to_pdf_many(written, folder, warn)
            if file:
                out.filed = [self._file(p, r) for p, r in zip(written, results, strict=True)]
            out.paths = [] if file and out_dir is None else written
        return out

    # ------------------------------------------------------------------ helpers
    def _notes(self, manifest: Manifest, res: RenderResult) -> list[str]:
        notes = []
        if res.sample_station:
            notes.append(SAMPLE_STATION_NOTE)
        if res.sample_fields:
            labels = {f.name: f.label for f in manifest.fields}
            notes.append(SAMPLE_NOTE.format(
                fields="、".join(labels.get(f, f) for f in res.sample_fields)))
        return notes

    @staticmethod
    def _refuse_overwrite(paths: Sequence[Path], force: bool) -> None:
        """Every file this run would replace, refused at once before anything is written."""
        existing = [p for p in paths if p.exists()]
        if existing and not force:
            raise Conflict("以下文件已存在，未生成任何文件（如确需覆盖请加 --force）：\n  - "
                           + "\n  - ".join(display(str(p)) for p in existing),
                           details=[str(p) for p in existing])

    @staticmethod
    def _refuse_sample(res: RenderResult) -> None:
        if res.sample_used:
            raise ValidationError("本文书含示例数据（样例），不能归档。请去掉 --sample，"
                                  "用 --data/--set 填入本站真实数据后重新生成并归档")

    @contextlib.contextmanager
    def _place(self, out: Path | None, file: bool, default: Path) -> Iterator[Path]:
        """Where to write: `out`, else the default name here, else (filing only) a private
        staging folder that is removed afterwards. Never the home's encrypted folders."""
        if out is not None or not file:
            if self._home is not None:
                refuse_inside_home(self._home, (out or default).absolute())
            yield out or default
            return
        if self._workdir is None:
            raise UsageError("归档须先解锁档案库（请以站点用户身份运行）")
        stage = Path(tempfile.mkdtemp(prefix="gen-", dir=self._workdir()))
        try:
            yield stage / default.name
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    @staticmethod
    def _to_pdf(docx: Path, warn: Warn | None) -> Path:
        from archive.pdf.docx_fonts import docx_to_pdf_with_fonts

        return docx_to_pdf_with_fonts(docx, warn=warn)

    @staticmethod
    def _to_pdf_many(docs: list[Path], out_dir: Path, warn: Warn | None) -> list[Path]:
        """Batch conversion (one LibreOffice run) of SC-font copies; one font warning."""
        from archive.pdf.docx_fonts import pdf_ready_docx
        from archive.pdf.fonts import font_report
        from archive.pdf.office import convert_to_pdf

        report = font_report()
        warning = ""
        with tempfile.TemporaryDirectory(prefix="sgz-pdf-", dir=out_dir) as tmp:
            staged = []
            for d in docs:
                blob, warning = pdf_ready_docx(d.read_bytes(), report)
                staged.append(Path(tmp) / d.name)
                staged[-1].write_bytes(blob)
            produced = convert_to_pdf(staged, Path(tmp))
            if warning and warn is not None:
                warn(warning)
            result = []
            for p in produced:
                target = out_dir / p.name
                write_atomic(target, p.read_bytes())
                result.append(target)
        return result

    def _require_records(self, file: bool) -> None:
        if file and self._records is None:
            raise UsageError("归档须先解锁档案库（请以站点用户身份运行）")

    def _file(self, path: Path, res: RenderResult) -> str:
        """File a generated document: class from the template, retention from the station's
        table, date and household (一户一档) from the data."""
        assert self._records is not None
        if self._schedule is None:
            raise UsageError("归档须先解锁档案库（请以站点用户身份运行）")
        meta = filing_metadata(res.manifest, res.values, self._schedule(), today=self._today(),
                               sample_used=res.sample_used)
        results = self._records.file([path], **meta.as_kwargs(),
                                     author=str(self._station.get("name", "")))
        return str(results[0].ref)
