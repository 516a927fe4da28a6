"""The unlocked key bag: one user's keys plus the compartment secrets the keyring wraps to her.

`KeyBag.unlock(ring, user_keys)` walks the keyring: for each compartment her role holds, it
unwraps the current epoch with her identity, then older epochs through each epoch's `previous`
link. Every other key the station uses is derived from an epoch secret here (catalogue database
key, search index keys, sealed-field keys, the station signing key), so what a user can open is
exactly what this bag holds. Membership changes (`add_member`, `remove_member`, `change_role`,
`rotate`, `forget_before`) need the secrets being re-wrapped and, to save the keyring, the
station key.
"""

from __future__ import annotations

import base64

from archive.crypto import age
from archive.crypto.ed25519 import SigningKey
from archive.crypto.keys import derive
from archive.errors import AccessDenied, Conflict, IntegrityError, NotFound
from archive.vault.compartments import (
    AUDIT,
    CATALOGUE,
    STATION,
    compartments_for_role,
    left_compartments,
)
from archive.vault.keyring2 import (
    Epoch,
    KeyringV2,
    Member,
    StationLink,
    _link_message,
    new_epoch_identity,
    station_seed,
    station_signing_key,
    unwrap_identity,
    wrap_identity,
)
from archive.vault.userkeys import UserKeys, member_id

# Another user's session rotated a compartment's keys (a destruction, a role change) after
# this one unlocked: its keys are older than the data now, not damaged.
KEYS_CHANGED = ("档案库的密钥刚刚更新（例如有人执行了销毁，或调整了人员角色），本次登录持有的是旧密钥："
                "请重新登录（命令行：重新运行命令）后再试")

LABEL_CATALOG_DB = b"sgz/v2/catalog-db"
LABEL_INDEX_DB = b"sgz/v2/index-db"
LABEL_FIELDS = b"sgz/v2/sealed-fields"
# Every label a compartment secret is ever derived under (the attack test tries them all).
DERIVED_LABELS = (LABEL_CATALOG_DB, LABEL_INDEX_DB, LABEL_FIELDS)


