"""Find a template by id, Chinese title or alias; default file names; Chinese period names."""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from pathlib import Path

from archive.docgen.manifest import RETENTIONS, Manifest, list_manifests
from archive.errors import NotFound

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def _norm(text: str) -> str:
    """Compare names ignoring width, case, spaces and the brackets people add or drop."""
    t = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\s《》<>\"'“”]+", "", t)


def names_of(m: Manifest) -> list[str]:
    """Every name a template answers to: id, Chinese title, aliases."""
    short = m.title.removeprefix("社工站")
    return [m.id, m.title, *([short] if short != m.title else []), *m.aliases]


def find_template(root: Path, name: str) -> Manifest:
    """The template named `name` (id, Chinese title or alias; width/case/spaces ignored).

    NotFound says so in Chinese and suggests close matches (difflib), Chinese titles first.
    """
    manifests = list_manifests(root)
    wanted = _norm(name)
    for m in manifests:
        if any(_norm(n) == wanted for n in names_of(m)):
            return m
    # a unique template whose title or alias contains what was typed (e.g. 保密 → 保密管理制度)
    partial = [m for m in manifests
               if len(wanted) >= 2 and any(wanted in _norm(n) for n in names_of(m)[1:])]
    if len(partial) == 1:
        return partial[0]
    by_name = {_norm(n): m for m in manifests for n in names_of(m)}
    close = difflib.get_close_matches(wanted, list(by_name), n=8, cutoff=0.5)
    seen: list[Manifest] = [m for m in partial]
    for key in close:
        if by_name[key] not in seen:
            seen.append(by_name[key])
    hint = ""
    if seen:
        hint = "。是否要找：" + "、".join(f"{m.title}（{m.id}）" for m in seen[:5])
    raise NotFound(f"没有名为“{name}”的模板{hint}。用 sgz templates list 查看全部模板",
                   found=name)


def safe_file_name(text: str, limit: int = 60) -> str:
    """A file name Windows and Linux both accept; keeps Chinese."""
    s = _UNSAFE.sub("_", text).strip(" ._")
    return s[:limit] or "文书"


def default_output_name(m: Manifest, today: dt.date, *, suffix: str = ".docx",
                        ref: str | None = None) -> str:
    """Chinese title plus date (or 档号 when given): `保密管理制度-20261201.docx`."""
    tail = ref or today.strftime("%Y%m%d")
    return safe_file_name(f"{m.title}-{tail}") + suffix


def period_name(code: str) -> str:
    """Retention code → Chinese (`D10` → 定期10年); unknown codes are returned unchanged."""
    return RETENTIONS.get(str(code).strip().upper(), str(code))
