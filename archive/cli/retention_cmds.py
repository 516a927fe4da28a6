"""`sgz retention`, `hold`, `disposal`: parse, call one Archive method, format."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from archive.cli.common import (
    col,
    emit_json,
    emit_rows,
    emit_table,
    info,
    json_option,
    list_objects,
    open_archive,
    show_object,
)
from archive.safetext import display


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    from archive.clock import parse_date

    d8 = parse_date(value)
    return date(int(d8[:4]), int(d8[4:6]), int(d8[6:]))


# ---------------------------------------------------------------------- retention
@click.group("retention")
def retention_group() -> None:
    """保管期限：到期档案清单、鉴定后延长期限、查看保管期限表。

    \b
    示例：
      sgz retention due --as-of 2026-12-31
      sgz retention extend Z001-WS·2015-D10-FW-0003 --to D30 --reason 涉及未结个案，鉴定后延长
      sgz retention table
    期限自形成年度的次年1月1日起算；永久（Y）档案永不到期。到期只列出，不会自动删除。
    """


@retention_group.command("due")
@click.option("--as-of", help="截至日期（默认今天），如 2026-12-31。")
@json_option
@click.pass_context
def due_cmd(ctx: click.Context, as_of: str | None, as_json: bool) -> None:
    """列出保管期限已满、待鉴定的档案（只列出，不删除）。

    \b
    示例：
      sgz retention due
      sgz retention due --as-of 2030-01-01 --json
    """
    list_objects(ctx, as_json, lambda arc: arc.retention.due(as_of=_as_of(as_of)), [
        col("档号", "ref"), col("题名", "title"), col("年度", "year"),
        col("保管期限", "retention_label"), col("到期日", "expired_on"),
        col("冻结", "held", lambda r: "是" if r["held"] else ""), col("销毁批次", "batch"),
        col("提示", "hint")], as_dict=dict,
        total="共 {n} 件到期；请鉴定后用 sgz disposal propose 提出销毁，或 sgz retention extend 延长")


@retention_group.command("extend")
@click.argument("ref")
@click.option("--to", "to", required=True, help="新的保管期限：D30 或 Y（须比原期限长）。")
@click.option("--reason", required=True, help="鉴定结论（必填，记入审计日志）。")
@json_option
@click.pass_context
def extend_cmd(ctx: click.Context, ref: str, to: str, reason: str, as_json: bool) -> None:
    """鉴定后仍需保存的档案，另定更长的保管期限（档号不变）。

    \b
    示例：
      sgz retention extend Z001-WS·2015-D10-FW-0003 --to D30 --reason 涉及未结个案
    """
    arc = open_archive(ctx)
    res = arc.retention.extend(ref, to=to, reason=reason)
    if as_json:
        emit_json(res)
        return
    click.echo(res["ref"])
    until = res["expires_on"] or "永久保存"
    from archive.docgen.lookup import period_name

    info(f"{res['ref']} 保管期限 {period_name(res['old'])} → {period_name(res['new'])}"
         f"（到期：{until}）；档号不变")


@retention_group.command("table")
@json_option
@click.pass_context
def table_cmd(ctx: click.Context, as_json: bool) -> None:
    """显示本站保管期限表（类别默认期限与文件类型期限；可在 station.toml [retention] 中修改）。

    \b
    示例：
      sgz retention table
    station.toml 中的写法：
      [retention.classes]
      FW = "D30"
      [retention.types]
      "年度工作总结" = "Y"
    """
    arc = open_archive(ctx)
    from archive.docgen.lookup import period_name

    emit_rows(as_json, arc.retention.table(), [
        col("类型", "kind", lambda r: "类别" if r["kind"] == "class" else "文件"),
        col("名称", "name"), col("期限", "period", lambda r: period_name(r["period"])),
        col("依据", "source")], as_dict=dict)


# ---------------------------------------------------------------------- hold
@click.group("hold")
def hold_group() -> None:
    """冻结（暂停销毁）：冻结中的档案不得提出、批准或执行销毁。

    \b
    示例：
      sgz hold add Z001-WS·2015-D10-FW-0003 --reason 涉及未结投诉
      sgz hold remove Z001-WS·2015-D10-FW-0003 --reason 投诉已办结
      sgz hold list
    """


@hold_group.command("add")
@click.argument("ref")
@click.option("--reason", required=True, help="冻结原因（必填，记入审计日志）。")
@json_option
@click.pass_context
def hold_add_cmd(ctx: click.Context, ref: str, reason: str, as_json: bool) -> None:
    """冻结一件档案。

    \b
    示例：
      sgz hold add Z001-WS·2015-D10-FW-0003 --reason 涉及未结投诉
    """
    arc = open_archive(ctx)
    h = arc.holds.add(ref, reason=reason)
    if as_json:
        emit_json({"id": h.ref, "ref": h.ref, "placed_by": h.placed_by, "placed_at": h.placed_at})
        return
    click.echo(h.ref)
    info(f"已冻结 {h.ref}：在解除冻结前不得销毁")


@hold_group.command("remove")
@click.argument("ref")
@click.option("--reason", required=True, help="解除原因（必填，记入审计日志）。")
@click.pass_context
def hold_remove_cmd(ctx: click.Context, ref: str, reason: str) -> None:
    """解除一件档案的冻结。

    \b
    示例：
      sgz hold remove Z001-WS·2015-D10-FW-0003 --reason 投诉已办结
    """
    arc = open_archive(ctx)
    h = arc.holds.remove(ref, reason=reason)
    click.echo(h.ref)
    info(f"已解除 {h.ref} 的冻结")


@hold_group.command("list")
@json_option
@click.pass_context
def hold_list_cmd(ctx: click.Context, as_json: bool) -> None:
    """列出冻结中的档案。

    \b
    示例：
      sgz hold list --json
    """
    list_objects(ctx, as_json, lambda arc: arc.holds.list(), [
        col("档号", "ref"), col("原因", "reason"), col("设置人", "placed_by"),
        col("设置时间", "placed_at", time=True)], total="共 {n} 件冻结中")


# ---------------------------------------------------------------------- disposal
@click.group("disposal")
def disposal_group() -> None:
    """鉴定销毁：提出（生成并归档销毁清册）→ 站长批准 → 两名以上监销人在场执行。

    \b
    示例：
      sgz disposal propose --due --as-of 2026-12-31
      sgz disposal propose Z001-WS·2020-D10-XZ-0004 --appraisal-note "经鉴定无保存价值，提前销毁"
      sgz disposal approve XH-2026-0001
      sgz disposal execute XH-2026-0001 --witness "李四（副站长）" --witness "赵敏（街道社会事务办）"
      sgz disposal list
      sgz disposal show XH-2026-0001
    """


def _batch_out(b: Any, as_json: bool, note: str) -> None:
    """A disposal step's result: the batch as JSON, or its id on stdout and `note` on stderr."""
    if as_json:
        emit_json(b.as_dict())
        return
    click.echo(b.id)
    info(note)


