"""`sgz access`, `sgz subject`, `sgz refer`, `sgz export`: parse, call one Archive method, format."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from archive.cli.common import emit_json, emit_table, info, open_archive, parse_year
from archive.errors import Conflict, UsageError


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
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
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
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
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
    info(f"已批准 {req.no}，有效至 {req.valid_until}（UTC）"
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
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
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
    if as_json:
        emit_json([r.as_dict(now) for r in reqs])
        return
    emit_table(["申请编号", "查阅单位", "件数", "复制", "状态", "登记人", "审批人", "有效至"],
               [[r.no, r.unit, len(r.items), "是" if r.copy_approved else "否",
                 _status_name(r.effective_status(now)), r.registered_by, r.decided_by or "",
                 r.valid_until or ""] for r in reqs])
    info(f"共 {len(reqs)} 件申请")


@access_group.command("show")
@click.argument("request_no", metavar="申请编号")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.pass_context
def access_show(ctx: click.Context, request_no: str, as_json: bool) -> None:
    """显示一件查阅申请及其已发出的查阅件、复制件。

    \b
    示例：
      sgz access show CY-2026-0001
    """
    arc = open_archive(ctx)
    d = arc.access.show(request_no)
    if as_json:
        emit_json(d)
        return
    for label, key in [("申请编号", "no"), ("查阅单位", "unit"), ("查阅目的", "purpose"),
                       ("查阅人", "applicant"), ("介绍信", "letter_ref"), ("状态", "status"),
                       ("登记", "registered_at"), ("登记人", "registered_by"),
                       ("审批人", "decided_by"), ("审批时间", "decided_at"),
                       ("有效至", "valid_until"), ("驳回理由", "decision_note")]:
        value = d.get(key)
        if key == "status":
            value = _status_name(str(value))
        click.echo(f"{label}：{value if value not in (None, '') else '—'}")
    click.echo(f"申请复制：{'是' if d['copy_requested'] else '否'}；"
               f"准予复制：{'是' if d['copy_approved'] else '否'}")
    click.echo("申请查阅的档案：")
    for ref in d["items"]:
        click.echo(f"  {ref}")
    click.echo("已发出：")
    for c in d["copies"]:
        kind = "查阅件" if c["kind"] == "view" else "复制件"
        click.echo(f"  {c['no']}  {kind}  {c['ref']}  {c['issued_at']}  {c['issued_by']}")


def _serve(ctx: click.Context, kind: str, request_no: str, ref: str, out: str, reason: str,
           force: bool, as_json: bool) -> None:
    arc = open_archive(ctx)
    method = arc.access.view if kind == "view" else arc.access.copy
    res = method(request_no, ref, out, reason=reason, force=force)
    if as_json:
        emit_json({"id": res.copy.no, **res.copy.as_dict(), "path": str(res.path)})
        return
    click.echo(res.copy.no)
    info(f"已制作{'查阅件' if kind == 'view' else '复制件'} {res.copy.no} → {res.path}"
         + ("（服务档案对外提供，已提请站长关注）" if res.flagged else ""))


@access_group.command("view")
@click.argument("request_no", metavar="申请编号")
@click.argument("ref", metavar="档号")
@click.option("-o", "--out", required=True, type=click.Path(), help="输出的 PDF 文件。")
@click.option("--reason", default="", help="事由（服务档案对外提供时必填，提请站长关注）。")
@click.option("--force", is_flag=True, help="覆盖已存在的输出文件。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.pass_context
def access_view(ctx: click.Context, request_no: str, ref: str, out: str, reason: str,
                force: bool, as_json: bool) -> None:
    """制作查阅件：每页带水印（单位、申请编号、日期、查阅件编号），禁止复制和打印。

    \b
    Word 文档先用 LibreOffice 转为 PDF（临时文件在 vault/tmp 的私有目录中，转换后立即删除），
    图片转为 PDF；其他格式拒绝。只能在批准期限内、对申请中的档案制作。
    示例：
      sgz access view CY-2026-0001 Z001-WS·2026-Y-XZ-0003 -o 查阅件.pdf
    """
    _serve(ctx, "view", request_no, ref, out, reason, force, as_json)


@access_group.command("copy")
@click.argument("request_no", metavar="申请编号")
@click.argument("ref", metavar="档号")
@click.option("-o", "--out", required=True, type=click.Path(), help="输出文件。")
@click.option("--reason", default="", help="事由（服务档案对外提供时必填，提请站长关注）。")
@click.option("--force", is_flag=True, help="覆盖已存在的输出文件。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.pass_context
def access_copy(ctx: click.Context, request_no: str, ref: str, out: str, reason: str,
                force: bool, as_json: bool) -> None:
    """制作复制件（须经批准复制；珍贵档案一律不得复制），编号 FZ-年度-序号 并登记。

    \b
    PDF 复制件每页带“复制件 编号 …”水印；其他格式按原样导出，编号记入登记。
    示例：
      sgz access copy CY-2026-0001 Z001-WS·2026-Y-XZ-0003 -o 复制件.pdf
    """
    _serve(ctx, "copy", request_no, ref, out, reason, force, as_json)


@access_group.command("register")
@click.option("--year", help="年度（默认今年）。")
@click.option("-o", "--out", type=click.Path(dir_okay=False),
              help="输出 .docx（默认 档案查阅登记-<年度>.docx）。")
@click.option("--force", is_flag=True, help="覆盖已存在的输出文件。")
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
    part = dest.with_name(f".{dest.name}.sgz-part")
    part.write_bytes(blob)
    os.replace(part, dest)
    click.echo(str(dest))
    info(f"已生成 {n} 件申请的查阅登记表")


@access_group.command("flags")
@click.option("--all", "include_acked", is_flag=True, help="包括已阅的事项。")
@click.option("--ack", type=int, help="将该编号的事项标记为站长已阅。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
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
    flags = arc.access.flags(include_acked=include_acked)
    if as_json:
        emit_json([f.as_dict() for f in flags])
        return
    emit_table(["编号", "时间", "人员", "操作", "对象", "事由", "依据"],
               [[f.id, f.at, f.actor, f.action, f.ref, f.reason, f.rule] for f in flags])
    info(f"共 {len(flags)} 项")


# ---------------------------------------------------------------------- people's rights
@click.group("subject")
def subject_group() -> None:
    """服务对象权利：为服务对象导出其本人资料（个人信息保护法第四十五条）。"""


def _report_export(res: Any, as_json: bool, what: str) -> None:
    if as_json:
        emit_json({"id": str(res.out_dir), **res.as_dict()})
        return
    click.echo(str(res.out_dir))
    info(f"已{what} {len(res.files)} 个文件到 {res.out_dir}，清单见 {res.index.name}")
    for s in res.skipped:
        info(f"未包含 {s['ref']}：{s['why']}")
    for w in res.warnings:
        info(f"注意：{w}")


@subject_group.command("export")
@click.option("--household", required=True, help="户号（一户一档）。")
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False),
              help="输出文件夹（新的或空的）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.pass_context
def subject_export(ctx: click.Context, household: str, out: str, as_json: bool) -> None:
    """导出一户的全部在库服务档案（含各版本）及清单，交服务对象本人。

    \b
    示例：
      sgz subject export --household H0012 -o 本人资料/
    """
    arc = open_archive(ctx)
    _report_export(arc.rights.export_subject(household, out), as_json, "导出")


@click.command("refer")
@click.option("--household", required=True, help="户号（一户一档）。")
@click.option("--to", "to", required=True, help="接收机构。")
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False),
              help="输出文件夹（新的或空的）。")
@click.option("--override-reason", default="",
              help="未存档转介同意书时，涉及人身安全的紧急事由（记入审计并提请站长关注）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
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
@click.option("--names", default="", help="须遮蔽的已知姓名（家庭成员等），以逗号分隔。")
@click.option("--reason", default="", help="事由（非负责人员导出服务档案时必填）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.pass_context
def export_cmd(ctx: click.Context, refs: tuple[str, ...], anonymize: bool, out: str, names: str,
               reason: str, as_json: bool) -> None:
    """匿名化导出（上报用人单位领导等）：PDF、Word 和文本档案。

    \b
    PDF 输出为重新排版的文字摘录（版式、图片不保留）；Word 中的图片替换为空白。
    示例：
      sgz export Z001-WS·2026-D30-FW-0007 --anonymize -o 匿名化/ --names 张三,李四
    """
    if not anonymize:
        raise UsageError("sgz export 只做匿名化导出，请加 --anonymize；导出原件请用 sgz get")
    arc = open_archive(ctx)
    res = arc.rights.export_anonymized(list(refs), out, names=_split(names), reason=reason)
    _report_export(res, as_json, "匿名化导出")
