"""`sgz paper place|lend|return|resolve|overdue|history`: paper originals and their loans."""

from __future__ import annotations

from typing import Any

import click

from archive.cli.common import emit_json, emit_table, info, json_option, open_archive


@click.group("paper")
def paper_group() -> None:
    """纸质原件：盒号与存放位置、内部借阅登记（附件2 四(四)3）。

    \b
    示例：
      sgz paper place Z001-WS·2026-D30-FW-0001 Z001-WS·2026-D30-FW-0002 --box 1 --location "档案室 2号柜 第3层"
      sgz paper lend Z001-WS·2026-D30-FW-0001 --borrower 李四 --purpose 核对台账 --due 2026-12-10
      sgz paper return 1 --pages 12 --intact
      sgz paper overdue
    """


def _loans(rows: list[dict[str, Any]]) -> None:
    emit_table(["编号", "档号", "借阅人", "目的", "借出", "应还", "归还", "检查"], [
        [r["id"], r["ref"], r["borrower"], r["purpose"], r["lent_at_text"], r["due_at_text"],
         r["returned_at_text"] or "未还",
         "" if r["returned_at"] is None else (
             "完好" if not r["discrepancy"] else
             (f"有问题，已处理：{r['resolution']}" if r["resolved_at"] else f"有问题：{r['return_note']}"))]
        for r in rows])


@paper_group.command("place")
@click.argument("refs", nargs=-1, required=True, metavar="档号...")
@click.option("--box", "box_no", default="", help="盒号。")
@click.option("--location", default="", help="存放位置，如“档案室 2号柜 第3层”。")
@click.pass_context
def place_cmd(ctx: click.Context, refs: tuple[str, ...], box_no: str, location: str) -> None:
    """登记纸质原件的盒号和（或）存放位置。

    \b
    示例：
      sgz paper place Z001-WS·2026-D30-FW-0001 --box 1 --location "档案室 2号柜 第3层"
    """
    arc = open_archive(ctx)
    done = arc.paper.place(list(refs), box_no=box_no, location=location)
    info(f"已登记 {len(done)} 件档案的" + "、".join(
        x for x, v in (("盒号", box_no), ("存放位置", location)) if v))


@paper_group.command("lend")
@click.argument("ref", metavar="档号")
@click.option("--borrower", required=True, help="借阅人（本站工作人员）。")
@click.option("--purpose", required=True, help="借阅目的。")
@click.option("--due", required=True, help="归还期限（日期，如 2026-12-10，当日内归还）。")
@click.option("--pages", type=click.IntRange(min=1), help="借出时清点的页数（默认取著录页数）。")
@json_option
@click.pass_context
def lend_cmd(ctx: click.Context, ref: str, borrower: str, purpose: str, due: str,
             pages: int | None, as_json: bool) -> None:
    """借出纸质原件（珍贵档案不外借），打印借阅编号。

    \b
    示例：
      sgz paper lend Z001-WS·2026-D30-FW-0001 --borrower 李四 --purpose 核对台账 --due 2026-12-10 --pages 12
    """
    arc = open_archive(ctx)
    loan = arc.paper.lend(ref, borrower=borrower, purpose=purpose, due=due, pages=pages)
    if as_json:
        emit_json(loan)
        return
    click.echo(loan["id"])
    info(f"已登记借出：{loan['ref']}，借阅人 {loan['borrower']}，应于 {loan['due_at_text']} 前归还")


@paper_group.command("return")
@click.argument("loan_id", type=int, metavar="借阅编号")
@click.option("--pages", type=click.IntRange(min=0), required=True, help="归还时清点的页数。")
@click.option("--intact/--damaged", default=None, help="是否完好（无破损、涂改、抽换）。必选其一。")
@click.option("--note", default="", help="检查说明（页数不符或有损坏时必填）。")
@json_option
@click.pass_context
def return_cmd(ctx: click.Context, loan_id: int, pages: int, intact: bool | None, note: str,
               as_json: bool) -> None:
    """登记归还：清点页数并检查是否完好；发现问题时列入待处理并提请站长关注。

    \b
    示例：
      sgz paper return 1 --pages 12 --intact
      sgz paper return 2 --pages 11 --damaged --note 缺第5页
    """
    if intact is None:
        raise click.UsageError("请用 --intact 或 --damaged 说明归还检查的结果")
    arc = open_archive(ctx)
    loan = arc.paper.return_(loan_id, pages=pages, intact=intact, note=note)
    if as_json:
        emit_json(loan)
        return
    if loan["discrepancy"]:
        info(f"已登记归还，但检查发现问题：{loan['return_note']}；已列入待处理，请站长处理"
             f"（sgz paper resolve {loan_id}）")
    else:
        info(f"已登记归还：{loan['ref']}，清点 {pages} 页，完好")


@paper_group.command("resolve")
@click.argument("loan_id", type=int, metavar="借阅编号")
@click.option("--resolution", required=True, help="处理结果。")
@click.pass_context
def resolve_cmd(ctx: click.Context, loan_id: int, resolution: str) -> None:
    """站长登记归还问题的处理结果。

    \b
    示例：
      sgz paper resolve 2 --resolution 已找回第5页并归位
    """
    arc = open_archive(ctx)
    loan = arc.paper.resolve(loan_id, resolution)
    info(f"已登记处理结果：{loan['ref']}")


@paper_group.command("overdue")
@json_option
@click.pass_context
def overdue_cmd(ctx: click.Context, as_json: bool) -> None:
    """逾期未还的借阅，以及归还时发现问题、尚待处理的借阅。

    \b
    示例：
      sgz paper overdue
    """
    arc = open_archive(ctx)
    data = arc.paper.overdue()
    if as_json:
        emit_json(data)
        return
    click.echo(f"逾期未还：{len(data['overdue'])} 件")
    if data["overdue"]:
        _loans(data["overdue"])
    click.echo(f"归还问题待处理：{len(data['discrepancies'])} 件")
    if data["discrepancies"]:
        _loans(data["discrepancies"])


@paper_group.command("history")
@click.argument("ref", required=False, metavar="[档号]")
@json_option
@click.pass_context
def history_cmd(ctx: click.Context, ref: str | None, as_json: bool) -> None:
    """借阅登记簿（全部，或一件档案的）。

    \b
    示例：
      sgz paper history
      sgz paper history Z001-WS·2026-D30-FW-0001
    """
    arc = open_archive(ctx)
    rows = arc.paper.history(ref)
    if as_json:
        emit_json(rows)
        return
    _loans(rows)
