"""Key compartments of vault format 2 (DESIGN §3, §7).

A compartment is a set of secrets shared by the roles that may read what it protects. Who can
decrypt what is decided by key membership, not by the program's policy checks: a user whose
role is not a member holds nothing that opens the compartment, with any tool. The role ×
compartment table lives with the roles (archive/policy/roles.py, `ROLE_COMPARTMENTS`, with the
reasons for each choice); this module names the compartments and maps records to them.
"""

from __future__ import annotations

from typing import Final

from archive.policy.roles import RECOVERY_USER, ROLE_COMPARTMENTS

__all__ = ["ROLE_COMPARTMENTS"]

CATALOGUE: Final = "catalogue"
GENERAL: Final = "general"
PERSONNEL: Final = "personnel"
SERVICE: Final = "service"
SECRET: Final = "secret"
AUDIT: Final = "audit"
STATION: Final = "station"

COMPARTMENTS: Final[dict[str, str]] = {
    CATALOGUE: "目录（全体用户）",
    GENERAL: "行政档案",
    PERSONNEL: "人事、财务档案",
    SERVICE: "服务档案（服务对象资料）",
    SECRET: "密级档案",
    AUDIT: "审计详情",
    STATION: "站点签名密钥",
}

# Compartments that hold records (a record belongs to exactly one of them).
RECORD_COMPARTMENTS: Final = (GENERAL, PERSONNEL, SERVICE, SECRET)

RECOVERY_ROLE: Final = RECOVERY_USER

_CATEGORY_COMPARTMENT: Final[dict[str, str]] = {"XZ": GENERAL, "FW": SERVICE, "RS": PERSONNEL,
                                               "CW": PERSONNEL}


def compartments_for_role(role: str) -> frozenset[str]:
    """The compartments a role holds; an unknown role holds none (fail closed)."""
    return ROLE_COMPARTMENTS.get(role, frozenset())


def compartment_for(category: str, secrecy: str = "") -> str:
    """The compartment of a record: any 密级 → secret; else by 问题 class (unknown → general)."""
    if secrecy.strip():
        return SECRET
    return _CATEGORY_COMPARTMENT.get(category.strip().upper(), GENERAL)


def left_compartments(old_role: str | None, new_role: str | None) -> frozenset[str]:
    """Compartments a user leaves when her role changes (None = removed / not yet a user)."""
    before = compartments_for_role(old_role) if old_role else frozenset()
    after = compartments_for_role(new_role) if new_role else frozenset()
    return before - after


def markdown_table() -> str:
    """The role × compartment table as Markdown (docs/threat-model.md quotes it)."""
    from archive.policy.roles import ROLES

    labels = dict(ROLES) | {RECOVERY_ROLE: "恢复码"}
    head = "| 角色 | " + " | ".join(COMPARTMENTS.values()) + " |"
    sep = "|---|" + "---|" * len(COMPARTMENTS)
    rows = [head, sep]
    for role, held in ROLE_COMPARTMENTS.items():
        cells = ["✓" if c in held else "—" for c in COMPARTMENTS]
        rows.append(f"| {labels.get(role, role)} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
