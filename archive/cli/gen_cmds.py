"""`sgz gen` and `sgz templates`: thin front end over archive.docgen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from archive.cli.common import emit_json, home_path, open_archive
from archive.errors import NotFound, ValidationError


def _templates_root(ctx: click.Context) -> Path:
    from archive.docgen.manifest import default_templates_dir

    return default_templates_dir()


def _station_vars(ctx: click.Context, sample: bool) -> dict[str, Any]:
    from archive.docgen.engine import load_station_vars, sample_station_vars

    path = home_path(ctx) / "station.toml"
    if path.is_file():
        return load_station_vars(path)
    if sample:
        click.echo("提示：未找到 station.toml，使用示例站点（长春市双阳区奢岭街道社会工作服务站）。",
                   err=True)
        return sample_station_vars()
    raise NotFound(f"找不到站点配置 {path}。请先 sgz init，或加 --sample 用示例站点试生成。")


def _service(ctx: click.Context, sample: bool, file_it: bool) -> Any:
    """The generation service: over the unlocked archive when filing, else over the station file."""
    if file_it:
        return open_archive(ctx).gen
    from archive.clock import StationClock
    from archive.docgen.service import GenerationService

    return GenerationService(station_vars=_station_vars(ctx, sample), today=StationClock().today)


@click.command("gen")
@click.argument("template_id", metavar="模板ID")
@click.option("--data", "data_file", type=click.Path(dir_okay=False, path_type=Path),
              help="字段数据文件（.toml / .json / .yaml）。")
@click.option("--set", "assignments", multiple=True, metavar="字段=值",
              help="逐项给字段赋值（字段名或中文名），可重复。")
@click.option("--sample", is_flag=True, help="使用模板自带的示例数据（无 station.toml 时用示例站点）。")
@click.option("--rows", "rows_file", type=click.Path(dir_okay=False, path_type=Path),
              help="每行一份：从 .csv 或 .xlsx 批量生成，-o 为输出文件夹。")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="输出文件（默认 <模板ID>.docx）。")
@click.option("--pdf", is_flag=True, help="同时用 LibreOffice 转换为 PDF。")
@click.option("--file", "file_it", is_flag=True, help="生成后按模板默认类别和保管期限归档，打印档号。")
@click.option("--size", type=click.Choice(["60x40", "70x50"]), help="牌匾尺寸（厘米），仅用于 plaque。")
@click.pass_context
def gen_cmd(ctx: click.Context, template_id: str, data_file: Path | None,
            assignments: tuple[str, ...], sample: bool, rows_file: Path | None,
            output: Path | None, pdf: bool, file_it: bool, size: str | None) -> None:
    """按模板生成文书（已填好本站信息）。

    \b
    示例：
      sgz gen confidentiality-rules --sample -o 保密管理制度.docx --pdf
      sgz gen complaint-register --data 投诉.toml --file
      sgz gen volunteer-registration --rows 志愿者.xlsx -o 登记表/
      sgz gen plaque --size 70x50 -o 牌匾.svg
    """
    gen = _service(ctx, sample, file_it)
    manifest = gen.manifest(template_id)
    data = gen.data(manifest, sample=sample, data_file=data_file, assignments=assignments,
                    size=size)
    if rows_file:
        res = gen.render_rows(manifest, data, rows_file, output, pdf=pdf, file=file_it,
                              progress=lambda m: click.echo(m, err=True))
    else:
        res = gen.render(manifest, data, output, pdf=pdf, file=file_it)
    for line in (res.filed if rows_file and file_it else res.paths):
        click.echo(str(line))
    if file_it and not rows_file:
        for ref in res.filed:
            click.echo(ref)


@click.group("templates")
def templates_group() -> None:
    """查看和检查文书模板。"""


@templates_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.pass_context
def templates_list(ctx: click.Context, as_json: bool) -> None:
    """列出全部模板：ID、名称、类别、依据条款。

    \b
    示例：
      sgz templates list
      sgz templates list --json
    """
    from archive.docgen.manifest import list_manifests

    items = list_manifests(_templates_root(ctx))
    if as_json:
        emit_json([{"id": m.id, "title": m.title, "kind": m.kind, "clause": m.clause,
                    "category": m.category, "retention": m.retention, "layout": m.layout}
                   for m in items])
        return
    for m in items:
        click.echo(f"{m.id:<32}{m.kind}  {m.title}  〔{m.clause}〕")


@templates_group.command("show")
@click.argument("template_id", metavar="模板ID")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.pass_context
def templates_show(ctx: click.Context, template_id: str, as_json: bool) -> None:
    """显示一个模板的字段（类型、是否必填）。

    \b
    示例：
      sgz templates show complaint-register
    """
    from archive.docgen.manifest import CATEGORIES, RETENTIONS, TYPE_LABELS, get_manifest

    m = get_manifest(_templates_root(ctx), template_id)

    def fdict(f: Any) -> dict[str, Any]:
        d = {"name": f.name, "label": f.label, "type": f.type, "required": f.required}
        if f.default is not None:
            d["default"] = str(f.default)
        if f.choices:
            d["choices"] = list(f.choices)
        if f.help:
            d["help"] = f.help
        if f.columns:
            d["columns"] = [fdict(c) for c in f.columns]
        return d

    if as_json:
        emit_json({"id": m.id, "title": m.title, "kind": m.kind, "clause": m.clause,
                   "category": m.category, "retention": m.retention, "layout": m.layout,
                   "description": m.description, "fields": [fdict(f) for f in m.fields]})
        return
    click.echo(f"{m.title}（{m.id}）  {m.kind}  依据：{m.clause}")
    click.echo(f"默认归档：{CATEGORIES[m.category]}（{m.category}） 保管期限 {RETENTIONS[m.retention]}")
    if m.description:
        click.echo(m.description)
    click.echo("字段（站点信息 station.* 与 today 自动提供）：")

    def line(f: Any, indent: str) -> None:
        req = "必填" if f.required else "选填"
        extra = f"，可选：{'、'.join(f.choices)}" if f.choices else ""
        extra += f"，默认：{f.default}" if f.default is not None else ""
        extra += f"  —— {f.help}" if f.help else ""
        click.echo(f"{indent}{f.name:<22}{f.label}  [{TYPE_LABELS[f.type]}，{req}{extra}]")
        for c in f.columns:
            line(c, indent + "    ")

    for f in m.fields:
        line(f, "  ")


@templates_group.command("check")
@click.argument("docx", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--template", "template_id", help="按哪个模板的字段检查（默认从文档属性识别）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出问题列表。")
@click.pass_context
def templates_check(ctx: click.Context, docx: Path, template_id: str | None,
                    as_json: bool) -> None:
    """检查在 Word/WPS 中改过的模板：被拆分的标签、未知字段、中文引号、语法错误。

    \b
    示例：
      sgz templates check 我改过的档案管理制度.docx
      sgz templates check 新表单.docx --template complaint-register
    """
    from archive.docgen.check import check_docx

    report = check_docx(docx, _templates_root(ctx), template_id=template_id)
    if as_json:
        emit_json({"template": report.template_id,
                   "problems": [p.as_dict() for p in report.problems]})
    else:
        for note in report.notes:
            click.echo(f"提示：{note}", err=True)
        for p in report.problems:
            click.echo(str(p))
    if report.problems:
        raise ValidationError(f"发现 {len(report.problems)} 个问题", details=report.problems)
    if not as_json:
        click.echo("未发现问题。", err=True)
