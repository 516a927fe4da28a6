"""The format-2 keyring `vault/keyring`: compartments, epochs and who holds them (DESIGN §3).

A UTF-8 JSON file with nothing readable that matters: per compartment and epoch an X25519
public key (age1…) in clear, and its secret (an AGE-SECRET-KEY-1… line) age-encrypted to each
member's identity. Epoch n also carries epoch n−1's secret encrypted to epoch n's public key, so
holding the current epoch opens the older ones (a member added later reads older records)
while a member removed before epoch n never gets it. `forget_before` cuts that chain after every
object of the compartment was re-wrapped (`keys rotate --rewrap`, destructions).

The station key (Ed25519, derived from the `station` compartment's epoch secret) signs the whole
file; each new station key is signed by the previous one, and the first is pinned in every
keyslot (`station-root`), so nobody without a station key can swap a public key or a member's
wrap to make filings open to her.
"""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.crypto import age
from archive.crypto.ed25519 import BadSignature, SigningKey, VerifyKey
from archive.crypto.keys import derive
from archive.errors import AccessDenied, IntegrityError, NotFound
from archive.fs.atomic import write_atomic
from archive.vault.compartments import COMPARTMENTS, STATION, compartments_for_role
from archive.vault.userkeys import UserKeys, member_id

FORMAT = "sgz-keyring"
VERSION = 2
LABEL_STATION_SIGNING = b"sgz/v2/station-signing-ed25519"


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _unb64(s: str) -> bytes:
    return base64.b64decode(s, validate=True)


@functools.lru_cache(maxsize=256)
def _recipient(public: str) -> age.X25519Recipient:
    """A parsed public key (filing wraps every object to the same few)."""
    return age.X25519Recipient.parse(public)


def wrap_identity(identity: age.X25519Identity, to: list[age.X25519Recipient]) -> bytes:
    """An age file whose plaintext is `identity` as an identity-file line."""
    return age.encrypt_bytes((str(identity) + "\n").encode(), to)


def unwrap_identity(blob: bytes, identities: list[age.X25519Identity]) -> age.X25519Identity:
    """Inverse of `wrap_identity`; raises age.AgeError when no identity opens it."""
    text = age.decrypt_bytes(blob, identities).decode("ascii").strip()
    return age.X25519Identity.parse(text)


def station_seed(station_secret: age.X25519Identity) -> bytes:
    """The station Ed25519 seed of a `station` epoch (derived, never stored by itself)."""
    return derive(station_secret.secret_bytes(), LABEL_STATION_SIGNING)


def station_signing_key(station_secret: age.X25519Identity) -> SigningKey:
    return SigningKey(station_seed(station_secret))


def verify(public: bytes, message: bytes, signature: bytes, *, what: str) -> None:
    """Raise IntegrityError naming `what` unless the signature verifies."""
    try:
        VerifyKey(public).verify(signature, message)
    except BadSignature:
        raise IntegrityError(f"{what}的签名无效：文件被改动或来自别处") from None


def _link_message(vault_id: str, epoch: int, public: bytes) -> bytes:
    return f"sgz-station-key\n{vault_id}\n{epoch}\n{_b64(public)}\n".encode()


@dataclass
class Member:
    role: str
    x25519: str  # age1… recipient
    ed25519: bytes  # public signing key (the audit log verifies entries with it)


@dataclass
class Epoch:
    public: str  # age1… recipient
    wraps: dict[str, bytes] = field(default_factory=dict)  # member id → wrapped secret
    previous: bytes | None = None  # epoch n−1's secret wrapped to this epoch


@dataclass
class Compartment:
    current: int
    epochs: dict[int, Epoch]


@dataclass
class StationLink:
    epoch: int
    public: bytes
    sig: bytes  # by the previous link's key over _link_message (empty for the root)


