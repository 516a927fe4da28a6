"""`sgz access`, `sgz subject`, `sgz refer`, `sgz export`: parse, call one Archive method, format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from archive.cli.common import (
    col,
    emit_json,
    emit_rows,
    force_option,
    info,
    json_option,
    open_archive,
    parse_year,
    show_object,
)
from archive.clock import station_text
from archive.errors import Conflict, UsageError
from archive.safetext import display


def _split(text: str) -> list[str]:
    """`档号1,档号2` (ASCII or Chinese commas) → list."""
    return [p.strip() for p in text.replace("，", ",").replace("、", ",").split(",") if p.strip()]


def _status_name(status: str) -> str:
    from archive.access.requests import STATUS_NAMES

    return STATUS_NAMES.get(status, status)


@click.group("access")
def access_group() -> None:
    """外单位查阅：登记申请、审批、制作查阅件和复制件、查阅登记表。

    \b
    流程：档案管理员登记（request）→ 站长或副站长审批（approve/deny，不得审批本人登记的申请）
    → 档案管理员在批准期限内制作带水印的查阅件（view）或经批准的复制件（copy）。
    """


@access_group.command("request")
@click.option("--unit", required=True, help="查阅单位（外单位名称）。")
@click.option("--letter", required=True, type=click.Path(dir_okay=False),
              help="介绍信扫描件（PDF 或图片），将归入行政档案。")
@click.option("--purpose", required=True, help="查阅目的。")
@click.option("--items", required=True, help="申请查阅的档号，以逗号分隔。")
@click.option("--copy", "copy", is_flag=True, help="同时申请复制（摘抄、复印）。")
@click.option("--applicant", default="", help="查阅人姓名。")
@click.option("--phone", default="", help="查阅人联系电话。")
@click.option("--id-doc", default="", help="查阅人出示的证件名称及号码。")
@click.option("--letter-no", default="", help="介绍信编号。")
@json_option
@click.pass_context
def access_request(ctx: click.Context, unit: str, letter: str, purpose: str, items: str,
                   copy: bool, applicant: str, phone: str, id_doc: str, letter_no: str,
                   as_json: bool) -> None:
    """登记外单位查阅申请（档案管理员、站长、副站长），归档介绍信，打印申请编号。

    \b
    示例：
      sgz access request --unit 长春示例评估中心 --letter 介绍信.pdf --purpose 第三方评估 \\
          --items Z001-WS·2026-Y-XZ-0003,Z001-WS·2026-D30-FW-0007 --copy
    """
    arc = open_archive(ctx)
    req = arc.access.request(unit=unit, letter=letter, purpose=purpose, items=_split(items),
                             copy=copy, applicant=applicant, phone=phone, id_doc=id_doc,
                             letter_no=letter_no)
    if as_json:
        emit_json({**req.as_dict(arc.kernel.clock.iso()), "id": req.no})
        return
    click.echo(req.no)
    info(f"已登记查阅申请 {req.no}（{len(req.items)} 件），介绍信归档为 {req.letter_ref}；"
         "请站长或副站长审批：sgz access approve " + req.no)


@access_group.command("approve")
@click.argument("request_no", metavar="申请编号")
@click.option("--until", help="查阅期限（含当日），如 2026-12-05；默认自批准起 7 天。")
@click.option("--allow-copy", is_flag=True, help="同时批准复制（珍贵档案不得复制）。")
@json_option
@click.pass_context
def access_approve(ctx: click.Context, request_no: str, until: str | None, allow_copy: bool,
                   as_json: bool) -> None:
    """批准查阅申请（仅站长、副站长，且不得是登记人本人）。

    \b
    示例：
      sgz access approve CY-2026-0001 --until 2026-12-05 --allow-copy
    """
    arc = open_archive(ctx)
    req = arc.access.approve(request_no, until=until, allow_copy=allow_copy)
    if as_json:
        emit_json({**req.as_dict(arc.kernel.clock.iso()), "id": req.no})
        return
    click.echo(req.no)
    info(f"已批准 {req.no}，有效至 {station_text(req.valid_until)}（北京时间）"
         + ("，准予复制" if req.copy_approved else "，不得复制"))


@access_group.command("deny")
@click.argument("request_no", metavar="申请编号")
@click.option("--reason", required=True, help="驳回理由（记入审计日志）。")
@click.pass_context
def access_deny(ctx: click.Context, request_no: str, reason: str) -> None:
    """驳回查阅申请（仅站长、副站长，且不得是登记人本人）。

    \b
    示例：
      sgz access deny CY-2026-0002 --reason 介绍信未加盖公章
    """
    arc = open_archive(ctx)
    req = arc.access.deny(request_no, reason=reason)
    click.echo(req.no)
    info(f"已驳回 {req.no}")


@access_group.command("list")
@click.option("--status", type=click.Choice(["pending", "approved", "denied", "expired"]),
              help="按状态筛选：pending 待审批、approved 已批准、denied 已驳回、expired 已过期。")
@click.option("--year", help="年度。")
@json_option
@click.pass_context
def access_list(ctx: click.Context, status: str | None, year: str | None, as_json: bool) -> None:
    """列出查阅申请。

    \b
    示例：
      sgz access list --status pending
      sgz access list --json
    """
    arc = open_archive(ctx)
    reqs = arc.access.list(status=status, year=parse_year(year))
    now = arc.kernel.clock.iso()
    emit_rows(as_json, reqs, [
        col("申请编号", "no"), col("查阅单位", "unit"), col("件数", "items", lambda r: len(r.items)),
        col("复制", "copy_approved", lambda r: bool(r.copy_approved)),
        col("状态", "status", lambda r: _status_name(r.effective_status(now))),
        col("登记人", "registered_by"), col("审批人", "decided_by"),
        col("有效至", "valid_until", time=True)],
        as_dict=lambda r: r.as_dict(now), total="共 {n} 件申请")


@access_group.command("show")
@click.argument("request_no", metavar="申请编号")
@json_option
@click.pass_context
def access_show(ctx: click.Context, request_no: str, as_json: bool) -> None:
    """显示一件查阅申请及其已发出的查阅件、复制件。

    \b
    示例：
      sgz access show CY-2026-0001
    """
    arc = open_archive(ctx)
    d = arc.access.show(request_no)
    if not show_object(as_json, d, [
        col("申请编号", "no"), col("查阅单位", "unit"), col("查阅目的", "purpose"),
        col("查阅人", "applicant"), col("介绍信", "letter_ref"),
        col("状态", "status", lambda x: _status_name(str(x.get("status")))),
        col("登记时间", "registered_at", time=True), col("登记人", "registered_by"),
        col("审批人", "decided_by"), col("审批时间", "decided_at", time=True),
        col("有效至", "valid_until", time=True), col("驳回理由", "decision_note")]):
        return
    click.echo(f"申请复制：{'是' if d['copy_requested'] else '否'}；"
               f"准予复制：{'是' if d['copy_approved'] else '否'}")
    click.echo("申请查阅的档案：")
    for ref in d["items"]:
        click.echo(f"  {display(ref)}")
    click.echo("已发出：")
    for c in d["copies"]:
        kind = "查阅件" if c["kind"] == "view" else "复制件"
        click.echo(f"  {c['no']}  {kind}  {display(c['ref'])}  {station_text(c['issued_at'])}  "
                   f"{display(c['issued_by'])}")


def _serve(ctx: click.Context, kind: str, request_no: str, ref: str, out: str, reason: str,
           force: bool, as_json: bool, component: int | None) -> None:
    arc = open_archive(ctx)
    method = arc.access.view if kind == "view" else arc.access.copy
    res = method(request_no, ref, out, reason=reason, force=force, component=component)
    if as_json:
        emit_json({"id": res.copy.no, **res.copy.as_dict(), "path": str(res.path)})
        return
    click.echo(res.copy.no)
    info(f"已制作{'查阅件' if kind == 'view' else '复制件'} {res.copy.no} → {display(str(res.path))}"
         + ("（服务档案对外提供，已提请站长关注）" if res.flagged else ""))


def _serve_options(out_help: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The arguments and options `access view` and `access copy` share."""
    stack: list[Callable[[Callable[..., None]], Callable[..., None]]] = [
        click.argument("request_no", metavar="申请编号"),
        click.argument("ref", metavar="档号"),
        click.option("-o", "--out", required=True, type=click.Path(), help=out_help),
        click.option("--reason", default="", help="事由（服务档案对外提供时必填，提请站长关注）。"),
        click.option("--component", type=int,
                     help="组件序号（见 sgz show）；默认为已归档的签字扫描件，没有时为当前正文。"),
        force_option, json_option, click.pass_context,
    ]

    def apply(f: Callable[..., None]) -> Callable[..., None]:
        for deco in reversed(stack):
            f = deco(f)
        return f

    return apply


