"""Sealed audit details: an age file to the audit-details compartment, base64 in the line.

Any user can seal (the compartment's public key is public); only its members (head,
authority, recovery) can open, with sgz or stock `age`. The plaintext names the vault and the
line's seq, so a detail copied onto another line, or into another vault's log, does not open
as that line's detail.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
from collections.abc import Sequence
from typing import Any

from archive.crypto.age import AgeError, Identity, Random, Recipient, decrypt_bytes, encrypt
from archive.crypto.keys import open_sealed
from archive.errors import DecryptionFailed


def seal_detail(recipients: Sequence[Recipient], vault_id: str, seq: int,
                detail: dict[str, Any], random: Random = os.urandom) -> str:
    """base64 of an age file whose plaintext is {"vault","seq","detail"} as compact JSON."""
    plain = json.dumps({"vault": vault_id, "seq": seq, "detail": detail}, ensure_ascii=False,
                       separators=(",", ":")).encode("utf-8")
    out = io.BytesIO()
    encrypt(io.BytesIO(plain), out, recipients, random=random)
    return base64.b64encode(out.getvalue()).decode("ascii")


def open_detail(identities: Sequence[Identity], vault_id: str, seq: int, sealed: str) -> dict[str, Any]:
    """Decrypt one line's detail; every failure is the same DecryptionFailed."""
    fail = DecryptionFailed(f"第 {seq + 1} 行审计详情解密失败", ref=str(seq))
    try:
        plain = decrypt_bytes(base64.b64decode(sealed, validate=True), identities)
        o = json.loads(plain.decode("utf-8"))
    except (AgeError, ValueError, binascii.Error):
        raise fail from None
    if not isinstance(o, dict) or o.get("vault") != vault_id or o.get("seq") != seq \
            or not isinstance(o.get("detail"), dict):
        raise fail
    return dict(o["detail"])


def open_detail_v1(key: bytes, vault_id: str, seq: int, sealed: str) -> dict[str, Any]:
    """A format-1 detail: base64(nonce12 ‖ AES-256-GCM), AAD `sgz-audit/<vault>/<seq>`, under the
    format-1 audit-detail key (which `sgz upgrade` seals to the audit-details compartment)."""
    fail = DecryptionFailed(f"第 {seq + 1} 行审计详情解密失败", ref=str(seq))
    try:
        raw = base64.b64decode(sealed, validate=True)
        plain = open_sealed(key, raw, f"sgz-audit/{vault_id}/{seq}".encode())
        o = json.loads(plain.decode("utf-8"))
    except (DecryptionFailed, ValueError, binascii.Error):
        raise fail from None
    if not isinstance(o, dict):
        raise fail
    return o
