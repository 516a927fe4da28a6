"""Docs parity (after sqlite-utils' test_docs): every command has Chinese help with an example,
every top-level command appears in the README or docs/, and the README's Quick start is the
two commands the project promises."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from archive.cli.main import COMMANDS, cli

REPO = Path(__file__).resolve().parents[1]


def _leaves() -> list[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    out: list[tuple[str, click.Command]] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name])
        else:
            out.append((" ".join(path), cmd))

    walk(cli, [])
    return out


@pytest.mark.parametrize("path,cmd", _leaves(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_has_chinese_help_with_example(path: str, cmd: click.Command) -> None:
    text = cmd.help or ""
    assert re.search(r"[\u4e00-\u9fff]", text), f"sgz {path}: help is not in Chinese"
    assert "示例" in text, f"sgz {path}: help has no 示例"
    for param in cmd.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"sgz {path} {param.opts[0]}: option has no help"


def test_every_command_is_documented() -> None:
    docs = (REPO / "README.md").read_text(encoding="utf-8") + "".join(
        p.read_text(encoding="utf-8") for p in (REPO / "docs").rglob("*.md"))
    missing = [name for name in COMMANDS if f"sgz {name}" not in docs]
    assert missing == []


def test_quick_start_is_two_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("## 快速开始", 1)[1].split("```", 2)[1]
    assert [ln.strip() for ln in block.strip().splitlines()] == ["make demo", "make test"]
