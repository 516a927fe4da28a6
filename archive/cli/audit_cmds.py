"""`sgz audit log | verify | checkpoint`: read, verify (no key) and sign the audit log."""

from __future__ import annotations

from pathlib import Path

import click

from archive.cli.common import col, emit_json, emit_rows, home_path, info, json_option, open_archive

SEALED = "（详情已加密）"


@click.group("audit")
def audit_group() -> None:
    """审计日志：查看、校验（无需密钥）、签发检查点。

    \b
    示例：
      sgz audit log --since 2026-11-01 --action 导出
      sgz audit verify --checkpoint 县民政局留存.note
      sgz audit checkpoint -o 检查点-20261128.note
    """


def _detail_text(entry: dict[str, object]) -> str:
    if not entry["sealed"]:
        return ""
    detail = entry["detail"]
    if detail is None:
        return SEALED
    assert isinstance(detail, dict)
    from archive.audit.names import detail_text

    return detail_text(detail)


@audit_group.command("log")
@click.option("--since", help="起始时间（北京时间），如 2026-11-01 或 2026-11-01T08:00。")
@click.option("--actor", help="只看某个用户的操作。")
@click.option("--action", help="只看某种操作：代码（如 record.get）或中文名（如 导出）。")
@click.option("--ref", help="只看某件档案（档号）或某个申请号。")
@json_option
@click.pass_context
def log_cmd(ctx: click.Context, since: str | None, actor: str | None, action: str | None,
            ref: str | None, as_json: bool) -> None:
    """查看审计日志（时间为北京时间）。

    站长和主管部门可看到加密的详情（事由、外单位、导出位置等），其他角色显示“（详情已加密）”。
    查看日志本身也记入审计日志。

    \b
    示例：
      sgz audit log
      sgz audit log --since 2026-11-01 --actor lisi
      sgz audit log --action 导出 --json
    """
    from archive.clock import parse_station_time, station_text

    when = parse_station_time(since) if since else None
    arc = open_archive(ctx)
    rows = arc.audit.history(since=when, actor=actor, action=action, ref=ref)
    emit_rows(as_json, rows, [
        col("序号", "seq"), col("时间", "ts", lambda r: station_text(r["ts"], seconds=True)), col("用户", "actor"),
        col("角色", "role", lambda r: _role(r["role"])), col("操作", "action_name"),
        col("档号/申请", "ref", lambda r: r["ref"] or ""), col("详情", "detail", _detail_text)],
        as_dict=lambda r: {**r, "ts": r["ts"].strftime("%Y-%m-%dT%H:%M:%SZ")},
        total="共 {n} 条")


def _role(code: str) -> str:
    from archive.policy.rules import ROLES

    return ROLES.get(code, code)


@audit_group.command("verify")
@click.option("--checkpoint", "checkpoints", multiple=True, type=click.Path(dir_okay=False),
              help="外部保存的检查点文件（可多次指定），核对日志未被截短或分叉。")
@json_option
@click.pass_context
def verify_cmd(ctx: click.Context, checkpoints: tuple[str, ...], as_json: bool) -> None:
    """校验审计日志是否完整（不需要口令或密钥，任何人都可运行）。

    逐行核对哈希链、序号、每条记录操作者的签名和签名检查点；发现问题时指出第一条有问题的记录及原因，
    退出码 8。没有检查点覆盖的末尾记录不算“完整”，会报告其条数。

    \b
    示例：
      sgz audit verify
      sgz audit verify --checkpoint 县民政局留存.note
      sgz --home 备份/data audit verify
    """
    from archive.audit.errors import AuditTampered, TornLine
    from archive.audit.verify import verify_log
    from archive.errors import NotFound
    from archive.kernel.home import HomePaths

    texts = []
    for f in checkpoints:
        try:
            texts.append(Path(f).read_bytes().decode("utf-8"))
        except FileNotFoundError:
            raise NotFound(f"找不到检查点文件 {f}") from None
        except UnicodeDecodeError:
            texts.append(Path(f).read_bytes().decode("utf-8", "replace"))
    audit_dir = HomePaths(home_path(ctx)).audit
    try:
        rep = verify_log(audit_dir, checkpoints=texts)
    except AuditTampered as exc:
        if as_json:
            emit_json({"ok": False, "reason": exc.reason, "line": exc.ref, "message": str(exc)})
        if isinstance(exc, TornLine):
            info("提示：如果是断电或程序被强制结束造成的，下一次任何写入操作会自动截去残行并记录 log.repair。")
        raise
    if as_json:
        emit_json({"ok": True, "complete": rep.complete, "entries": rep.entries,
                   "unproven": rep.unproven, "uncovered": rep.uncovered,
                   "unsigned": rep.unsigned, "legacy": rep.legacy, "upgraded_at": rep.upgraded_at,
                   "checkpoints": rep.checkpoints_checked, "newest_checkpoint": rep.newest_checkpoint,
                   "newest_exported": rep.newest_exported, "root": rep.root.hex(),
                   "vault_id": rep.vault_id, "key": rep.verifier_key, "users": rep.users,
                   "summary": rep.summary_zh()})
        return
    click.echo(rep.summary_zh())
    if rep.unproven:
        info("站长或副站长下次登录时会自动签发检查点；也可运行 sgz audit checkpoint。")
    if rep.uncovered:
        info("可运行 sgz audit checkpoint -o 文件 导出检查点，交主管部门留存。")


@audit_group.command("checkpoint")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="写入文件（默认打印到屏幕）。")
@json_option
@click.pass_context
def checkpoint_cmd(ctx: click.Context, out: str | None, as_json: bool) -> None:
    """签发一个检查点（Ed25519 签名，覆盖到当前的全部日志），可打印或交主管部门留存。

    以后任何人都可用 sgz audit verify --checkpoint 文件 证明日志没有被删改。

    \b
    示例：
      sgz audit checkpoint
      sgz audit checkpoint -o 检查点-20261128.note
    """
    from archive.fs.atomic import write_atomic

    arc = open_archive(ctx)
    cp = arc.audit.checkpoint()
    if out:
        write_atomic(Path(out), cp["note"].encode("utf-8"))
    if as_json:
        emit_json({**cp, "out": out})
    elif out:
        click.echo(out)
        info(f"检查点（共 {cp['size']} 条）已写入 {out}")
    else:
        click.echo(cp["note"], nl=False)
        info(f"检查点覆盖 {cp['size']} 条记录")

