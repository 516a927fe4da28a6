"""The policy as a Chinese Markdown table (docs/access-policy.md), generated from the code.

A test regenerates it and compares with the committed file, so the doc cannot drift.
"""

from __future__ import annotations

from typing import Any

from archive.policy.roles import ROLES
from archive.policy.rules import (
    ACTIONS,
    RECORD_ACTIONS,
    Actor,
    Decision,
    RecordFacts,
    decide,
)

# The social worker of the table is 社工甲; 社工乙 is a colleague.
TABLE_ACTORS: dict[str, Actor] = {
    "head": Actor("站长甲", "head"),
    "deputy": Actor("副站长甲", "deputy"),
    "archivist": Actor("档案员甲", "archivist"),
    "social_worker": Actor("社工甲", "social_worker"),
    "supervisor": Actor("督导甲", "supervisor"),
    "authority": Actor("民政局甲", "authority"),
}

# Representative records: key -> (Chinese label, facts).
SAMPLE_RECORDS: dict[str, tuple[str, RecordFacts]] = {
    "XZ": ("行政档案", RecordFacts("XZ")),
    "FW_own": ("服务档案（本人负责）", RecordFacts("FW", responsible="社工甲")),
    "FW_other": ("服务档案（他人负责）", RecordFacts("FW", responsible="社工乙")),
    "RS": ("人事档案（他人）", RecordFacts("RS")),
    "CW": ("财务档案", RecordFacts("CW")),
    "XZ_secret": ("密级行政档案", RecordFacts("XZ", secret=True)),
    "XZ_precious": ("珍贵行政档案", RecordFacts("XZ", precious=True)),
    "FW_held": ("冻结的服务档案（本人负责）",
                RecordFacts("FW", responsible="社工甲", held=True)),
    "FW_destroyed": ("已销毁的服务档案（本人负责）",
                     RecordFacts("FW", responsible="社工甲", destroyed=True)),
}

# Context of the table: every procedural condition met, no reason given.
TABLE_CTX: dict[str, Any] = {
    "consent_filed": True,
    "registered_by": "登记人乙",
    "approved": True,
    "within_period": True,
    "in_request": True,
    "copy_approved": True,
    "witness": "监销人乙",
}


def cell(d: Decision) -> str:
    """One table cell: 允许 / 拒绝 / 须说明事由 (+ 标记 when flagged for the head)."""
    mark = "·标记" if d.flag else ""
    if d.needs_reason:
        return f"允许{mark}（已说明事由）" if d.allowed else f"须说明事由{mark}"
    return f"允许{mark}" if d.allowed else "拒绝"


def render_markdown() -> str:
    """The whole policy table in Chinese Markdown."""
    roles = list(ROLES)
    head = "| " + " | ".join(ROLES[r] for r in roles) + " |"
    sep = "|" + "---|" * (len(roles) + 1)
    out = [
        "# 访问控制策略表",
        "",
        "本文件由 `python -m archive.policy.table --markdown` 从代码生成，请勿手工编辑；"
        "测试会核对本文件与代码一致。",
        "",
        "说明：",
        "",
        "- 表中“须说明事由”表示未说明事由时拒绝，说明事由后允许，事由记入审计；"
        "“标记”表示同时提请站长关注。",
        "- 表格假定程序性条件均已满足：转介同意书已存档、申请由他人登记、查阅申请已批准且在期限内、"
        "档案在申请范围内、已准许复制、监销人为执行人以外的人。条件不满足时拒绝，理由见各条规则。",
        "- 表中社工为“社工甲”；“本人负责”指该服务档案的负责社工为社工甲。",
        "- 人事档案：社工可查阅本人的人事档案（须指明档案主体为本人）；表中为他人的人事档案。",
        "- 转介：未存档转介同意书时，负责社工或站长可以人身安全或法律事项为由紧急转介，"
        "须说明事由并标记站长。",
        "- 批准外单位查阅时，若申请包含珍贵档案并要求复制，拒绝批准。",
        "",
        "## 不针对单件档案的操作",
        "",
        "| 操作 " + head,
        sep,
    ]
    global_rules: list[str] = []
    for action, label in ACTIONS.items():
        if action in RECORD_ACTIONS:
            continue
        decisions = [decide(TABLE_ACTORS[r], action, None, **TABLE_CTX) for r in roles]
        out.append(f"| {label}（`{action}`） | " + " | ".join(map(cell, decisions)) + " |")
        global_rules.append(f"- `{action}`：{decisions[0].rule}")
    out += ["", "适用规则：", ""] + global_rules + [""]
    for action, label in ACTIONS.items():
        if action not in RECORD_ACTIONS:
            continue
        out += [f"## {label}（`{action}`）", "", "| 档案 " + head, sep]
        rules: list[str] = []
        for rec_label, facts in SAMPLE_RECORDS.values():
            cells = []
            for r in roles:
                d = decide(TABLE_ACTORS[r], action, facts, **TABLE_CTX)
                cells.append(cell(d))
                if d.rule not in rules:
                    rules.append(d.rule)
            out.append(f"| {rec_label} | " + " | ".join(cells) + " |")
        out += ["", "适用规则：", ""] + [f"- {rule}" for rule in rules] + [""]
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover - thin wrapper, tested through render_markdown
    import sys

    if sys.argv[1:] != ["--markdown"]:
        sys.stderr.write("用法：python -m archive.policy.table --markdown\n")
        sys.exit(2)
    sys.stdout.write(render_markdown())
