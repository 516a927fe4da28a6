"""`sgz check`, `backup`, `backup verify`, `restore`, `keys rotate`: parse, call one method, format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from archive.cli.common import emit_json, home_path, info, json_option, open_archive
from archive.clock import station_text
from archive.errors import IntegrityError
from archive.safetext import display


@click.command("check")
@click.option("--read-data", is_flag=True, help="逐个重新计算对象哈希，并解密核对指纹（较慢，记入审计）。")
@click.option("--subset", help="只抽查一部分对象，如 10%（须与 --read-data 同用）。")
@click.option("--seed", type=int, help="抽样的随机种子（便于复查同一批对象）。")
@click.option("--repair", is_flag=True, help="删除不属于任何档案的孤立对象文件。")
@json_option
@click.pass_context
def check_cmd(ctx: click.Context, read_data: bool, subset: str | None, seed: int | None,
              repair: bool, as_json: bool) -> None:
    """完整性检查：档案目录、对象文件、密钥、暂存区、密钥环、审计日志、全文索引。

    发现问题时逐条说明原因和处理办法，退出码 8；没有问题时退出码 0。

    另有提示（不算问题）：例如本机交换区未加密，解锁期间解密的内容可能被写入磁盘。

    \b
    示例：
      sgz check
      sgz check --read-data
      sgz check --read-data --subset 10%
      sgz check --repair
    """
    import random

    from archive.errors import UsageError
    from archive.ops.check import parse_subset

    if subset and not read_data:
        raise UsageError("--subset 须与 --read-data 同用")
    frac = parse_subset(subset)
    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    arc = open_archive(ctx)
    rep = arc.maintenance.check(read_data=read_data, subset=frac, rng=rng, repair=repair)
    if as_json:
        emit_json(rep.as_dict())
    else:
        click.echo(f"档案 {rep.records} 件，组件 {rep.components} 个，对象文件 {rep.object_files} 个；"
                   f"审计日志 {rep.audit_entries} 条")
        if read_data:
            click.echo(f"已解密核对 {rep.read} 个对象，共 {rep.read_bytes} 字节")
        for line in rep.repaired:
            click.echo(f"已修复：{display(line)}")
        for p in rep.problems:
            click.echo(f"问题：{display(p.message)}")
            click.echo(f"  处理：{p.fix}")
        for n in rep.notes:
            info(f"提示：{n}")
        click.echo("结果：无问题" if rep.ok else f"结果：发现 {len(rep.problems)} 个问题")
    if not rep.ok:  # integrity failure (exit 8); the report above says what to do
        raise IntegrityError(f"完整性检查发现 {len(rep.problems)} 个问题（见上）")


class _DefaultGroup(click.Group):
    """`sgz backup DEST` runs the backup; `sgz backup verify DEST` is a sub-command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


@click.group("backup", cls=_DefaultGroup)
def backup_group() -> None:
    """备份档案库到另一个位置（不含全文索引），并可校验备份。

    备份在 DEST 下分为 data/（加密的档案与审计日志）和 keys/（密钥槽、密钥环），
    MANIFEST.json 列出每个文件的大小和 SHA-256。建议把 keys/ 与 data/ 分开保管。

    \b
    示例：
      sgz backup /media/usb/sgz-备份-20261128
      sgz backup verify /media/usb/sgz-备份-20261128
    """


@backup_group.command("create", hidden=True)
@click.argument("dest", type=click.Path(file_okay=False))
@json_option
@click.pass_context
def backup_create_cmd(ctx: click.Context, dest: str, as_json: bool) -> None:
    """备份到新文件夹 DEST（须不存在或为空）。

    \b
    示例：
      sgz backup /media/usb/sgz-2026-11-28
      sgz backup create /media/usb/sgz-2026-11-28 --json
    """
    arc = open_archive(ctx)
    rep = arc.maintenance.backup(dest, warn=lambda m: click.echo(f"警告：{m}", err=True))
    if as_json:
        emit_json({"id": rep.dest, **rep.as_dict()})
        return
    click.echo(rep.dest)
    info(f"已备份 {rep.files} 个文件（{rep.objects} 个档案对象，共 {rep.bytes} 字节）到 {rep.dest}")
    info("请运行 sgz backup verify 校验，并把 keys/ 与 data/ 分开保管。")


