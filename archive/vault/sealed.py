"""Sealed descriptive fields: a record's title, 文号, author, note, household and its components'
file names, readable only by its compartment's members (DESIGN §3).

Two forms, one reader:
- `P` (public-key): `b"P"` ‖ age file (X25519 → the compartment epoch's public key) of the JSON.
  What a filer who is not a member writes (the archivist filing a service record): write-only.
- `S` (symmetric): `b"S"` ‖ nonce ‖ AES-256-GCM(field key of the compartment epoch, JSON), with
  the vault, binding (档号 or 档号#件内序号), compartment and epoch as associated data. What a
  member writes, and what `settle` turns `P` rows into, so listing 50,000 records costs one AES
  per row instead of one X25519.
The JSON carries the binding too, so a sealed blob moved onto another record fails to open.
Non-members see `NO_ACCESS` in place of each field.

Household filter and duplicate detection need no compartment secret: they use keyed tags
(HMAC-SHA256) under keys of the catalogue compartment (every account holder), so an account
holder who already knows a 户号 or holds a file can learn whether the vault has it, never what
the records say (docs/threat-model.md).
"""

from __future__ import annotations

import hmac
import json
import unicodedata
from typing import Any

from archive.crypto import age
from archive.crypto.keys import open_sealed, seal
from archive.errors import DecryptionFailed, IntegrityError
from archive.vault.keybag import KeyBag
from archive.vault.keyring2 import KeyringV2

NO_ACCESS = "（无权查看）"
_PUBLIC = b"P"
_SYMMETRIC = b"S"


def _aad(vault_id: str, binding: str, compartment: str, epoch: int) -> bytes:
    return f"sgz-sealed/{vault_id}/{binding}/{compartment}/{epoch}".encode()


def _plain(binding: str, fields: dict[str, str]) -> bytes:
    return json.dumps({"b": binding, "f": fields}, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


def _fields(raw: bytes, binding: str) -> dict[str, str]:
    try:
        doc = json.loads(raw)
    except ValueError:
        raise IntegrityError("著录信息密文损坏", ref=binding) from None
    if not isinstance(doc, dict) or doc.get("b") != binding or not isinstance(doc.get("f"), dict):
        raise IntegrityError("著录信息不属于该档案（被移动或改动）", ref=binding)
    return {str(k): str(v) for k, v in doc["f"].items()}


def kind(blob: bytes) -> str:
    """'public' or 'symmetric'."""
    if blob[:1] == _PUBLIC:
        return "public"
    if blob[:1] == _SYMMETRIC:
        return "symmetric"
    raise IntegrityError("著录信息密文格式无法识别")


class FieldSealer:
    """Seal for a compartment with what the bag holds; open what the bag can open."""

    def __init__(self, ring: KeyringV2, bag: KeyBag | None) -> None:
        self.ring = ring
        self.bag = bag

    def seal(self, compartment: str, binding: str, fields: dict[str, str]) -> tuple[int, bytes]:
        """(epoch, blob) under the compartment's current epoch: symmetric for a member,
        public-key for anyone else."""
        epoch = self.ring.current(compartment)
        plain = _plain(binding, fields)
        if self.bag is not None and self.bag.holds(compartment):
            key = self.bag.field_key(compartment, epoch)
            aad = _aad(self.ring.vault_id, binding, compartment, epoch)
            return epoch, _SYMMETRIC + seal(key, plain, aad)
        return epoch, _PUBLIC + age.encrypt_bytes(plain, [self.ring.recipient(compartment, epoch)])

    def can_open(self, compartment: str) -> bool:
        return self.bag is not None and self.bag.holds(compartment)

    def open(self, compartment: str, epoch: int, binding: str, blob: bytes) -> dict[str, str] | None:
        """The fields, or None when this user is not a member (show NO_ACCESS)."""
        if self.bag is None or not self.bag.holds(compartment):
            return None
        if blob[:1] == _SYMMETRIC:
            key = self.bag.field_key(compartment, epoch)
            try:
                raw = open_sealed(key, blob[1:], _aad(self.ring.vault_id, binding, compartment, epoch))
            except DecryptionFailed:
                raise IntegrityError("著录信息无法解密（被改动或不属于该档案）", ref=binding) from None
            return _fields(raw, binding)
        if blob[:1] == _PUBLIC:
            try:
                raw = age.decrypt_bytes(blob[1:], [self.bag.identity(compartment, epoch)])
            except age.AgeError:
                raise IntegrityError("著录信息无法解密（被改动）", ref=binding) from None
            return _fields(raw, binding)
        raise IntegrityError("著录信息密文格式无法识别", ref=binding)

    def reseal(self, compartment: str, epoch: int, binding: str,
               blob: bytes) -> tuple[int, bytes] | None:
        """Re-seal a blob symmetrically under the current epoch when it is public-key or of an
        older epoch (settling after write-only filings, and `--rewrap`); None = nothing to do."""
        if blob[:1] == _SYMMETRIC and epoch == self.ring.current(compartment):
            return None
        fields = self.open(compartment, epoch, binding, blob)
        if fields is None:
            return None
        return self.seal(compartment, binding, fields)


def normalise_household(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().upper()


def household_tag(tag_key: bytes, household: str) -> str:
    """HMAC-SHA256 tag of a 户号 ('' for none), for `ls --household` without unsealing."""
    h = normalise_household(household)
    if not h:
        return ""
    return hmac.new(tag_key, b"sgz-household\x00" + h.encode("utf-8"), "sha256").hexdigest()


def placeholder(fields: dict[str, Any] | None, names: tuple[str, ...]) -> dict[str, str]:
    """The fields for display: real values for members, NO_ACCESS for everyone else."""
    if fields is None:
        return dict.fromkeys(names, NO_ACCESS)
    return {n: str(fields.get(n, "")) for n in names}
