"""tomllib's parse errors in Chinese (`Invalid value (at line 3, column 7)` → `第 3 行第 7 列：值无效`)."""

from __future__ import annotations

import re

_POSITION = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)\s*$")

# English message prefix (tomllib 3.11+) -> Chinese; `{x}` keeps the quoted part that follows.
_MESSAGES: tuple[tuple[str, str], ...] = (
    ("Invalid value", "值无效（字符串要加引号，日期写成 2026-01-01，是/否写 true/false）"),
    ("Invalid statement", "无法识别的语句（应为“字段 = 值”或 [表名]）"),
    ("Expected '=' after a key in a key/value pair", "字段名后缺少“=”"),
    ("Expected ']' at the end of a table declaration", "表名后缺少“]”"),
    ("Expected ']]' at the end of an array declaration", "表数组名后缺少“]]”"),
    ("Expected newline or end of document after a statement", "一行只能写一项（语句后应换行）"),
    ("Unterminated string", "字符串缺少结尾的引号"),
    ("Unclosed array", "列表缺少结尾的“]”"),
    ("Unclosed inline table", "内联表缺少结尾的“}”"),
    ("Invalid date or datetime", "日期或时间无效"),
    ("Invalid hex value", "十六进制转义无效"),
    ("Invalid initial character for a key part", "字段名的首字符无效（中文字段名请加引号）"),
    ("Unescaped '\\' in a string", "字符串中的“\\”须写成“\\\\”，或改用单引号"),
    ("Escaped character is not a Unicode scalar value", "转义字符无效"),
    ("Cannot overwrite a value", "同一字段赋值两次"),
    ("Cannot declare", "重复声明"),
    ("Cannot redefine namespace", "重复定义表"),
    ("Cannot mutate immutable namespace", "不能修改已定义的内联表"),
    ("Duplicate inline table key", "内联表中字段重复"),
    ("Illegal character", "非法字符"),
    ("Found invalid character", "非法字符"),
    ("Expected", "缺少"),
)


def toml_error(exc: Exception) -> str:
    """A TOMLDecodeError as one Chinese phrase with its position; unknown messages kept."""
    text = str(exc)
    where = ""
    m = _POSITION.search(text)
    if m:
        text = text[:m.start()]
        where = f"第 {m[1]} 行第 {m[2]} 列：" if m[1] else "文件末尾："
    for english, chinese in _MESSAGES:
        if text.startswith(english):
            rest = text[len(english):].strip()
            return f"{where}{chinese}" + (f"（{rest}）" if rest else "")
    return f"{where}{text}"