@backup_group.command("verify")
@click.argument("dest", type=click.Path(file_okay=False))
@json_option
def backup_verify_cmd(dest: str, as_json: bool) -> None:
    """按清单逐个校验备份中的文件，并校验其中的审计日志（不需要口令）。

    \b
    示例：
      sgz backup verify /media/usb/sgz-备份-20261128
    """
    from archive.app import Archive

    rep = Archive.verify_backup(dest)
    if as_json:
        emit_json(rep.as_dict())
    else:
        for p in rep.problems:
            click.echo(f"问题：{display(str(p))}")
        if rep.ok:
            click.echo(f"完好：{rep.files} 个文件（{rep.objects} 个档案对象），审计日志 {rep.audit_entries} 条，"
                       f"备份时间 {station_text(rep.created, seconds=True)}")
        else:
            click.echo(f"损坏：发现 {len(rep.problems)} 个问题；请换用另一份备份")
    if not rep.ok:
        raise IntegrityError(f"备份已损坏：发现 {len(rep.problems)} 个问题（见上）")


@click.command("restore")
@click.argument("src", type=click.Path(file_okay=False, exists=True))
@click.option("--home", "new_home", type=click.Path(file_okay=False),
              help="恢复到的新站点目录（须不存在或为空）；默认取全局 --home / SGZ_HOME。")
@json_option
@click.pass_context
def restore_cmd(ctx: click.Context, src: str, new_home: str | None, as_json: bool) -> None:
    """从备份恢复到一个新的站点目录，并用你的口令解锁、完整解密核对一遍。

    用户名和口令取 SGZ_USER / SGZ_PASSPHRASE（SGZ_USER=recovery 时用恢复码）。
    恢复先写入“目录.partial”，全部核对通过并重建全文索引后才改名，中途失败不会留下半个站点。

    \b
    示例：
      SGZ_USER=zhangsan sgz restore /media/usb/sgz-备份-20261128 --home D:/社工站档案
    """
    from archive.app import Archive, utc_now
    from archive.cli.common import (
        RECOVERY_USER,
        current_user,
        kdf_work_factor,
        lock_timeout,
        read_passphrase,
    )

    target = Path(new_home) if new_home else home_path(ctx)
    user = current_user()
    secret = read_passphrase("恢复码" if user == RECOVERY_USER else "口令")
    kw: dict[str, Any] = {"lock_timeout": lock_timeout(), "kdf_work_factor": kdf_work_factor()}

    def unlock(root: Path) -> Archive:
        if user == RECOVERY_USER:
            return Archive.unlock_recovery(root, code=secret, **kw)
        return Archive.unlock(root, user=user, passphrase=secret, **kw)

    def progress(done: int, total: int) -> None:
        info(f"重建全文索引：已索引 {done}/{total}")

    rep = Archive.restore(src, target, unlock=unlock, clock=utc_now, progress=progress)
    if as_json:
        emit_json(rep.as_dict())
        return
    click.echo(rep.home)
    if rep.check is None:
        info(f"已恢复 {rep.files} 个文件到 {rep.home}。这是旧格式（格式 1）的备份："
             f"请在该目录运行 sgz upgrade 升级后再使用。")
        return
    info(f"已恢复 {rep.files} 个文件到 {rep.home}；解密核对 {rep.check.read} 个对象，无问题。")
    info(f"全文索引已重建：{rep.indexed} 个文档。")


@click.group("keys")
def keys_group() -> None:
    """密钥管理。

    \b
    示例：
      sgz keys rotate
    """


@keys_group.command("rotate")
@click.option("--rewrap", is_flag=True,
              help="同时把已归档的全部档案改用新密钥保护，并销毁旧密钥。")
@json_option
@click.pass_context
def rotate_cmd(ctx: click.Context, rewrap: bool, as_json: bool) -> None:
    """更换各类档案的密钥（仅站长）：生成新一代密钥，只交给现有的有权人员。

    加 --rewrap 时，已归档的档案也改用新密钥，旧密钥随即销毁：此后已离开的人保留的旧密钥
    对新复制的档案库完全无用。中途断电或被中断时，再运行一次即可。

    \b
    示例：
      sgz keys rotate
      sgz keys rotate --rewrap
    """
    arc = open_archive(ctx)
    epoch = arc.keys.rotate(rewrap=rewrap)
    if as_json:
        emit_json({"id": epoch, "epoch": epoch, "rewrap": rewrap})
    else:
        click.echo(epoch)
        info(f"已更换密钥（第 {epoch} 代）" + ("，全部档案已改用新密钥，旧密钥已销毁。" if rewrap
                                          else "；已归档的档案仍用旧密钥，可加 --rewrap 一并更换。"))
