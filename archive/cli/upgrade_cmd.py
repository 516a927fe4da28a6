"""`sgz upgrade`: convert a format-1 station home to vault format 2 (parse, call, format)."""

from __future__ import annotations

import click

from archive.cli.common import (
    RECOVERY_USER,
    current_user,
    emit_json,
    home_path,
    info,
    kdf_work_factor,
    read_passphrase,
)


@click.command("upgrade")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.pass_context
def upgrade_cmd(ctx: click.Context, as_json: bool) -> None:
    """把旧格式（格式 1）的站点档案库就地升级到格式 2（由站长或恢复码持有人执行）。

    升级后每个用户只持有其角色应有的密钥；打印新的恢复码（只显示这一次，旧恢复码作废）。
    其他用户口令不变，首次登录时自动领取新密钥。中途断电或被中断时，再运行一次即可续做。

    \b
    示例：
      SGZ_USER=zhangsan sgz upgrade
      SGZ_USER=recovery sgz upgrade      # 用恢复码升级
    """
    from archive.app import upgrade_audit_hook
    from archive.vault.upgrade import upgrade

    root = home_path(ctx)
    user = current_user()
    secret = read_passphrase("恢复码" if user == RECOVERY_USER else "口令")
    hook = upgrade_audit_hook(root)
    if user == RECOVERY_USER:
        res = upgrade(root, recovery_code=secret, work_factor=kdf_work_factor(), on_committed=hook)
    else:
        res = upgrade(root, user=user, passphrase=secret, work_factor=kdf_work_factor(),
                      on_committed=hook)
    if as_json:
        emit_json({"id": "format-2", "records": res.records, "objects": res.objects,
                   "recovery_code": res.recovery_code, "pending_users": res.pending})
        return
    if res.recovery_code:
        click.echo(res.recovery_code)
        info("上面是新的恢复码，只显示这一次：请打印后封存；旧恢复码已作废。")
    else:
        info("升级已完成，但新的恢复码未能显示（上次运行在收尾时中断）："
             "请由站长登录后重新生成恢复码。")
    info(f"已升级到格式 2：{res.records} 件档案、{res.objects} 个对象。"
         + (f"以下用户首次登录时将自动领取新密钥：{'、'.join(res.pending)}" if res.pending else ""))
    info("全文索引需重建：sgz index rebuild")