@access_group.command("view")
@_serve_options("输出的 PDF 文件。")
def access_view(ctx: click.Context, request_no: str, ref: str, out: str, reason: str,
                component: int | None, force: bool, as_json: bool) -> None:
    """制作查阅件：每页带水印（单位、申请编号、日期、查阅件编号），禁止复制和打印。

    \b
    Word 文档先用 LibreOffice 转为 PDF（临时文件在 vault/tmp 的私有目录中，转换后立即删除），
    图片转为 PDF；其他格式拒绝。只能在批准期限内、对申请中的档案制作。
    示例：
      sgz access view CY-2026-0001 Z001-WS·2026-Y-XZ-0003 -o 查阅件.pdf
    """
    _serve(ctx, "view", request_no, ref, out, reason, force, as_json, component)


@access_group.command("copy")
@_serve_options("输出文件。")
def access_copy(ctx: click.Context, request_no: str, ref: str, out: str, reason: str,
                component: int | None, force: bool, as_json: bool) -> None:
    """制作复制件（须经批准复制；珍贵档案一律不得复制），编号 FZ-年度-序号 并登记。

    \b
    PDF 复制件每页带“复制件 编号 …”水印；其他格式按原样导出，编号记入登记。
    示例：
      sgz access copy CY-2026-0001 Z001-WS·2026-Y-XZ-0003 -o 复制件.pdf
    """
    _serve(ctx, "copy", request_no, ref, out, reason, force, as_json, component)


