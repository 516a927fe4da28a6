"""Key compartments of vault format 2 and the one table of which role holds which (DESIGN §3, §7).

A compartment is a set of secrets shared by the roles that may read what it protects. Who can
decrypt what is decided here, by key membership, not by the program's policy checks: a user
whose role is not a member holds nothing that opens the compartment, with any tool.

This table belongs with the roles (archive/policy/roles.py, made by the kernel refactor); it
lives here until that module exists, and should then move there unchanged.

Decisions (附件2 = the Jilin guideline's annex 2):
- `service` (服务 records, client data): social workers, supervisors, head, deputy. Not the
  archivist (附件2 八 3: 存档的服务对象资料只容许社工或督导因工作需要查阅) and not the authority:
  its right to inspect every class (附件2 四(三)1) is served for service records like an outside
  request — the head or deputy produces the view copy.
- `general` (行政 XZ): every role (附件2 四(三)2).
- `personnel` (人事 RS / 财务 CW): head, deputy, archivist, authority (附件2 四(四)2). A social
  worker's own personnel file is produced for her by one of them.
- `secret` (any record with a 密级): head, deputy, archivist (附件2 四(四)1).
- `audit` (sealed audit details): head and authority (DESIGN §5).
- `station` (the station signing key for checkpoints and the keyring): head, deputy.
- `catalogue` (the SQLCipher catalogue, fingerprints, household tags): every role.
- The recovery slot is a member of every compartment.
"""

from __future__ import annotations

from typing import Final

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

RECOVERY_ROLE: Final = "recovery"

# The one role × compartment table.
ROLE_COMPARTMENTS: Final[dict[str, frozenset[str]]] = {
    "head": frozenset({CATALOGUE, GENERAL, PERSONNEL, SERVICE, SECRET, AUDIT, STATION}),
    "deputy": frozenset({CATALOGUE, GENERAL, PERSONNEL, SERVICE, SECRET, STATION}),
    "archivist": frozenset({CATALOGUE, GENERAL, PERSONNEL, SECRET}),
    "social_worker": frozenset({CATALOGUE, GENERAL, SERVICE}),
    "supervisor": frozenset({CATALOGUE, GENERAL, SERVICE}),
    "authority": frozenset({CATALOGUE, GENERAL, PERSONNEL, AUDIT}),
    RECOVERY_ROLE: frozenset(COMPARTMENTS),
}

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
    from archive.catalog.users import ROLES

    labels = dict(ROLES) | {RECOVERY_ROLE: "恢复码"}
    head = "| 角色 | " + " | ".join(COMPARTMENTS.values()) + " |"
    sep = "|---|" + "---|" * len(COMPARTMENTS)
    rows = [head, sep]
    for role, held in ROLE_COMPARTMENTS.items():
        cells = ["✓" if c in held else "—" for c in COMPARTMENTS]
        rows.append(f"| {labels.get(role, role)} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
