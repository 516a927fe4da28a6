"""Generate docs/cli.md from click's own `--help` text for every command and sub-command.

The click tree is walked generically (`list_commands` / `get_command`), so commands added,
renamed or regrouped appear without touching this file. tests/test_docs.py regenerates the text
in memory and fails when docs/cli.md is stale.

    python -m archive.cli.docs            # rewrite docs/cli.md (what `make docs` runs)
    python -m archive.cli.docs --check    # exit 1 if docs/cli.md is stale
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import click

PROG = "sgz"
DEFAULT_OUTPUT = Path("docs") / "cli.md"
FIX_COMMAND = "make docs"  # or: python -m archive.cli.docs
FALLBACK_WIDTH = 80


def _context(cmd: click.Command, name: str, parent: click.Context | None) -> click.Context:
    """A context like the one `sgz … --help` builds, with a fixed width (no terminal lookup)."""
    settings = dict(cmd.context_settings)
    if parent is None:
        # What a terminal at least as wide as max_content_width shows (click subtracts 2).
        settings["terminal_width"] = int(settings.get("max_content_width") or FALLBACK_WIDTH) - 2
    return click.Context(cmd, info_name=name, parent=parent, **settings)


def walk(root: click.Command, prog: str = PROG) -> Iterator[tuple[list[str], str]]:
    """Yield (command path, help text) for the root and every command below it that is not
    hidden (click's own "keep out of the docs" flag, e.g. the default `backup create`),
    depth first, sub-commands in the order the group lists them."""

    def visit(cmd: click.Command, path: list[str],
              parent: click.Context | None) -> Iterator[tuple[list[str], str]]:
        ctx = _context(cmd, path[-1], parent)
        yield path, cmd.get_help(ctx)
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is None or sub.hidden:
                    continue
                yield from visit(sub, [*path, name], ctx)

    yield from visit(root, [prog], None)


def render(root: click.Command | None = None, prog: str = PROG) -> str:
    """The whole of docs/cli.md as text."""
    if root is None:
        from archive.cli.main import cli

        root = cli
    out = [
        "# 命令行参考",
        "",
        f"<!-- 本文件由 `{FIX_COMMAND}`（即 `python -m archive.cli.docs`）根据各命令的 --help "
        "自动生成，请勿手工修改。 -->",
        "",
        f"以下是 `{prog}` 每个命令和子命令的 `--help` 输出。",
    ]
    for path, text in walk(root, prog):
        level = min(len(path) + 1, 6)
        out += ["", f"{'#' * level} {' '.join(path)}", "", "```text", text.rstrip(), "```"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m archive.cli.docs",
                                     description="根据 --help 生成命令行参考文档。")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"输出文件（默认 {DEFAULT_OUTPUT}）")
    parser.add_argument("--check", action="store_true",
                        help="只检查文件是否最新；过期时返回 1")
    args = parser.parse_args(argv)
    text = render()
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != text:
            print(f"{args.output} 已过期，请运行 `{FIX_COMMAND}` 重新生成。", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"已更新 {args.output}")
    else:
        print(f"{args.output} 已是最新")
    return 0


if __name__ == "__main__":
    sys.exit(main())