@access_group.command("register")
@click.option("--year", help="年度（默认今年）。")
@click.option("-o", "--out", type=click.Path(dir_okay=False),
              help="输出 .docx（默认 档案查阅登记-<年度>.docx）。")
@force_option
@click.pass_context
def access_register(ctx: click.Context, year: str | None, out: str | None, force: bool) -> None:
    """生成档案查阅申请与登记表（每件申请一页），用于打印签字后归档。

    \b
    示例：
      sgz access register --year 2026 -o 档案查阅登记-2026.docx
    """
    arc = open_archive(ctx)
    blob, n = arc.access.register_doc(year=parse_year(year))
    dest = Path(out or f"档案查阅登记-{year or arc.kernel.clock.today().year}.docx")
    if dest.suffix.lower() != ".docx":
        raise UsageError("输出文件应以 .docx 结尾")
    if dest.exists() and not force:
        raise Conflict(f"{dest} 已存在；如确需覆盖请加 --force")
    from archive.records.service import refuse_inside_home

    refuse_inside_home(arc.kernel.home, dest)
    from archive.errors import storage_error
    from archive.fs.atomic import write_atomic

    try:
        write_atomic(dest, blob)  # plaintext: 0600
    except OSError as exc:
        raise storage_error(exc, "生成查阅登记表") from None
    click.echo(str(dest))
    info(f"已生成 {n} 件申请的查阅登记表")


@access_group.command("flags")
@click.option("--all", "include_acked", is_flag=True, help="包括已阅的事项。")
@click.option("--ack", type=int, help="将该编号的事项标记为站长已阅。")
@json_option
@click.pass_context
def access_flags(ctx: click.Context, include_acked: bool, ack: int | None, as_json: bool) -> None:
    """提请站长关注的事项：说明事由查阅/对外提供服务档案、未经同意的紧急转介等。

    \b
    示例：
      sgz access flags
      sgz access flags --ack 3
    """
    arc = open_archive(ctx)
    if ack is not None:
        arc.access.ack_flag(ack)
        info(f"已将事项 {ack} 标记为已阅")
        return
    from archive.audit.names import action_name

    emit_rows(as_json, arc.access.flags(include_acked=include_acked), [
        col("编号", "id"), col("时间", "at", time=True), col("人员", "actor"),
        col("操作", "action", lambda f: action_name(f.action)), col("对象", "ref"),
        col("事由", "reason"), col("依据", "rule")],
        as_dict=lambda f: f.as_dict(), total="共 {n} 项")


# ---------------------------------------------------------------------- people's rights
@click.group("subject")
def subject_group() -> None:
    """服务对象权利：为服务对象导出其本人资料（个人信息保护法第四十五条）。"""


