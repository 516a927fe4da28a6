"""`sgz user add|list|remove|passwd`: staff accounts; logging in = unlocking your own keyslot."""

from __future__ import annotations

import click

from archive.cli.common import (
    col,
    emit_json,
    info,
    json_option,
    list_objects,
    open_archive,
    read_new_passphrase,
)
from archive.safetext import display as shown


@click.group("user")
def user_group() -> None:
    """管理工作人员账户及其角色（仅站长）。

    \b
    角色：head 站长、deputy 副站长、archivist 档案管理员、social_worker 社工、
          supervisor 督导、authority 主管部门（民政局）。
    """


@user_group.command("add")
@click.argument("name")
@click.option("--role", required=True, help="角色代码或中文名，如 archivist 或 档案管理员。")
@click.option("--display", default="", help="显示名（如真实姓名）。")
@click.option("--new-passphrase-file", type=click.Path(dir_okay=False),
              help="从文件读取新用户的口令（否则取 SGZ_NEW_PASSPHRASE，或在终端输入两次）。")
@json_option
@click.pass_context
def user_add(ctx: click.Context, name: str, role: str, display: str,
             new_passphrase_file: str | None, as_json: bool) -> None:
    """添加用户并为其建立密钥槽。

    \b
    示例：
      SGZ_NEW_PASSPHRASE_FILE=... sgz user add lisi --role archivist
    """
    arc = open_archive(ctx)
    u = arc.users.add(name, role, read_new_passphrase(new_passphrase_file), display=display)
    if as_json:
        emit_json({"id": u.name, "role": u.role})
    else:
        click.echo(u.name)
        info(f"已添加用户 {shown(u.name)}（{u.role_name}）")


@user_group.command("list")
@json_option
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """列出在用的用户。

    \b
    示例：
      sgz user list --json
    """
    list_objects(ctx, as_json, lambda arc: arc.users.list(), [
        col("用户名", "name"), col("角色", "role", lambda u: u.role_name), col("显示名", "display"),
        col("添加时间", "created_at", time=True)],
        as_dict=lambda u: {"name": u.name, "role": u.role, "display": u.display,
                           "created_at": u.created_at})


@user_group.command("remove")
@click.argument("name")
@click.pass_context
def user_remove(ctx: click.Context, name: str) -> None:
    """移除用户：删除其密钥槽，并轮换她持有的各分区密钥（此后归档的一切她都打不开）。

    旧档案仍用旧代密钥封装；如需让她保留的旧密钥彻底失效，再运行 sgz keys rotate --rewrap。

    \b
    示例：
      sgz user remove lisi
    """
    arc = open_archive(ctx)
    arc.users.remove(name)
    info(f"已移除用户 {name}，其密钥槽已删除，其持有的分区已轮换密钥。"
         "建议再运行 sgz keys rotate --rewrap")


@user_group.command("role")
@click.argument("name")
@click.argument("role")
@click.pass_context
def user_role(ctx: click.Context, name: str, role: str) -> None:
    """改变用户的角色（仅站长）：授予新角色的分区密钥，轮换她离开的分区。

    \b
    示例：
      sgz user role lisi archivist
      sgz user role lisi 督导
    """
    arc = open_archive(ctx)
    u = arc.users.role(name, role)
    info(f"已将 {name} 的角色改为{u.role_name}")


@user_group.command("passwd")
@click.argument("name", required=False)
@click.option("--new-passphrase-file", type=click.Path(dir_okay=False),
              help="从文件读取新口令（否则取 SGZ_NEW_PASSPHRASE，或在终端输入两次）。")
@click.pass_context
def user_passwd(ctx: click.Context, name: str | None, new_passphrase_file: str | None) -> None:
    """修改口令（默认修改自己的；站长可重置他人的）。

    \b
    示例：
      sgz user passwd                 # 修改自己的口令（终端中输入两次）
      sgz user passwd lisi --new-passphrase-file 新口令.txt
    """
    arc = open_archive(ctx)
    arc.users.passwd(read_new_passphrase(new_passphrase_file), user=name)
    info(f"已修改 {name or arc.kernel.user.name} 的口令")
