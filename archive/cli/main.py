"""Entry point of `sgz`: lazy command loading and the one place errors become exit codes.

Sub-command modules are imported only when their command runs, so `sgz --help` stays fast
(see bench/bench_cold_start.py).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

click.INT.name = "整数"  # shown in help metavars and in "… 不是有效的整数"
click.FLOAT.name = "小数"
click.STRING.name = "文本"

# command name -> (module, attribute, one-line Chinese help shown by `sgz --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("archive.cli.vault_cmds", "init_cmd", "新建站点档案库（打印一次恢复码）"),
    "user": ("archive.cli.user_cmds", "user_group", "管理工作人员及其角色"),
    "file": ("archive.cli.vault_cmds", "file_cmd", "归档文件，打印档号"),
    "show": ("archive.cli.vault_cmds", "show_cmd", "显示一件档案的著录信息"),
    "ls": ("archive.cli.vault_cmds", "ls_cmd", "列出档案（归档文件目录）"),
    "get": ("archive.cli.vault_cmds", "get_cmd", "解密导出一件档案（须说明事由，记入审计）"),
    "gen": ("archive.cli.gen_cmds", "gen_cmd", "按模板生成文书（制度、协议、表单、牌匾）"),
    "templates": ("archive.cli.gen_cmds", "templates_group", "列出、查看、检查文书模板，生成空白填写表"),
    "doctor": ("archive.cli.gen_cmds", "doctor_cmd", "检查本机环境（公文字体）"),
    "search": ("archive.cli.search_cmds", "search_cmd", "全文检索（只显示有权查看的档案）"),
    "index": ("archive.cli.search_cmds", "index_group", "全文索引：重建、状态"),
    "audit": ("archive.cli.audit_cmds", "audit_group", "审计日志：查看、校验、签发检查点"),
    "check": ("archive.cli.ops_cmds", "check_cmd", "完整性检查（目录、对象、密钥、索引）"),
    "backup": ("archive.cli.ops_cmds", "backup_group", "备份档案库（不含索引）并校验备份"),
    "restore": ("archive.cli.ops_cmds", "restore_cmd", "从备份恢复到新的站点目录"),
    "keys": ("archive.cli.ops_cmds", "keys_group", "密钥管理：更换各类档案的密钥"),
    "upgrade": ("archive.cli.upgrade_cmd", "upgrade_cmd", "把旧格式站点档案库升级到格式 2"),
    "access": ("archive.cli.access_cmds", "access_group", "外单位查阅：登记、审批、查阅件、复制件"),
    "subject": ("archive.cli.access_cmds", "subject_group", "服务对象权利：导出本人资料"),
    "refer": ("archive.cli.access_cmds", "refer_cmd", "服务转介导出（须已存档转介同意书）"),
    "export": ("archive.cli.access_cmds", "export_cmd", "匿名化导出（上报用人单位领导）"),
    "retention": ("archive.cli.retention_cmds", "retention_group", "保管期限：到期档案清单"),
    "hold": ("archive.cli.retention_cmds", "hold_group", "冻结/解除冻结（冻结中不得销毁）"),
    "disposal": ("archive.cli.retention_cmds", "disposal_group", "鉴定销毁：提出、批准、执行"),
    "serve": ("archive.cli.serve_cmds", "serve_cmd", "启动网页界面（只在本机 127.0.0.1，浏览器使用）"),
    "stamp": ("archive.cli.print_cmds", "stamp_cmd", "制作加盖归档章的长期保存版本（PDF/A）"),
    "print": ("archive.cli.print_cmds", "print_cmd", "打印归档文件目录、备考表、盒脊"),
    "paper": ("archive.cli.paper_cmds", "paper_group", "纸质原件：盒号、存放位置、借阅登记"),
    "transfer": ("archive.cli.transfer_cmds", "transfer_group", "移交进馆：导出移交包、四性检测"),
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        return self._load(entry)

    @staticmethod
    def _load(entry: tuple[str, str, str]) -> click.Command:
        module = importlib.import_module(entry[0])
        cmd = getattr(module, entry[1])
        assert isinstance(cmd, click.Command)
        return cmd

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        """Like click's, but a mistyped command gets a Chinese error with close matches."""
        name = args[0] if args else ""
        if name and name not in COMMANDS and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=3, cutoff=0.6)
            hint = f"。是否想用：{'、'.join(close)}？" if close else ""
            raise click.UsageError(f"没有命令“{name}”{hint}（sgz --help 列出全部命令）", ctx)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("命令"):
            formatter.write_dl(rows)


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.option("--home", type=click.Path(file_okay=False), envvar="SGZ_HOME",
              help="站点目录（含 station.toml、vault/、indexes/）；默认取 SGZ_HOME，否则为当前目录。")
@click.option("--debug", is_flag=True, help="出错时显示完整调用栈。")
@click.version_option(package_name="sgz", message="sgz %(version)s")
@click.pass_context
def cli(ctx: click.Context, home: str | None, debug: bool) -> None:
    """sgz —— 乡镇（街道）社会工作服务站档案库与文书生成。

    \b
    示例：
      sgz init --station station.toml --user zhangsan --role head
      SGZ_USER=zhangsan sgz file 签字扫描件.pdf --category 服务 --title 入户走访记录
      sgz search 临时救助
    """
    ctx.ensure_object(dict)
    ctx.obj["home"] = home
    ctx.obj["debug"] = debug


INTERRUPTED = "已中断（Ctrl-C）。中断前已完成的操作都已保存，未完成的没有写入。"


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; map library errors to `错误：…` and their exit code (DESIGN §8)."""
    from archive.errors import ArchiveError
    from archive.host.memory import forbid_core_dumps

    forbid_core_dumps()  # before a passphrase is read: a crash writes no memory to disk
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        rv = cli.main(args=argv, prog_name="sgz", standalone_mode=False)
        if isinstance(rv, int) and rv:
            sys.exit(rv)  # ctx.exit(n) inside a command
        return rv
    except ArchiveError as exc:
        if debug:
            raise
        click.echo(f"错误：{exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        # click turns Ctrl-C into Abort: that is an interruption (130), not a usage error
        if isinstance(exc.__context__, KeyboardInterrupt):
            click.echo(INTERRUPTED, err=True)
            sys.exit(130)
        click.echo("已取消。", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo(INTERRUPTED, err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
    sys.exit(0)
