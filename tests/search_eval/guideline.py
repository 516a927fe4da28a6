"""Real, varied Chinese text for the evaluation set: the Jilin 2021 guideline, one document
per clause (copied into the repo: guideline-jilin-2021.txt).

Judgements come from the text, never from the engine:
- known-item: a 5–12 character stretch of one clause that occurs in no other document
  (checked on the normalised text) must bring that clause into the top 10;
- short words (1–2 characters): every document whose normalised title or text contains the
  word is relevant, so P@10 says whether the top 10 really contain it.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from archive.search.normalize import normalize
from tests.search_eval.generate import Doc, Query

TEXT = Path(__file__).with_name("guideline-jilin-2021.txt")
_HEADING = re.compile(r"^(附件\d*[:：]?.*|[一二三四五六七八九十]+、.*)$")
SHORT_WORDS = ["社工", "档案", "督导", "协议", "儿童", "救助", "资金", "服务", "志愿", "保密",
               "评估", "台账", "老人", "财务", "牌匾", "培训", "个案", "转介", "站", "户",
               "案", "签", "章", "审", "村", "旗", "钱", "密", "票", "岗"]


def clauses() -> list[tuple[str, str]]:
    """(title, text) per clause: heading + first words as the title, the clause as text."""
    out: list[tuple[str, str]] = []
    heading = "总则"
    for line in TEXT.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("【关键词】"):
            continue
        if _HEADING.match(line) and len(line) <= 40:
            heading = line
            continue
        if len(line) < 12:
            continue
        out.append((f"{heading}｜{line[:12]}", line))
    return out


def build(seed: int = 20261201) -> tuple[list[Doc], list[Query], list[Query]]:
    """Documents, known-item queries and short-word queries (relevant = contains the word)."""
    rnd = random.Random(seed)
    docs = [Doc(f"Z001-WS·2021-Y-XZ-{i + 1:04d}", title, text, "", "2021-05-01", "XZ", 2021)
            for i, (title, text) in enumerate(clauses())]
    norm = {d.doc_id: normalize(d.title + "\n" + d.text) for d in docs}
    known: list[Query] = []
    for d in docs:
        text = d.text
        for _ in range(20):  # a stretch found in this clause only
            n = rnd.randint(5, 12)
            if len(text) <= n:
                break
            at = rnd.randrange(0, len(text) - n)
            piece = text[at: at + n].strip("，。、；：（）()“”《》 ")
            if len(re.findall(r"[\u4e00-\u9fff]", piece)) < 4:
                continue
            key = normalize(piece)
            if sum(key in t for t in norm.values()) == 1:
                known.append(Query("known_item", piece, [d.doc_id]))
                break
    short = []
    for word in SHORT_WORDS:
        rel = [i for i, t in norm.items() if normalize(word) in t]
        if rel:
            short.append(Query("short_word", word, rel))
    return docs, known, short
