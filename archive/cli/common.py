"""Shared CLI plumbing: finding the home, reading secrets without argv, unlocking, output.

Secrets come from SGZ_PASSPHRASE / SGZ_PASSPHRASE_FILE / a hidden prompt — never from argv.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from archive.errors import UsageError, ValidationError

if TYPE_CHECKING:
    from archive.app import Archive

RECOVERY_USER = "recovery"

# the options every listing / output-writing command shares
json_option = click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
force_option = click.option("--force", is_flag=True, help="覆盖已存在的输出文件。")


def home_path(ctx: click.Context) -> Path:
    root = ctx.find_root().obj.get("home") if ctx.find_root().obj else None
    return Path(root) if root else Path.cwd()


def kdf_work_factor() -> int:
    """scrypt log2(N) for new keyslots; SGZ_KDF_WORK_FACTOR lowers it for tests only (≥ 10)."""
    from archive.vault.keyslots import DEFAULT_WORK_FACTOR

    raw = os.environ.get("SGZ_KDF_WORK_FACTOR")
    if not raw:
        return DEFAULT_WORK_FACTOR
    try:
        wf = int(raw)
    except ValueError:
        raise UsageError("SGZ_KDF_WORK_FACTOR 必须是 10–22 的整数") from None
    if not 10 <= wf <= 22:
        raise UsageError("SGZ_KDF_WORK_FACTOR 必须是 10–22 的整数")
    return wf


def lock_timeout() -> float:
    raw = os.environ.get("SGZ_LOCK_TIMEOUT")
    try:
        return float(raw) if raw else 30.0
    except ValueError:
        raise UsageError("SGZ_LOCK_TIMEOUT 必须是秒数") from None


def _read_secret_file(path: str, what: str) -> str:
    try:
        data = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        why = {errno.ENOENT: "文件不存在", errno.EACCES: "没有读取权限", errno.EPERM: "没有读取权限",
               errno.EISDIR: "这是一个文件夹"}.get(exc.errno or 0, "读取出错")
        raise UsageError(f"无法读取{what}文件 {path}：{why}") from None
    except UnicodeDecodeError:
        raise UsageError(f"无法读取{what}文件 {path}：不是 UTF-8 文本") from None
    return data.rstrip("\r\n")


def read_passphrase(prompt: str = "口令") -> str:
    if "SGZ_PASSPHRASE" in os.environ:
        return os.environ["SGZ_PASSPHRASE"]
    if os.environ.get("SGZ_PASSPHRASE_FILE"):
        return _read_secret_file(os.environ["SGZ_PASSPHRASE_FILE"], "口令")
    if not sys.stdin.isatty():
        raise UsageError("需要口令：请设置 SGZ_PASSPHRASE 或 SGZ_PASSPHRASE_FILE，或在终端中运行")
    return str(click.prompt(prompt, hide_input=True, err=True))


def read_new_passphrase(file: str | None) -> str:
    """A new passphrase from --new-passphrase-file, SGZ_NEW_PASSPHRASE, SGZ_NEW_PASSPHRASE_FILE
    (like SGZ_PASSPHRASE_FILE), or a prompt asked twice."""
    if file:
        return _read_secret_file(file, "新口令")
    if "SGZ_NEW_PASSPHRASE" in os.environ:
        return os.environ["SGZ_NEW_PASSPHRASE"]
    if os.environ.get("SGZ_NEW_PASSPHRASE_FILE"):
        return _read_secret_file(os.environ["SGZ_NEW_PASSPHRASE_FILE"], "新口令")
    if not sys.stdin.isatty():
        raise UsageError("需要新口令：请设置 SGZ_NEW_PASSPHRASE 或 SGZ_NEW_PASSPHRASE_FILE，"
                         "或使用 --new-passphrase-file")
    return str(click.prompt("新口令", hide_input=True, confirmation_prompt="再输入一次新口令", err=True))


def current_user() -> str:
    user = os.environ.get("SGZ_USER")
    if user:
        return user
    if not sys.stdin.isatty():
        raise UsageError("需要用户名：请设置 SGZ_USER")
    return str(click.prompt("用户名", err=True))


def open_archive(ctx: click.Context) -> Archive:
    """Unlock the station home for the current user (SGZ_USER=recovery uses the recovery code)."""
    from archive.app import Archive

    root = home_path(ctx)
    user = current_user()
    kw: dict[str, Any] = {"lock_timeout": lock_timeout(), "kdf_work_factor": kdf_work_factor()}
    if user == RECOVERY_USER:
        arc = Archive.unlock_recovery(root, code=read_passphrase("恢复码"), **kw)
    else:
        arc = Archive.unlock(root, user=user, passphrase=read_passphrase(), **kw)
    ctx.call_on_close(arc.close)
    defer_interrupts(ctx)
    return arc


class Interruption:
    """Ctrl-C while an unlocked command works: the first press asks it to stop at its next
    safe point (`interruption_point`: between files and records, where progress is shown); a
    second press stops at once. A KeyboardInterrupt raised wherever the main thread happens to
    be can leave a lock of the filing pipeline held (a queue's mutex, taken in
    Condition.__enter__ just before the signal was handled): `sgz file` then hung for ever
    on Ctrl-C, holding the archive's lock."""

    def __init__(self) -> None:
        self.pending = False

    def handler(self, signum: int, frame: object) -> None:
        if self.pending:  # asked twice: now
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        self.pending = True
        # os.write, not click.echo: the main thread may be inside a write to stderr's buffer,
        # and a second writer there raises "reentrant call" just where this one was handled
        os.write(2, "正在停止：当前这一步完成后中断（再按一次 Ctrl-C 立即中断）……\n".encode())


