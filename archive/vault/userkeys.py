"""Per-user keys and keyslots of vault format 2 (DESIGN §3).

A keyslot `vault/keys/<slot id>.age` is an age v1 file with one scrypt recipient (the user's
passphrase). Its plaintext is an age *identity file* holding only that user's own secrets:

    # sgz-keyslot 2
    # vault: <vault id>
    # user: <name>
    # station-root: <base64 Ed25519 public key of the vault's first station key>
    # signing-ed25519: <base64 32-byte Ed25519 seed>
    AGE-SECRET-KEY-1…

so `age -d slot.age > me.txt` with the passphrase, then `age -d -i me.txt …` opens whatever is
wrapped to her (her compartments' keys in the keyring). There is no station-wide root: what she
can open is what the keyring wraps to her identity. The station root pins the keyring's signer
chain (see keyring2.py). The slot names no role: roles live in the catalogue, the keyring's
member list (signed by the station key) and the log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from archive.crypto import age
from archive.crypto.ed25519 import SigningKey
from archive.errors import IntegrityError
from archive.fs.atomic import write_atomic
from archive.vault.keyslots import Keyslots, SlotFolder, _recovery_passphrase

SLOT_MAGIC = "# sgz-keyslot 2"
RECOVERY_NAME = "recovery"  # the recovery slot's user name (not a valid account name: reserved)
_RECOVERY_KEY = "\x00recovery"


def member_id(vault_id: str, user: str) -> str:
    """Slot file stem and keyring member id of `user`: a hash, so no name appears in clear."""
    key = _RECOVERY_KEY if user == RECOVERY_NAME else user
    h = hashlib.sha256(b"sgz-keyslot/v2\x00" + vault_id.encode() + b"\x00" + key.encode("utf-8"))
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class UserKeys:
    """One user's own secrets, as unlocked from her keyslot."""

    vault_id: str
    name: str
    station_root: bytes  # pinned public key that anchors the keyring's signer chain
    identity: age.X25519Identity
    signing_seed: bytes  # Ed25519 seed: the audit log signs her entries with it

    @classmethod
    def generate(cls, vault_id: str, name: str, station_root: bytes) -> UserKeys:
        return cls(vault_id, name, station_root, age.X25519Identity.generate(), os.urandom(32))

    @property
    def signing(self) -> SigningKey:
        return SigningKey(self.signing_seed)

    @property
    def member(self) -> str:
        return member_id(self.vault_id, self.name)

    @property
    def recipient(self) -> age.X25519Recipient:
        return self.identity.recipient()

    def render(self) -> bytes:
        """The slot plaintext (an age identity file with sgz metadata in comments)."""
        lines = [
            SLOT_MAGIC,
            f"# vault: {self.vault_id}",
            f"# user: {self.name}",
            f"# station-root: {base64.b64encode(self.station_root).decode()}",
            f"# signing-ed25519: {base64.b64encode(self.signing_seed).decode()}",
            str(self.identity),
        ]
        return ("\n".join(lines) + "\n").encode("utf-8")

    @classmethod
    def parse(cls, raw: bytes) -> UserKeys:
        try:
            text = raw.decode("utf-8")
            lines = text.splitlines()
            if not lines or lines[0] != SLOT_MAGIC:
                raise ValueError("magic")
            meta = {}
            secret = None
            for line in lines[1:]:
                if line.startswith("# ") and ": " in line:
                    k, v = line[2:].split(": ", 1)
                    meta[k] = v
                elif line.startswith("AGE-SECRET-KEY-1"):
                    secret = line
            if secret is None:
                raise ValueError("identity")
            return cls(
                vault_id=meta["vault"],
                name=meta["user"],
                station_root=base64.b64decode(meta["station-root"], validate=True),
                identity=age.X25519Identity.parse(secret),
                signing_seed=_seed(base64.b64decode(meta["signing-ed25519"], validate=True)),
            )
        except (ValueError, KeyError, UnicodeDecodeError, binascii.Error, age.AgeError):
            raise IntegrityError("密钥槽内容格式无法识别（不是 sgz 格式 2 的密钥槽）") from None

    def __repr__(self) -> str:  # never a secret
        return f"UserKeys(name={self.name!r}, recipient={self.recipient})"


def _seed(raw: bytes) -> bytes:
    if len(raw) != 32:
        raise ValueError("seed")
    return raw


class KeyslotsV2(SlotFolder):
    """The folder `vault/keys/` of format-2 slots."""

    def stem(self, user: str) -> str:
        return member_id(self.vault_id, user)

    def exists(self, user: str) -> bool:
        return self.path(user).exists()

    def write(self, keys: UserKeys, passphrase: bytes, *, work_factor: int) -> Path:
        """Write (or replace, e.g. new passphrase) `keys.name`'s slot."""
        if keys.vault_id != self.vault_id:
            raise ValueError("keys belong to another vault")
        buf = io.BytesIO()
        age.encrypt(io.BytesIO(keys.render()), buf, [age.ScryptRecipient(passphrase, work_factor)])
        p = self.path(keys.name)
        write_atomic(p, buf.getvalue())
        return p

    def write_recovery(self, keys: UserKeys, code: str, *, work_factor: int) -> Path:
        if keys.name != RECOVERY_NAME:
            raise ValueError("recovery keys must be named 'recovery'")
        return self.write(keys, _recovery_passphrase(code), work_factor=work_factor)

    def unlock(self, user: str, passphrase: bytes) -> UserKeys:
        """The user's keys. Wrong passphrase (DecryptionFailed) and unknown user (UnknownUser)
        give one message after one scrypt of the slots' cost, as format 1 does; a present but
        damaged slot raises DamagedFile naming it."""
        p = self.path(user)
        raw = Keyslots(self.folder, self.vault_id).decrypt_slot(
            p, passphrase, advice="请从备份恢复该文件，或由站长重设该用户")
        keys = UserKeys.parse(raw)
        if keys.vault_id != self.vault_id or keys.name != user:
            # a slot copied from another vault or renamed onto another user's file
            raise IntegrityError("密钥槽不属于本档案库或本用户", ref=p.name)
        return keys

    def unlock_recovery(self, code: str) -> UserKeys:
        return self.unlock(RECOVERY_NAME, _recovery_passphrase(code))