@disposal_group.command("propose")
@click.argument("refs", nargs=-1)
@click.option("--due", is_flag=True, help="列入全部到期、未冻结、未列入其他批次的档案。")
@click.option("--as-of", help="与 --due 同用：截至日期（默认今天）。")
@click.option("--appraisal-note", default="", help="鉴定意见；列入未到期档案时必填（档案法实施条例第二十四条）。")
@json_option
@click.pass_context
def propose_cmd(ctx: click.Context, refs: tuple[str, ...], due: bool, as_of: str | None,
                appraisal_note: str, as_json: bool) -> None:
    """提出销毁：建立销毁批次（XH-年度-序号），生成销毁清册并永久归档。不会删除任何档案。

    \b
    示例：
      sgz disposal propose --due
      sgz disposal propose Z001-WS·2015-D10-XZ-0003 Z001-WS·2015-D10-XZ-0005
    """
    arc = open_archive(ctx)
    b = arc.disposal.propose(list(refs) or None, due=due, as_of=_as_of(as_of),
                             appraisal_note=appraisal_note)
    _batch_out(b, as_json,
               f"销毁批次 {b.id}：{len(b.items)} 件；销毁清册已归档为 {b.register_ref}。"
               "请站长审批：sgz disposal approve " + b.id)


@disposal_group.command("approve")
@click.argument("batch")
@json_option
@click.pass_context
def approve_cmd(ctx: click.Context, batch: str, as_json: bool) -> None:
    """站长批准销毁批次。

    \b
    示例：
      sgz disposal approve XH-2026-0001
    """
    arc = open_archive(ctx)
    b = arc.disposal.approve(batch)
    _batch_out(b, as_json, f"已批准销毁批次 {b.id}（{len(b.items)} 件）")


