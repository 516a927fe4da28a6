"""User keyslots: one age file per user (scrypt passphrase recipient) whose plaintext is the VRK.

The stock `age -d` and the passphrase recover the root key with no code of ours. Slot file
names are a hash of (vault id, user name), so no name appears in clear on disk.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
from pathlib import Path

from archive.crypto import age
from archive.crypto.age_errors import NoIdentityMatch
from archive.crypto.age_header import Stanza
from archive.crypto.age_header import b64encode as age_b64
from archive.errors import ArchiveError, DamagedFile, DecryptionFailed, NotFound
from archive.fs.atomic import fsync_dir, write_atomic
from archive.vault.shred import overwrite_unlink

DEFAULT_WORK_FACTOR = 18  # scrypt log2(N): ~0.5–1 s and 256 MiB on a station PC
RECOVERY_SLOT = "\x00recovery"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
WRONG_LOGIN = "解锁失败：用户名或口令错误"
_SCRYPT_LINE = re.compile(rb"^-> scrypt \S+ (\d{1,2})$", re.MULTILINE)


class UnknownUser(ArchiveError):
    """No slot for this name: the same message and exit code (7) as a wrong passphrase, so
    names cannot be enumerated. A separate type only so the caller can log "?" instead of
    what was typed as a name (it may be a passphrase typed into the wrong field)."""

    exit_code = DecryptionFailed.exit_code
    message = WRONG_LOGIN


def slot_id(vault_id: str, user: str) -> str:
    """File stem of `user`'s slot: not reversible to the name without guessing it."""
    h = hashlib.sha256(b"sgz-keyslot\x00" + vault_id.encode() + b"\x00" + user.encode("utf-8"))
    return h.hexdigest()[:32]


def normalise_passphrase(passphrase: str) -> bytes:
    """NFC-normalise so the same Chinese passphrase typed on another IME still matches."""
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def new_recovery_code() -> str:
    """A 128-bit recovery code in Crockford base32, grouped for printing: XXXXX-XXXXX-…"""
    raw = int.from_bytes(os.urandom(16), "big")
    chars = []
    for _ in range(26):  # 26 × 5 bits ≥ 128 bits
        chars.append(_CROCKFORD[raw & 31])
        raw >>= 5
    code = "".join(chars)
    return "-".join(code[i : i + 5] for i in range(0, 26, 5))


def normalise_recovery_code(code: str) -> bytes:
    """Accept the code with or without dashes/spaces, any case, O→0, I/L→1."""
    s = code.upper().replace("-", "").replace(" ", "")
    s = s.replace("O", "0").replace("I", "1").replace("L", "1")
    return s.encode("ascii", errors="replace")


def recovery_passphrase(code: str) -> bytes:
    """The recovery code as the stock `age` tool is given it (the printed, grouped form)."""
    return _recovery_passphrase(code)


def _recovery_passphrase(code: str) -> bytes:
    s = normalise_recovery_code(code)
    # re-group so the stock age tool accepts exactly the printed code (documented in docs)
    text = s.decode()
    return "-".join(text[i : i + 5] for i in range(0, len(text), 5)).encode()


class SlotFolder:
    """A folder `vault/keys/` of keyslot files `<stem>.age`, the stem a hash of (vault id, user)
    that the format (1: `slot_id`, 2: `member_id`) defines."""

    def __init__(self, folder: Path, vault_id: str) -> None:
        self.folder = Path(folder)
        self.vault_id = vault_id

    def stem(self, user: str) -> str:
        raise NotImplementedError

    def path(self, user: str) -> Path:
        return self.folder / f"{self.stem(user)}.age"

    def remove(self, user: str) -> None:
        """Overwrite then delete the slot (its secrets stay behind the passphrase anyway)."""
        try:
            overwrite_unlink(self.path(user))
        except FileNotFoundError:
            raise NotFound(f"用户“{user}”的密钥槽不存在") from None
        fsync_dir(self.folder)


class Keyslots(SlotFolder):
    """The folder `vault/keys/` of age scrypt files, each wrapping the VRK."""

    def stem(self, user: str) -> str:
        return slot_id(self.vault_id, user)

    def write(self, user: str, passphrase: bytes, vrk: bytes, *, work_factor: int) -> Path:
        buf = io.BytesIO()
        age.encrypt(io.BytesIO(vrk), buf, [age.ScryptRecipient(passphrase, work_factor)])
        p = self.path(user)
        write_atomic(p, buf.getvalue())
        return p

    def write_recovery(self, code: str, vrk: bytes, *, work_factor: int) -> Path:
        return self.write(RECOVERY_SLOT, _recovery_passphrase(code), vrk, work_factor=work_factor)

    def unlock(self, user: str, passphrase: bytes) -> bytes:
        """Return the VRK.

        Wrong passphrase and unknown user both raise DecryptionFailed with one message after
        one scrypt of the slots' cost (an unknown name is tried against a dummy stanza), so
        neither the answer nor its timing tells whether the name exists. A slot that is
        present but structurally damaged raises DamagedFile naming it.
        """
        p = self.path(user)
        vrk = self.decrypt_slot(p, passphrase, advice="请从备份恢复该文件，或用恢复码解锁后重设口令")
        if len(vrk) != 32:
            raise DamagedFile(f"密钥槽文件已损坏：{p}（内容长度不对）", ref=str(p),
                              expected=32, found=len(vrk))
        return vrk

    def decrypt_slot(self, p: Path, passphrase: bytes, *, advice: str) -> bytes:
        """The plaintext of the slot file `p` (of this folder, format 1 or 2) under `passphrase`.

        A missing file costs one scrypt of the slots' cost, then UnknownUser; a wrong passphrase
        raises DecryptionFailed with the same message; an unreadable or damaged file raises
        DamagedFile naming it (`advice` says what to do about the damage)."""
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            self._dummy_unlock(passphrase)
            raise UnknownUser(WRONG_LOGIN) from None
        except OSError as exc:
            raise DamagedFile(f"密钥槽文件无法读取：{p}（{exc.strerror}）", ref=str(p)) from None
        try:
            return age.decrypt_bytes(data, [age.ScryptIdentity(passphrase, max_work_factor=22)])
        except NoIdentityMatch:
            raise DecryptionFailed(WRONG_LOGIN) from None
        except age.AgeError:
            raise DamagedFile(f"密钥槽文件已损坏：{p}；{advice}", ref=str(p)) from None

    def work_factor(self) -> int:
        """The scrypt cost of this vault's slots (from any slot's header), else the default."""
        for slot in sorted(self.folder.glob("*.age")):
            try:
                with open(slot, "rb") as f:
                    head = f.read(512)
            except OSError:
                continue
            m = _SCRYPT_LINE.search(head)
            if m:
                return min(int(m.group(1)), 22)
        return DEFAULT_WORK_FACTOR

    def _dummy_unlock(self, passphrase: bytes) -> None:
        """Spend one scrypt of the real cost on a random stanza that cannot match."""
        stanza = Stanza("scrypt", [age_b64(os.urandom(16)), str(self.work_factor())],
                        os.urandom(32))
        age.ScryptIdentity(passphrase, max_work_factor=22).unwrap([stanza])

    def unlock_recovery(self, code: str) -> bytes:
        return self.unlock(RECOVERY_SLOT, _recovery_passphrase(code))

    def count(self) -> int:
        return sum(1 for _ in self.folder.glob("*.age"))