@dataclass
class KeyringV2:
    vault_id: str
    members: dict[str, Member]
    compartments: dict[str, Compartment]
    station_keys: list[StationLink]
    legacy: dict[str, Any] = field(default_factory=dict)  # format-1 material kept by upgrade
    pending: dict[str, Any] = field(default_factory=dict)  # interrupted multi-step operations

    # ---------------------------------------------------------------- serialisation
    def _doc(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "vault_id": self.vault_id,
            "members": {m: {"role": v.role, "x25519": v.x25519, "ed25519": _b64(v.ed25519)}
                        for m, v in sorted(self.members.items())},
            "compartments": {
                name: {"current": c.current, "epochs": {
                    str(n): {"public": e.public,
                             "wraps": {m: _b64(w) for m, w in sorted(e.wraps.items())},
                             **({"previous": _b64(e.previous)} if e.previous else {})}
                    for n, e in sorted(c.epochs.items())}}
                for name, c in sorted(self.compartments.items())
            },
            "station_keys": [{"epoch": s.epoch, "public": _b64(s.public), "sig": _b64(s.sig)}
                             for s in self.station_keys],
            "legacy": self.legacy,
            "pending": self.pending,
        }

    @staticmethod
    def _canonical(doc: dict[str, Any]) -> bytes:
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def to_bytes(self, signer: SigningKey) -> bytes:
        doc = self._doc()
        if signer.public != self.station_keys[-1].public:
            raise AccessDenied("只有站点签名密钥（站长、副站长、恢复码）可以修改密钥环")
        doc["sig"] = _b64(signer.sign(self._canonical(doc)))
        return json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False).encode() + b"\n"

    @classmethod
    def from_bytes(cls, raw: bytes, *, station_root: bytes) -> KeyringV2:
        """Parse and verify against the pinned root (from the unlocking user's keyslot)."""
        try:
            doc = json.loads(raw)
            if doc.get("format") != FORMAT or doc.get("version") != VERSION:
                raise IntegrityError("密钥环不是 sgz 格式 2", found=doc.get("version"))
            sig = _unb64(doc.pop("sig"))
            ring = cls(
                vault_id=str(doc["vault_id"]),
                members={m: Member(v["role"], v["x25519"], _unb64(v["ed25519"]))
                         for m, v in doc["members"].items()},
                compartments={
                    name: Compartment(int(c["current"]), {
                        int(n): Epoch(e["public"], {m: _unb64(w) for m, w in e["wraps"].items()},
                                      _unb64(e["previous"]) if "previous" in e else None)
                        for n, e in c["epochs"].items()})
                    for name, c in doc["compartments"].items()
                },
                station_keys=[StationLink(int(s["epoch"]), _unb64(s["public"]), _unb64(s["sig"]))
                              for s in doc["station_keys"]],
                legacy=dict(doc.get("legacy", {})),
                pending=dict(doc.get("pending", {})),
            )
        except IntegrityError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError):
            raise IntegrityError("密钥环文件 vault/keyring 损坏，无法解析") from None
        ring._verify_chain(station_root)
        verify(ring.station_keys[-1].public, cls._canonical(doc), sig, what="密钥环 vault/keyring")
        return ring

    def _verify_chain(self, station_root: bytes) -> None:
        if not self.station_keys or self.station_keys[0].public != station_root:
            raise IntegrityError("密钥环的站点签名密钥与密钥槽中记录的不一致：密钥环被替换")
        for prev, link in zip(self.station_keys, self.station_keys[1:], strict=False):
            verify(prev.public, _link_message(self.vault_id, link.epoch, link.public), link.sig,
                   what=f"第 {link.epoch} 代站点签名密钥")

    def save(self, path: Path, signer: SigningKey) -> None:
        write_atomic(Path(path), self.to_bytes(signer))

    @classmethod
    def load(cls, path: Path, *, station_root: bytes) -> KeyringV2:
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            raise IntegrityError("密钥环文件 vault/keyring 缺失") from None
        return cls.from_bytes(raw, station_root=station_root)

    # ---------------------------------------------------------------- queries (public data)
    def recipient(self, compartment: str, epoch: int | None = None) -> age.X25519Recipient:
        """The public key filings of `compartment` are wrapped to (current epoch by default)."""
        c = self.compartments[compartment]
        return _recipient(c.epochs[c.current if epoch is None else epoch].public)

    def current(self, compartment: str) -> int:
        return self.compartments[compartment].current

    def members_of(self, compartment: str) -> list[str]:
        return sorted(m for m, v in self.members.items()
                      if compartment in compartments_for_role(v.role))

    def station_public_keys(self) -> list[tuple[int, bytes]]:
        """(epoch, Ed25519 public key) of every station key, oldest first (for audit verify)."""
        return [(s.epoch, s.public) for s in self.station_keys]

    def user_public_keys(self) -> dict[str, bytes]:
        """member id → Ed25519 public key of every current member."""
        return {m: v.ed25519 for m, v in self.members.items()}

    def member(self, vault_id: str, name: str) -> Member:
        try:
            return self.members[member_id(vault_id, name)]
        except KeyError:
            raise NotFound(f"用户“{name}”不在密钥环中（已被移除？）") from None


def new_epoch_identity() -> age.X25519Identity:
    return age.X25519Identity.generate()


def create_keyring(
    vault_id: str, station_secret: age.X25519Identity
) -> tuple[KeyringV2, dict[str, age.X25519Identity]]:
    """A keyring with no members yet: epoch 1 of every compartment; returns it and the epoch
    secrets (the station's is given: its derived key is the root the keyslots pin)."""
    comps: dict[str, Compartment] = {}
    secrets: dict[str, age.X25519Identity] = {}
    for name in COMPARTMENTS:
        ident = station_secret if name == STATION else new_epoch_identity()
        secrets[name] = ident
        comps[name] = Compartment(1, {1: Epoch(str(ident.recipient()))})
    root = station_signing_key(station_secret).public
    return KeyringV2(vault_id, {}, comps, [StationLink(1, root, b"")]), secrets


def member_entry(keys: UserKeys, role: str) -> Member:
    return Member(role, str(keys.recipient), keys.signing.public)
