"""The six roles and their Chinese labels: the one table every concern reads (DESIGN §7)."""

from __future__ import annotations

from archive.errors import ValidationError

ROLES: dict[str, str] = {
    "head": "站长",
    "deputy": "副站长",
    "archivist": "档案管理员",
    "social_worker": "社工",
    "supervisor": "督导",
    "authority": "主管部门（民政局）",
}

_ALIASES: dict[str, str] = {v: k for k, v in ROLES.items()} | {
    "主管部门": "authority", "民政局": "authority", "驻站社工": "social_worker",
}

# The head-role account that the printed recovery code unlocks.
RECOVERY_USER = "recovery"


def role_label(code: str) -> str:
    """Chinese label of a role code (unknown codes shown as they are)."""
    return ROLES.get(code, code)


def parse_role(text: str) -> str:
    """A role code from its code or its Chinese name."""
    t = text.strip()
    if t in ROLES:
        return t
    if t in _ALIASES:
        return _ALIASES[t]
    choices = "、".join(f"{k}（{v}）" for k, v in ROLES.items())
    raise ValidationError(f"未知的角色“{text}”，可选：{choices}", found=text)
