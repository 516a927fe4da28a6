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

# Which key compartments (archive/vault/compartments.py) each role holds. This one table decides
# who can decrypt what, with any tool (vault format 2, DESIGN §3); rules.py decides the rest.
# - service (服务 records, client data): social workers, supervisors, head, deputy. Not the
#   archivist (附件2 八 3: 存档的服务对象资料只容许社工或督导因工作需要查阅) and not the
#   authority: its right to inspect every class (附件2 四(三)1) is served for service records like
#   an outside request — the head or deputy produces the view copy.
# - general (行政 XZ): every role (附件2 四(三)2).
# - personnel (人事 RS / 财务 CW): head, deputy, archivist, authority (附件2 四(四)2); a social
#   worker's own personnel file is produced for her by one of them.
# - secret (any record with a 密级): head, deputy, archivist (附件2 四(四)1).
# - audit (sealed audit details): head, authority (DESIGN §5).
# - station (the station signing key: checkpoints, the keyring): head, deputy.
# - catalogue (the catalogue database, fingerprints, household tags): every role.
# - the recovery code's slot: every compartment.
_ALL_COMPARTMENTS = frozenset({"catalogue", "general", "personnel", "service", "secret", "audit",
                               "station"})
ROLE_COMPARTMENTS: dict[str, frozenset[str]] = {
    "head": _ALL_COMPARTMENTS,
    "deputy": frozenset({"catalogue", "general", "personnel", "service", "secret", "station"}),
    "archivist": frozenset({"catalogue", "general", "personnel", "secret"}),
    "social_worker": frozenset({"catalogue", "general", "service"}),
    "supervisor": frozenset({"catalogue", "general", "service"}),
    "authority": frozenset({"catalogue", "general", "personnel", "audit"}),
    RECOVERY_USER: _ALL_COMPARTMENTS,
}


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
