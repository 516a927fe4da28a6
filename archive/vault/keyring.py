"""The keyring file `vault/keyring`: epoch keys and the index key, sealed under the VRK.

Per-object identities are wrapped by the *current epoch key*. Destroying an object deletes its
wrapped identity and then rotates the epoch: every other identity is re-wrapped under a new key
and the old key is erased here, so a backup of the old catalogue plus the current keyring
cannot unwrap the destroyed identity.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from pathlib import Path

from archive.crypto.keys import LABEL_KEYRING, derive, open_sealed, random_key, seal
from archive.errors import DamagedFile, DecryptionFailed, IntegrityError
from archive.fs.atomic import write_atomic

MAGIC = b"sgz-keyring/v1\n"


@dataclass
class Keyring:
    """Epoch number → key, the current epoch, and the search-index key."""

    current: int
    epochs: dict[int, bytes]
    index_key: bytes
    pending: dict[str, int] = field(default_factory=dict)  # interrupted operations, e.g. rotation

    @classmethod
    def new(cls) -> Keyring:
        return cls(current=1, epochs={1: random_key()}, index_key=random_key())

    def epoch_key(self, epoch: int) -> bytes:
        try:
            return self.epochs[epoch]
        except KeyError:
            raise IntegrityError(f"密钥环中没有第 {epoch} 代密钥（已轮换销毁）", found=epoch) from None

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "current": self.current,
                "epochs": {str(k): base64.b64encode(v).decode() for k, v in self.epochs.items()},
                "index_key": base64.b64encode(self.index_key).decode(),
                "pending": self.pending,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Keyring:
        d = json.loads(raw)
        return cls(
            current=int(d["current"]),
            epochs={int(k): base64.b64decode(v) for k, v in d["epochs"].items()},
            index_key=base64.b64decode(d["index_key"]),
            pending={str(k): int(v) for k, v in d.get("pending", {}).items()},
        )


def _aad(vault_id: str) -> bytes:
    return MAGIC + vault_id.encode()


def save_keyring(path: Path, ring: Keyring, vrk: bytes, vault_id: str) -> None:
    sealed = seal(derive(vrk, LABEL_KEYRING), ring.to_json(), _aad(vault_id))
    write_atomic(path, MAGIC + sealed)


def load_keyring(path: Path, vrk: bytes, vault_id: str) -> Keyring:
    """Open the keyring with the (already verified) VRK; any failure is DamagedFile naming it.

    The VRK came out of an authenticated keyslot, so a keyring that does not open is damaged
    (or belongs to another vault), never a wrong passphrase.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DamagedFile(f"密钥环文件缺失：{path}；请从备份恢复", ref=str(path)) from None
    except OSError as exc:
        raise DamagedFile(f"密钥环文件无法读取：{path}（{exc.strerror}）", ref=str(path)) from None
    if not data.startswith(MAGIC):
        raise DamagedFile(f"密钥环文件格式无法识别：{path}；请从备份恢复", ref=str(path),
                          found=data[:16])
    try:
        raw = open_sealed(derive(vrk, LABEL_KEYRING), data[len(MAGIC):], _aad(vault_id))
    except DecryptionFailed:
        raise DamagedFile(f"密钥环文件已损坏：{path}；请从备份恢复", ref=str(path)) from None
    try:
        return Keyring.from_json(raw)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise DamagedFile(f"密钥环文件内容无效：{path}；请从备份恢复", ref=str(path)) from None