@disposal_group.command("execute")
@click.argument("batch")
@click.option("--witness", "witnesses", multiple=True,
              help="监销人（可重复；不少于两人，不得为执行人本人）。")
@json_option
@click.pass_context
def execute_cmd(ctx: click.Context, batch: str, witnesses: tuple[str, ...], as_json: bool) -> None:
    """执行已批准的销毁：销毁密钥、删除密文、轮换密钥、签发审计检查点。中断后重新运行即可续做。

    \b
    示例：
      sgz disposal execute XH-2026-0001 --witness "李四（副站长）" --witness "赵敏（街道社会事务办）"
    目录中保留档号、题名、日期等著录信息；内容永久不可恢复。
    """
    arc = open_archive(ctx)
    b = arc.disposal.execute(batch, witnesses=list(witnesses))
    _batch_out(b, as_json,
               f"销毁批次 {b.id} 已执行：{len(b.items)} 件已销毁（加密粉碎），审计检查点已签发")


@disposal_group.command("list")
@click.option("--state", type=click.Choice(["proposed", "approved", "executing", "executed"]),
              help="按状态筛选。")
@json_option
@click.pass_context
def list_cmd(ctx: click.Context, state: str | None, as_json: bool) -> None:
    """列出销毁批次。

    \b
    示例：
      sgz disposal list --state approved
    """
    list_objects(ctx, as_json, lambda arc: arc.disposal.list(state), [
        col("批次", "id"), col("状态", "state_label", lambda b: b.as_dict()["state_label"]),
        col("件数", "items", lambda b: len(b.items)), col("销毁清册", "register_ref"),
        col("提出人", "proposed_by"), col("批准人", "approved_by"),
        col("执行时间", "executed_at", time=True)], as_dict=lambda b: b.as_dict())


@disposal_group.command("show")
@click.argument("batch")
@json_option
@click.pass_context
def show_cmd(ctx: click.Context, batch: str, as_json: bool) -> None:
    """显示一个销毁批次及其档案清单。

    \b
    示例：
      sgz disposal show XH-2026-0001
    """
    arc = open_archive(ctx)
    b = arc.disposal.show(batch)
    if not show_object(as_json, b.as_dict(), [
        col("批次", "id"), col("状态", "state_label"), col("销毁清册", "register_ref"),
        col("鉴定意见", "appraisal_note"), col("提出", "proposed_by"), col("批准", "approved_by"),
        col("执行", "executed_by"), col("执行时间", "executed_at", time=True)]):
        return
    from archive.docgen.lookup import period_name

    click.echo(f"监销人：{display('、'.join(b.witnesses)) or '—'}")
    emit_table(["档号", "题名", "年度", "应保管期限", "实际保管期限", "状态"],
               [[i.ref, i.title, i.year, period_name(i.retention_required),
                 period_name(i.retention_actual), "已销毁" if i.state == "destroyed" else "待销毁"]
                for i in b.items])
