"""Simplified Chinese for click's own messages (usage errors, help headings).

click looks its messages up through `gettext.gettext` / `gettext.ngettext`, bound when its
modules are imported; `install()` must therefore run before click is first imported
(archive/cli/__init__.py does it) — or, if click was imported first, it rebinds the names
click's modules already hold. Only click's exact message ids are mapped; any other
gettext user in the process is unaffected.
"""

from __future__ import annotations

import gettext
import sys

MESSAGES: dict[str, str] = {
    "Usage:": "用法：",
    "Options": "选项",
    "Commands": "命令",
    "Show this message and exit.": "显示此帮助并退出。",
    "Show the version and exit.": "显示版本并退出。",
    "Error: {message}": "错误：{message}",
    "Try '{command} {option}' for help.": "用“{command} {option}”查看帮助。",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing {param_type}": "缺少{param_type}",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "Missing command.": "缺少命令。",
    "No such command {name!r}.": "没有命令 {name!r}。",
    "No such option {name!r}.": "没有选项 {name!r}。",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的值无效：{message}",
    "Invalid value: {message}": "值无效：{message}",
    "Aborted!": "已取消。",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的{number_type}。",
    "{value} is not in the range {range}.": "{value} 不在范围 {range} 内。",
    "{name} {filename!r} does not exist.": "{name} {filename!r} 不存在。",
    "{name} {filename!r} is a directory.": "{name} {filename!r} 是文件夹。",
    "{name} {filename!r} is a file.": "{name} {filename!r} 是文件。",
    "{name} {filename!r} is not readable.": "{name} {filename!r} 不可读。",
    "{name} {filename!r} is not writable.": "{name} {filename!r} 不可写。",
    "Could not open file {filename!r}: {message}": "无法打开文件 {filename!r}：{message}",
    "file": "文件",
    "directory": "文件夹",
    "path": "路径",
    "default: {default}": "默认：{default}",
    "required": "必填",
    "(deprecated)": "（已弃用）",
    "Error: Missing argument {param_hint}.": "错误：缺少参数 {param_hint}。",
    "Option {name!r} requires an argument.": "选项 {name!r} 需要一个值。",
    "Option {name!r} does not take a value.": "选项 {name!r} 不接受值。",
    "{value!r} is not a valid {type}.": "{value!r} 不是有效的{type}。",
    "{value!r} is not a valid boolean.": "{value!r} 不是有效的是/否值。",
    "Missing required argument": "缺少必需的参数",
    "env var: {var}": "环境变量：{var}",
    "%(prog)s, version %(version)s": "%(prog)s 版本 %(version)s",
}
PLURALS: dict[str, str] = {
    "Got unexpected extra argument ({args})": "多余的参数（{args}）",
    "Did you mean {possibility}?": "是否想用 {possibility}？",
    "{value!r} is not {choice}.": "{value!r} 不是 {choice}。",
    "{value!r} is not one of {choices}.": "{value!r} 不在可选值 {choices} 中。",
}

_original = gettext.gettext
_original_n = gettext.ngettext


def _gettext(message: str) -> str:
    return MESSAGES.get(message, _original(message))


def _ngettext(msgid1: str, msgid2: str, n: int) -> str:
    if msgid1 in PLURALS:
        return PLURALS[msgid1]
    return _original_n(msgid1, msgid2, n)


def install() -> None:
    """Route click's messages through the tables above, whether click is imported later (it
    binds `gettext` at import) or already was (its modules' bound names are rebound here)."""
    gettext.gettext = _gettext
    gettext.ngettext = _ngettext
    for name, module in list(sys.modules.items()):
        if name == "click" or name.startswith("click."):
            if getattr(module, "_", None) is _original:
                module._ = _gettext  # type: ignore[attr-defined]
            if getattr(module, "ngettext", None) is _original_n:
                module.ngettext = _ngettext  # type: ignore[attr-defined]
