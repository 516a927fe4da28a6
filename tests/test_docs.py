"""Docs parity (after sqlite-utils' test_docs): every command has Chinese help with an example,
every top-level command appears in the README or docs/, and the README's Quick start is the
two commands the project promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from archive.cli import docs as cli_docs
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


def test_cli_reference_is_current() -> None:
    """docs/cli.md is the --help of every command and sub-command. Regenerated in memory in a
    fresh interpreter, as `sgz` runs: click's messages are only Chinese when archive.cli is
    imported before click, which this test process does not guarantee."""
    fix = f"run `{cli_docs.FIX_COMMAND}` (python -m archive.cli.docs) and commit docs/cli.md"
    assert (REPO / "docs" / "cli.md").exists(), f"docs/cli.md is missing: {fix}"
    r = subprocess.run([sys.executable, "-m", "archive.cli.docs", "--check"], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"docs/cli.md is stale: {fix}\n{r.stderr}"


def test_cli_reference_check_detects_staleness(tmp_path: Path) -> None:
    stale = tmp_path / "cli.md"
    stale.write_text("# 命令行参考\n", encoding="utf-8")
    assert cli_docs.main(["--check", "--output", str(stale)]) == 1
    assert cli_docs.main(["--output", str(stale)]) == 0
    assert cli_docs.main(["--check", "--output", str(stale)]) == 0


def test_cli_reference_covers_every_command() -> None:
    """The generator walks the click tree itself: every leaf command has its own section."""
    text = cli_docs.render()
    paths = {" ".join(p) for p, _ in cli_docs.walk(cli)}
    for path, cmd in _leaves():
        if cmd.hidden:  # e.g. `backup create`, reached through the default of `sgz backup`
            continue
        full = f"sgz {path}"
        assert full in paths
        assert re.search(rf"^#+ {re.escape(full)}$", text, re.M), f"no section for {full}"
        assert (cmd.help or "").strip().splitlines()[0] in text


def test_cli_reference_walks_any_group() -> None:
    """A group the generator has never seen is documented too, nested sub-groups included."""

    @click.group()
    def root() -> None:
        """根命令。"""

    @root.group()
    def outer() -> None:
        """外层组。"""

    @outer.command()
    @click.option("--n", type=int, help="次数。")
    def inner(n: int) -> None:
        """内层命令。"""

    text = cli_docs.render(root, prog="demo")
    assert [" ".join(p) for p, _ in cli_docs.walk(root, "demo")] == [
        "demo", "demo outer", "demo outer inner"]
    assert "#### demo outer inner" in text and "--n 整数" in text and "内层命令。" in text