def _report_export(res: Any, as_json: bool, what: str) -> None:
    if as_json:
        emit_json({"id": str(res.out_dir), **res.as_dict()})
        return
    click.echo(str(res.out_dir))
    info(f"已{what} {len(res.files)} 个文件到 {display(str(res.out_dir))}，清单见 {res.index.name}")
    for s in res.skipped:
        info(f"未包含 {display(s['ref'])}：{display(s['why'])}")
    for w in res.warnings:
        info(f"注意：{display(w)}")


@subject_group.command("export")
@click.option("--household", required=True, help="户号（一户一档）。")
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False),
              help="输出文件夹（新的或空的）。")
@click.option("--reason", required=True, help="事由（如：服务对象本人申请），逐件记入审计日志。")
@json_option
@click.pass_context
def subject_export(ctx: click.Context, household: str, out: str, reason: str,
                   as_json: bool) -> None:
    """导出一户的全部在库服务档案（含各版本）及清单，交服务对象本人。

    与 sgz get 相同：须说明事由，逐件记入审计；非负责社工、督导、站长导出时提请站长关注。

    \b
    示例：
      sgz subject export --household H0012 -o 本人资料/ --reason 服务对象本人申请
    """
    arc = open_archive(ctx)
    res = arc.rights.export_subject(household, out, reason=reason)
    _report_export(res, as_json, "导出")
    if not as_json and res.flagged:
        info("已提请站长关注（sgz access flags）。")


@click.command("refer")
@click.option("--household", required=True, help="户号（一户一档）。")
@click.option("--to", "to", required=True, help="接收机构。")
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False),
              help="输出文件夹（新的或空的）。")
@click.option("--override-reason", default="",
              help="未存档转介同意书时，涉及人身安全的紧急事由（记入审计并提请站长关注）。")
@json_option
@click.pass_context
def refer_cmd(ctx: click.Context, household: str, to: str, out: str, override_reason: str,
              as_json: bool) -> None:
    """服务转介导出：须已存档服务对象签署的转介同意书。

    \b
    同意书认定规则：该户号下在库的服务（FW）档案，题名含“转介同意书”，且为签字扫描件
    （有“签字扫描件”组件，或正文为 PDF/图片）。
    示例：
      sgz refer --household H0012 --to 双阳区残疾人联合会 -o 转介材料/
      sgz refer --household H0012 --to 派出所 -o 转介/ --override-reason 服务对象有自伤风险
    """
    arc = open_archive(ctx)
    res = arc.rights.refer(household, to=to, out_dir=out, override_reason=override_reason)
    _report_export(res, as_json, "转介导出")
    if not as_json and res.flagged:
        info("未存档转介同意书，已按紧急事由导出，并提请站长关注。")


@click.command("export")
@click.argument("refs", nargs=-1, required=True, metavar="档号...")
@click.option("--anonymize", is_flag=True, help="匿名化（必选）：遮蔽姓名、身份证号、电话、住址。")
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False),
              help="输出文件夹（新的或空的）。")
@click.option("--names", default="", help="另需遮蔽的姓名，以逗号分隔（户内成员、工作人员、村社区名和文档中姓名类字段已自动遮蔽）。")
@click.option("--reason", default="", help="事由（非负责人员导出服务档案时必填）。")
@json_option
@click.pass_context
def export_cmd(ctx: click.Context, refs: tuple[str, ...], anonymize: bool, out: str, names: str,
               reason: str, as_json: bool) -> None:
    """匿名化导出（上报用人单位领导等）：PDF、Word 和文本档案。

    \b
    PDF 输出为重新排版的文字摘录（版式、图片不保留）；Word 中的图片替换为空白。
    逐件报告各类遮蔽数量；文档有姓名类字段却未遮蔽任何姓名时给出警告。
    示例：
      sgz export Z001-WS·2026-D30-FW-0007 --anonymize -o 匿名化/ --names 张三,李四
    """
    if not anonymize:
        raise UsageError("sgz export 只做匿名化导出，请加 --anonymize；导出原件请用 sgz get")
    arc = open_archive(ctx)
    res = arc.rights.export_anonymized(list(refs), out, names=_split(names), reason=reason)
    if not as_json:
        for f in res.files:
            info(f"{f['ref']}：{f['summary']}")
    _report_export(res, as_json, "匿名化导出")
