"""Where a station's files live: `station.toml`, `vault/`, `indexes/` under one home folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from archive.errors import Conflict, IntegrityError, NotFound
from archive.fs.atomic import write_atomic

FORMAT = "sgz-vault"
FORMAT_VERSION = 2  # vault format 2 (DESIGN §3); format 1 is opened only by `sgz upgrade`


class _Under:
    """A path below the home folder, declared once as a class attribute of HomePaths."""

    def __init__(self, *parts: str) -> None:
        self.parts = parts

    def __get__(self, home: HomePaths, owner: type | None = None) -> Path:
        return home.root.joinpath(*self.parts)


@dataclass(frozen=True)
class HomePaths:
    """The station home's layout: every file and folder sgz keeps, relative to `root`."""

    root: Path

    station_toml = _Under("station.toml")
    vault = _Under("vault")
    indexes = _Under("indexes")
    vault_json = _Under("vault", "vault.json")
    keys = _Under("vault", "keys")
    keyring = _Under("vault", "keyring")
    catalog = _Under("vault", "catalog.db")
    audit = _Under("vault", "audit")
    lock = _Under("vault", "lock")
    fulltext = _Under("indexes", "fulltext.db")

    def is_initialised(self) -> bool:
        return self.vault_json.exists()

    def read_vault_id(self, *, allow_old: bool = False) -> str:
        """The vault id from `vault/vault.json` (a format marker; holds nothing secret). Any
        format but 2 is refused unless `allow_old` (for `sgz upgrade`, backup verification)."""
        try:
            meta = json.loads(self.vault_json.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFound(
                f"{self.root} 不是 sgz 站点目录（找不到 vault/vault.json）；请先运行 sgz init，"
                "或用 --home / SGZ_HOME 指定站点目录"
            ) from None
        except (ValueError, OSError) as exc:
            raise IntegrityError(f"vault/vault.json 损坏：{exc}") from None
        if meta.get("format") != FORMAT:
            raise IntegrityError("vault/vault.json 不是 sgz 档案库", found=meta.get("format"))
        if int(meta.get("version", 0)) > FORMAT_VERSION:
            raise IntegrityError("档案库格式比本程序新，请升级 sgz", found=meta.get("version"))
        if not allow_old:
            from archive.vault.upgrade import require_format2

            require_format2(self.root)  # a format-1 or half-upgraded home: names `sgz upgrade`
        return str(meta["vault_id"])

    @property
    def recovery_identity(self) -> Path:
        """The open export's identity file, age-encrypted with the recovery code."""
        return self.keys / "recovery-identity.age"

    def write_vault_json(self, vault_id: str, *, recovery_recipient: str | None = None) -> None:
        if self.vault_json.exists():
            raise Conflict(f"{self.root} 已经是一个 sgz 站点目录，不能重复初始化")
        meta = {"format": FORMAT, "version": FORMAT_VERSION, "vault_id": vault_id}
        if recovery_recipient:
            meta["recovery_recipient"] = recovery_recipient  # public (age1…): backups seal to it
        write_atomic(self.vault_json, json.dumps(meta).encode())

    def read_recovery_recipient(self) -> str | None:
        """The open export's recipient, or None for a home made before it existed."""
        try:
            meta = json.loads(self.vault_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        value = meta.get("recovery_recipient")
        return value if isinstance(value, str) and value.startswith("age1") else None