INTERRUPTION = Interruption()


def defer_interrupts(ctx: click.Context) -> None:
    """From here to the end of the command, Ctrl-C stops at the next safe point."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread receives signals (tests may run commands elsewhere)
    INTERRUPTION.pending = False  # a new command (tests run several in one process)
    previous = signal.signal(signal.SIGINT, INTERRUPTION.handler)
    ctx.call_on_close(lambda: signal.signal(signal.SIGINT, previous))


def interruption_point() -> None:
    """A safe point of a long command: stop here if Ctrl-C was pressed (in the main thread,
    whose exception unwinds the command; a progress line printed by a helper thread passes)."""
    if INTERRUPTION.pending and threading.current_thread() is threading.main_thread():
        raise KeyboardInterrupt


def warn_if_example(fonds: object, name: object) -> None:
    """Say so (stderr) when the station is still `sgz init`'s built-in example: what is
    generated or filed would carry the example's name and 全宗号."""
    from archive.kernel.station import EXAMPLE_IDENTITY, EXAMPLE_WARNING

    if (fonds, name) == EXAMPLE_IDENTITY:
        info(EXAMPLE_WARNING)


def info(message: str) -> None:
    """A message for people: stderr, so stdout stays data. Progress lines are also the points
    where a command stops after Ctrl-C (`interruption_point`)."""
    click.echo(message, err=True)
    interruption_point()


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


@dataclass(frozen=True)
class Col:
    """One column of a listing: table header, JSON key and how to get the value from an item.

    `time` marks an instant (stored ISO/UTC): tables show it in station time, JSON keeps it.
    `json=False` keeps a column out of the JSON objects (display-only, e.g. a row number).
    """

    header: str
    key: str
    value: Callable[[Any], Any]
    time: bool = False
    json: bool = True


def col(header: str, key: str, value: Callable[[Any], Any] | None = None, *,
        time: bool = False, json: bool = True) -> Col:
    """A column; without `value`, the item's attribute or mapping entry named `key`."""
    return Col(header, key, value or (lambda item: _field(item, key)), time, json)


def _field(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, dict) else getattr(item, key, None)


def cell_text(value: Any, *, time: bool = False) -> str:
    """A value as a table cell: station time for instants, 是/否 for booleans, escapes for
    control and bidi characters (untrusted titles, file names)."""
    from archive.clock import station_text
    from archive.safetext import display

    if value is None:
        return ""
    if time:
        return station_text(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return display(str(value))


def emit_rows(as_json: bool, items: Iterable[Any], columns: Sequence[Col], *,
              as_dict: Callable[[Any], dict[str, Any]] | None = None,
              total: str | None = None) -> None:
    """Every list command's output: a JSON array or an aligned table with Chinese headers.

    JSON objects come from `as_dict(item)` when given (the record's own schema), else from the
    columns' keys. `total` ("共 {n} 件") goes to stderr after a table.
    """
    items = list(items)
    if as_json:
        emit_json([as_dict(i) if as_dict else {c.key: c.value(i) for c in columns if c.json}
                   for i in items])
        return
    emit_table([c.header for c in columns],
               [[cell_text(c.value(i), time=c.time) for c in columns] for i in items])
    if total:
        info(total.format(n=len(items)))


def list_objects(ctx: click.Context, as_json: bool, fetch: Callable[[Archive], Iterable[Any]],
                 columns: Sequence[Col], *, as_dict: Callable[[Any], dict[str, Any]] | None = None,
                 total: str | None = None) -> None:
    """Every plain list command's body: unlock, `fetch(arc)` the items, emit them (emit_rows)."""
    emit_rows(as_json, fetch(open_archive(ctx)), columns, as_dict=as_dict, total=total)


def emit_fields(data: Any, fields: Sequence[Col]) -> None:
    """A record shown as `标签：值` lines (— for empty), times in station time."""
    for f in fields:
        text = cell_text(f.value(data), time=f.time)
        click.echo(f"{f.header}：{text or '—'}")


def show_object(as_json: bool, data: Any, fields: Sequence[Col]) -> bool:
    """Every show command's head: `data` as JSON, or as `标签：值` lines.

    True when the text form was printed, so the caller may add its own lines after the fields.
    """
    if as_json:
        emit_json(data)
        return False
    emit_fields(data, fields)
    return True


def emit_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A plain aligned table (CJK characters count double width); cells shown via display()."""
    from archive.safetext import display

    rows = [[("" if v is None else display(str(v))) for v in r] for r in rows]
    widths = [_w(h) for h in headers]
    for r in rows:
        for i, v in enumerate(r):
            widths[i] = max(widths[i], _w(v))
    line = "  ".join(_pad(h, widths[i]) for i, h in enumerate(headers))
    click.echo(line.rstrip())
    for r in rows:
        click.echo("  ".join(_pad(v, widths[i]) for i, v in enumerate(r)).rstrip())


def _w(s: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _pad(s: str, width: int) -> str:
    return s + " " * (width - _w(s))


def parse_year(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError(f"年度“{value}”应为 4 位数字") from None