class KeyBag:
    """What one unlocked user can decrypt and sign with. Never serialised, never logged."""

    def __init__(self, ring: KeyringV2, user: UserKeys, role: str,
                 secrets: dict[str, dict[int, age.X25519Identity]]) -> None:
        self.ring = ring
        self.user = user
        self.role = role
        self._secrets = secrets

    def __repr__(self) -> str:
        return f"KeyBag(user={self.user.name!r}, role={self.role!r}, holds={sorted(self._secrets)})"

    # ---------------------------------------------------------------- unlocking
    @classmethod
    def unlock(cls, ring: KeyringV2, user: UserKeys) -> KeyBag:
        """Open every compartment wrapped to `user` (IntegrityError if the ring disagrees)."""
        if ring.vault_id != user.vault_id:
            raise IntegrityError("密钥环不属于本档案库")
        member = ring.members.get(user.member)
        if member is None:  # removed (her slot outlived a crash): the unknown-user answer
            from archive.vault.keyslots import WRONG_LOGIN, UnknownUser

            raise UnknownUser(WRONG_LOGIN)
        if member.x25519 != str(user.recipient) or member.ed25519 != user.signing.public:
            raise IntegrityError(f"密钥环中用户“{user.name}”的公钥与其密钥槽不一致")
        secrets: dict[str, dict[int, age.X25519Identity]] = {}
        for name in sorted(compartments_for_role(member.role)):
            comp = ring.compartments.get(name)
            if comp is None:
                continue
            blob = comp.epochs[comp.current].wraps.get(user.member)
            if blob is None:
                raise IntegrityError(f"密钥环缺少用户“{user.name}”的“{name}”分区密钥")
            secrets[name] = _walk(comp.epochs, comp.current, _open(blob, [user.identity], name))
        return cls(ring, user, member.role, secrets)

    @classmethod
    def for_new_ring(cls, ring: KeyringV2, user: UserKeys, role: str,
                     epoch_secrets: dict[str, age.X25519Identity]) -> KeyBag:
        """The bag of the user creating a keyring (epoch 1 secrets in hand)."""
        held = compartments_for_role(role)
        return cls(ring, user, role, {c: {1: s} for c, s in epoch_secrets.items() if c in held})

    # ---------------------------------------------------------------- queries
    @property
    def compartments(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def holds(self, compartment: str) -> bool:
        return compartment in self._secrets

    def epochs(self, compartment: str) -> list[int]:
        return sorted(self._held(compartment), reverse=True)

    def identity(self, compartment: str, epoch: int) -> age.X25519Identity:
        held = self._held(compartment)
        try:
            return held[epoch]
        except KeyError:
            if held and epoch > max(held):  # rotated by someone else since this unlock
                raise Conflict(KEYS_CHANGED, found=epoch) from None
            raise IntegrityError(f"“{compartment}”分区第 {epoch} 代密钥已被轮换销毁",
                                 found=epoch) from None

    def identities(self, compartment: str) -> list[age.X25519Identity]:
        """Every held epoch of `compartment`, newest first (to try on an age file)."""
        held = self._held(compartment)
        return [held[e] for e in sorted(held, reverse=True)]

    def derived(self, compartment: str, epoch: int, label: bytes) -> bytes:
        return derive(self.identity(compartment, epoch).secret_bytes(), label)

    def catalog_keys(self) -> list[tuple[int, bytes]]:
        """(epoch, SQLCipher key) of the catalogue, newest first (a re-key may be unfinished)."""
        return [(e, self.derived(CATALOGUE, e, LABEL_CATALOG_DB)) for e in self.epochs(CATALOGUE)]

    def index_key(self, compartment: str) -> bytes:
        """Key of `indexes/<compartment>.db` (current epoch: rebuilt after a rotation)."""
        return self.derived(compartment, self.ring.current(compartment), LABEL_INDEX_DB)

    def index_keys(self, compartment: str) -> list[bytes]:
        """Index keys of every held epoch, newest first: an index built before a rotation still
        opens (then `PRAGMA rekey` it to `index_key`, or rebuild)."""
        return [self.derived(compartment, e, LABEL_INDEX_DB) for e in self.epochs(compartment)]

    def field_key(self, compartment: str, epoch: int) -> bytes:
        return self.derived(compartment, epoch, LABEL_FIELDS)

    @property
    def signer(self) -> tuple[str, bytes]:
        """(name, Ed25519 seed) of the user: what `AuditLog(signer=…)` signs her entries with."""
        return self.user.name, self.user.signing_seed

    def station_seed(self) -> bytes:
        """The current station key's seed (head, deputy, recovery): checkpoints, key entries."""
        if not self.holds(STATION):
            raise AccessDenied("只有站长、副站长或恢复码持有站点签名密钥")
        seed = station_seed(self.identity(STATION, self.ring.current(STATION)))
        if SigningKey(seed).public != self.ring.station_keys[-1].public:
            raise IntegrityError("站点签名密钥与密钥环记录不一致")
        return seed

    def station_signer(self) -> SigningKey:
        """The current station key as a signer (the keyring is saved with it)."""
        return SigningKey(self.station_seed())

    def audit_recipients(self) -> list[age.X25519Recipient]:
        """Where anyone seals audit details: the audit compartment's current public key."""
        return [self.ring.recipient(AUDIT)]

    def audit_identities(self) -> list[age.X25519Identity]:
        """What opens sealed audit details: the audit compartment's epochs (head, authority,
        recovery); empty for everyone else."""
        return self.identities(AUDIT) if self.holds(AUDIT) else []

    def open_sealed(self, compartment: str, epoch: int, blob: bytes) -> bytes:
        """An age file sealed to a compartment epoch (key material, queued index text for the
        door to hand on); raises IntegrityError when it does not open."""
        try:
            return age.decrypt_bytes(blob, [self.identity(compartment, epoch)])
        except age.AgeError:
            raise IntegrityError(f"“{compartment}”分区的密文无法解开（被改动）") from None

    def seal_legacy(self, name: str, compartment: str, secret: bytes) -> None:
        """Keep a secret in the keyring sealed to a compartment's current epoch (anyone can;
        saving the keyring needs the station key). `rewrap` carries it to newer epochs."""
        epoch = self.ring.current(compartment)
        blob = age.encrypt_bytes(secret, [self.ring.recipient(compartment, epoch)])
        self.ring.legacy[name] = {"compartment": compartment, "epoch": epoch,
                                  "wrapped": base64.b64encode(blob).decode()}

    def legacy_secret(self, name: str) -> bytes | None:
        """A format-1 secret the upgrade sealed to a compartment (e.g. the format-1 audit
        detail key, `format1_audit_detail_key`), if this user holds that compartment."""
        item = self.ring.legacy.get(name)
        if not isinstance(item, dict) or not self.holds(str(item["compartment"])):
            return None
        blob = base64.b64decode(item["wrapped"])
        return self.open_sealed(str(item["compartment"]), int(item["epoch"]), blob)

    def _held(self, compartment: str) -> dict[int, age.X25519Identity]:
        try:
            return self._secrets[compartment]
        except KeyError:
            raise AccessDenied(f"当前用户不持有“{compartment}”分区的密钥") from None

    # ---------------------------------------------------------------- membership changes
    def add_member(self, name: str, recipient: age.X25519Recipient, signing_public: bytes,
                   role: str) -> Member:
        """Wrap the current epoch of each of `role`'s compartments to a new member."""
        mid = member_id(self.ring.vault_id, name)
        if mid in self.ring.members:
            raise Conflict(f"用户“{name}”已在密钥环中")
        needed = compartments_for_role(role)
        missing = sorted(c for c in needed if not self.holds(c))
        if missing:
            raise AccessDenied(f"当前用户不持有这些分区的密钥，不能添加该角色：{'、'.join(missing)}")
        member = Member(role, str(recipient), signing_public)
        self.ring.members[mid] = member
        for comp in sorted(needed):
            self._wrap_current(comp, mid, recipient)
        return member

    def remove_member(self, name: str) -> list[str]:
        """Drop a member and rotate every compartment she held; returns them."""
        mid = member_id(self.ring.vault_id, name)
        member = self.ring.members.pop(mid, None)
        if member is None:
            raise NotFound(f"用户“{name}”不在密钥环中")
        left = sorted(left_compartments(member.role, None))
        for comp in left:
            self.rotate(comp)
        return left

    def change_role(self, name: str, new_role: str) -> list[str]:
        """Give the member the compartments she gains; rotate those she leaves (returned)."""
        mid = member_id(self.ring.vault_id, name)
        member = self.ring.members.get(mid)
        if member is None:
            raise NotFound(f"用户“{name}”不在密钥环中")
        old = member.role
        gained = sorted(compartments_for_role(new_role) - compartments_for_role(old))
        missing = [c for c in gained if not self.holds(c)]
        if missing:
            raise AccessDenied(f"当前用户不持有这些分区的密钥，不能授予：{'、'.join(missing)}")
        member.role = new_role
        recipient = age.X25519Recipient.parse(member.x25519)
        for comp in gained:
            self._wrap_current(comp, mid, recipient)
        left = sorted(left_compartments(old, new_role))
        for comp in left:
            self.rotate(comp)
        return left

    def rotate(self, compartment: str) -> int:
        """New epoch keypair wrapped to the current members; the old epoch stays reachable
        through the new one (`previous`), so only holders of the new epoch read old filings."""
        ring = self.ring
        comp = ring.compartments[compartment]
        old_n = comp.current
        old_ident = self.identity(compartment, old_n)
        new_n = max(comp.epochs) + 1
        new_ident = new_epoch_identity()
        new_recipient = new_ident.recipient()
        epoch = Epoch(str(new_recipient), previous=wrap_identity(old_ident, [new_recipient]))
        for mid in ring.members_of(compartment):
            rcpt = age.X25519Recipient.parse(ring.members[mid].x25519)
            epoch.wraps[mid] = wrap_identity(new_ident, [rcpt])
        if compartment == STATION:
            old_signer = self.station_signer()
            public = station_signing_key(new_ident).public
            sig = old_signer.sign(_link_message(ring.vault_id, new_n, public))
            ring.station_keys.append(StationLink(new_n, public, sig))
        for e in comp.epochs.values():
            e.wraps.clear()  # older epochs are reached through the chain from now on
        comp.epochs[new_n] = epoch
        comp.current = new_n
        if self.user.member in epoch.wraps:
            self._secrets[compartment][new_n] = new_ident
        else:
            self._secrets.pop(compartment, None)
        return new_n

    def forget_before(self, compartment: str) -> list[int]:
        """Erase every epoch but the current one (after all its objects were re-wrapped)."""
        comp = self.ring.compartments[compartment]
        dropped = sorted(e for e in comp.epochs if e != comp.current)
        for e in dropped:
            del comp.epochs[e]
            if compartment in self._secrets:
                self._secrets[compartment].pop(e, None)
        comp.epochs[comp.current].previous = None
        return dropped

    def _wrap_current(self, compartment: str, mid: str, recipient: age.X25519Recipient) -> None:
        comp = self.ring.compartments[compartment]
        ident = self.identity(compartment, comp.current)
        comp.epochs[comp.current].wraps[mid] = wrap_identity(ident, [recipient])


def _open(blob: bytes, identities: list[age.X25519Identity], name: str) -> age.X25519Identity:
    try:
        return unwrap_identity(blob, identities)
    except (age.AgeError, UnicodeDecodeError):
        raise IntegrityError(f"密钥环中“{name}”分区的密钥无法解开（密钥环损坏或被改动）") from None


def _walk(epochs: dict[int, Epoch], current: int,
          ident: age.X25519Identity) -> dict[int, age.X25519Identity]:
    """Current epoch's secret → older ones through each `previous` link; checks publics."""
    out: dict[int, age.X25519Identity] = {}
    n = current
    while True:
        if str(ident.recipient()) != epochs[n].public:
            raise IntegrityError(f"密钥环第 {n} 代分区密钥与其公钥不符")
        out[n] = ident
        prev = epochs[n].previous
        if prev is None or (n - 1) not in epochs:
            return out
        ident = _open(prev, [ident], f"第 {n - 1} 代")
        n -= 1


def create_vault_keys(vault_id: str, first_user: str, first_role: str
                      ) -> tuple[KeyBag, UserKeys, UserKeys]:
    """Keys of a new vault: the keyring (recovery and the first user as members), the first
    user's bag, her keys and the recovery keys (both still to be written to slots)."""
    from archive.vault.compartments import RECOVERY_ROLE
    from archive.vault.keyring2 import create_keyring
    from archive.vault.userkeys import RECOVERY_NAME

    ring, secrets = create_keyring(vault_id, new_epoch_identity())
    root = ring.station_keys[0].public
    first = UserKeys.generate(vault_id, first_user, root)
    recovery = UserKeys.generate(vault_id, RECOVERY_NAME, root)
    admin = KeyBag.for_new_ring(ring, recovery, RECOVERY_ROLE, secrets)
    admin.add_member(RECOVERY_NAME, recovery.recipient, recovery.signing.public, RECOVERY_ROLE)
    admin.add_member(first_user, first.recipient, first.signing.public, first_role)
    return KeyBag.for_new_ring(ring, first, first_role, secrets), first, recovery
