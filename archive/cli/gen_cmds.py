"""`sgz gen` and `sgz templates`: thin front end over archive.docgen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from archive.cli.common import (
    col,
    emit_json,
    emit_rows,
    force_option,
    home_path,
    info,
    json_option,
    open_archive,
    warn_if_example,
)
from archive.errors import NotFound, UsageError, ValidationError
from archive.safetext import display


def _templates_root(ctx: click.Context) -> Path:
    from archive.docgen.manifest import default_templates_dir

    return default_templates_dir()


def _station_vars(ctx: click.Context, sample: bool) -> tuple[dict[str, Any], bool]:
    """The station's template variables and whether the sample station stood in."""
    from archive.docgen.engine import load_station_vars, sample_station_vars

    path = home_path(ctx) / "station.toml"
    if path.is_file():
        return load_station_vars(path), False
    if sample:
        return sample_station_vars(), True
    raise NotFound(f"找不到站点配置 {path}。请先 sgz init，或加 --sample 用示例站点试生成。")


def _service(ctx: click.Context, sample: bool, file_it: bool) -> Any:
    """The generation service: over the unlocked archive when filing, else over the station file."""
    if file_it:
        return open_archive(ctx).gen
    from archive.clock import StationClock
    from archive.docgen.service import GenerationService
    from archive.docgen.workdays import calendar_from_station
    from archive.kernel.home import HomePaths

    station, is_sample = _station_vars(ctx, sample)
    return GenerationService(station_vars=station, today=StationClock().today,
                             calendar=calendar_from_station(home_path(ctx) / "station.toml"),
                             sample_station=is_sample, home=HomePaths(home_path(ctx)))


@click.command("gen")
@click.argument("template_id", metavar="模板")
@click.option("--data", "data_file", type=click.Path(dir_okay=False, path_type=Path),
              help="字段数据文件（.toml / .json / .yaml，或 templates blank 生成的 .xlsx）。")
@click.option("--set", "assignments", multiple=True, metavar="字段=值",
              help="逐项给字段赋值（字段名或中文名），可重复。")
@click.option("--sample", is_flag=True,
              help="未填写的字段用模板示例数据补齐（文书加“样例”标记，不能归档）。")
@click.option("--rows", "rows_file", type=click.Path(dir_okay=False, path_type=Path),
              help="每行一份：从 .csv 或 .xlsx 批量生成，-o 为输出文件夹。")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="输出文件（默认“中文题名-日期.docx”）。")
@click.option("--pdf", is_flag=True, help="同时用 LibreOffice 转换为 PDF（嵌入字体）。")
@click.option("--file", "file_it", is_flag=True,
              help="生成后归档（类别取模板；保管期限取本站保管期限表中该文书类型的期限，没有则取模板规定的期限；"
                   "日期（成文日期）、户号取数据），打印档号；"
                   "未给 -o 时不在当前文件夹留下副本。")
@click.option("--size", type=click.Choice(["60x40", "70x50"]), help="牌匾尺寸（厘米），仅用于 plaque。")
@force_option
@click.pass_context
def gen_cmd(ctx: click.Context, template_id: str, data_file: Path | None,
            assignments: tuple[str, ...], sample: bool, rows_file: Path | None,
            output: Path | None, pdf: bool, file_it: bool, size: str | None,
            force: bool) -> None:
    """按模板生成文书（已填好本站信息）。模板可写 ID、中文名称或别名。

    \b
    示例：
      sgz gen 保密管理制度 --sample --pdf
      sgz gen 投诉登记表 --data 投诉.toml --file
      sgz gen 入户走访记录 --data 走访.xlsx --file
      sgz gen volunteer-registration --rows 志愿者.xlsx -o 登记表/
      sgz gen 牌匾 --size 70x50 -o 牌匾.svg
    """
    from archive.docgen.lookup import find_template

    find_template(_templates_root(ctx), template_id)  # a wrong name is reported first
    gen = _service(ctx, sample, file_it)
    manifest = gen.manifest(template_id)
    data = gen.data(manifest, data_file=data_file, assignments=assignments, size=size)
    if rows_file:
        res = gen.render_rows(manifest, data, rows_file, output, sample=sample, pdf=pdf,
                              file=file_it, progress=info, warn=info, force=force)
    else:
        res = gen.render(manifest, data, output, sample=sample, pdf=pdf, file=file_it, warn=info,
                         force=force)
    for note in res.notes:
        info(note)
    for path in res.paths:
        click.echo(display(str(path)))
    for ref in res.filed:
        click.echo(ref)
    if res.filed:
        info(f"已归档 {len(res.filed)} 件（{manifest.title}）")
    warn_if_example(gen.station_vars.get("fonds"), gen.station_vars.get("name"))


@click.group("templates")
def templates_group() -> None:
    """查看和检查文书模板。"""


@templates_group.command("list")
@json_option
@click.pass_context
def templates_list(ctx: click.Context, as_json: bool) -> None:
    """列出全部模板：ID、名称、类别、依据条款。

    \b
    示例：
      sgz templates list
      sgz templates list --json
    """
    from archive.docgen.lookup import period_name
    from archive.docgen.manifest import CATEGORIES, list_manifests

    emit_rows(as_json, list_manifests(_templates_root(ctx)), [
        col("ID", "id"), col("名称", "title"), col("类型", "kind"),
        col("类别", "category", lambda m: CATEGORIES.get(m.category, m.category)),
        col("保管期限", "retention", lambda m: period_name(m.retention)),
        col("别名", "aliases", lambda m: "、".join(m.aliases)), col("依据", "clause")],
        as_dict=lambda m: {"id": m.id, "title": m.title, "kind": m.kind, "clause": m.clause,
                           "category": m.category, "retention": m.retention,
                           "retention_name": period_name(m.retention), "layout": m.layout,
                           "aliases": list(m.aliases)},
        total="共 {n} 个模板；sgz gen 后可写 ID 或中文名称")


@templates_group.command("show")
@click.argument("template_id", metavar="模板")
@json_option
@click.pass_context
def templates_show(ctx: click.Context, template_id: str, as_json: bool) -> None:
    """显示一个模板的字段（类型、是否必填）。

    \b
    示例：
      sgz templates show complaint-register
      sgz templates show 投诉登记表
    """
    from archive.docgen.lookup import find_template
    from archive.docgen.manifest import CATEGORIES, RETENTIONS, TYPE_LABELS

    m = find_template(_templates_root(ctx), template_id)

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
    click.echo(f"默认归档：{CATEGORIES[m.category]}（{m.category}） 保管期限 {RETENTIONS[m.retention]}"
               "（归档时以本站保管期限表为准）")
    if m.aliases:
        click.echo(f"别名：{'、'.join(m.aliases)}")
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
@click.argument("docx", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--template", "template_id", help="按哪个模板的字段检查（默认从文档属性识别）。")
@click.option("--fonts", is_flag=True, help="检查本机公文字体（同 sgz doctor）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出问题列表。")
@click.pass_context
def templates_check(ctx: click.Context, docx: Path | None, template_id: str | None, fonts: bool,
                    as_json: bool) -> None:
    """检查在 Word/WPS 中改过的模板：被拆分的标签、未知字段、中文引号、语法错误。

    \b
    示例：
      sgz templates check 我改过的档案管理制度.docx
      sgz templates check 新表单.docx --template complaint-register
      sgz templates check --fonts
    """
    from archive.docgen.check import check_docx
    from archive.docgen.lookup import find_template

    if fonts:
        _font_report(as_json)
        if docx is None:
            return
    if docx is None:
        raise UsageError("请给出要检查的 .docx 文件，或加 --fonts 检查字体")
    if template_id:
        template_id = find_template(_templates_root(ctx), template_id).id
    report = check_docx(docx, _templates_root(ctx), template_id=template_id)
    if as_json:
        emit_json({"template": report.template_id,
                   "problems": [p.as_dict() for p in report.problems]})
    else:
        for note in report.notes:
            info(f"提示：{display(note)}")
        for p in report.problems:
            click.echo(display(str(p)))
    if report.problems:
        raise ValidationError(f"发现 {len(report.problems)} 个问题", details=report.problems)
    if not as_json:
        info("未发现问题。")


@templates_group.command("blank")
@click.argument("template_id", metavar="模板")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="输出的空白表：.xlsx（用 Excel/WPS 填写）或 .toml。")
@click.option("--rows", is_flag=True, help="批量表：每行一份文书（用于 sgz gen --rows）。")
@force_option
@click.pass_context
def templates_blank(ctx: click.Context, template_id: str, output: Path, rows: bool,
                    force: bool) -> None:
    """生成空白填写表：字段中文名、说明、示例，选项做成下拉列表。

    \b
    示例：
      sgz templates blank 志愿者登记表 -o 志愿者.xlsx
      sgz templates blank volunteer-registration -o 志愿者批量.xlsx --rows
      sgz templates blank 投诉登记表 -o 投诉.toml
    填好后：sgz gen 模板 --data 文件（或 --rows 文件）。
    """
    from archive.docgen.blank import with_station, write_blank_toml, write_blank_xlsx
    from archive.docgen.engine import load_station_vars, sample_station_vars
    from archive.docgen.lookup import find_template
    from archive.errors import Conflict
    from archive.fs.atomic import write_atomic

    m = find_template(_templates_root(ctx), template_id)
    suffix = output.suffix.lower()
    if suffix not in (".xlsx", ".toml"):
        raise UsageError("空白表应为 .xlsx 或 .toml 文件")
    if rows and suffix != ".xlsx":
        raise UsageError("--rows 批量表只能是 .xlsx")
    if output.exists() and not force:
        raise Conflict(f"{display(str(output))} 已存在；如确需覆盖请加 --force")
    station_file = home_path(ctx) / "station.toml"
    m = with_station(m, load_station_vars(station_file) if station_file.is_file()
                     else sample_station_vars())
    if suffix == ".xlsx":
        write_blank_xlsx(m, output, rows=rows)
    else:
        write_atomic(output, write_blank_toml(m).encode("utf-8"), parents=True)
    click.echo(display(str(output)))
    how = f"sgz gen {m.id} --rows {output.name}" if rows else f"sgz gen {m.id} --data {output.name}"
    info(f"已生成“{m.title}”空白表；填好后运行：{how}")


def _font_report(as_json: bool) -> None:
    from archive.pdf.fonts import font_report

    rep = font_report()
    if as_json:
        emit_json({"missing": rep.missing, "lines": rep.lines(), "warning": rep.warning()})
        return
    click.echo("公文字体（生成 PDF 时使用）：")
    for line in rep.lines():
        click.echo(f"  {line}")
    click.echo(rep.warning() or "全部公文字体已安装。")


@click.command("doctor")
@json_option
def doctor_cmd(as_json: bool) -> None:
    """检查本机环境：公文字体（仿宋_GB2312、方正小标宋简体等）是否安装、以何字体代替。

    \b
    示例：
      sgz doctor
    """
    _font_report(as_json)
