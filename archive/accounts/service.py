"""The accounts service: staff users, their roles and their keyslots (`sgz user …`)."""

from __future__ import annotations

from archive.catalog.users import User, check_user_name
from archive.errors import Conflict, ValidationError
from archive.kernel.kernel import Kernel
from archive.policy.roles import parse_role
from archive.vault import lifecycle
from archive.vault.keyslots import normalise_passphrase

MIN_PASSPHRASE = 8


def check_new_passphrase(passphrase: str) -> bytes:
    """A new passphrase, normalised; too short is refused (the message never echoes it)."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise ValidationError(f"口令太短：至少 {MIN_PASSPHRASE} 个字符")
    return normalise_passphrase(passphrase)


class UserService:
    """`sgz user add|list|remove|passwd` over the kernel."""

    def __init__(self, kernel: Kernel) -> None:
        self._k = kernel

    def add(self, name: str, role: str, passphrase: str, *, display: str = "") -> User:
        self._k.authorize("user.manage")
        role = parse_role(role)
        check_user_name(name)
        secret = check_new_passphrase(passphrase)
        k = self._k
        with k.writer_lock, k.db.transaction():
            u = k.users.add(name, role, display=display, when=k.clock.iso(), by=k.user.name)
            keys = lifecycle.add_user(k.keys.files, k.keys.bag, name, role, secret,
                                      work_factor=k.kdf_work_factor)
            k.log_key("user.add", name, grant=role, pub=keys.signing.public,
                      x25519=str(keys.recipient))
            k.seed_monitor(keys)
        return u

    def list(self) -> list[User]:
        self._k.authorize("user.manage")
        return self._k.users.list()

    def remove(self, name: str) -> None:
        k = self._k
        k.authorize("user.manage")
        if name == k.user.name:
            raise Conflict("不能移除当前登录的用户自己")
        with k.writer_lock:
            with k.db.transaction():
                target = k.users.get(name)
                if target.role == "head" and k.users.count_role("head") <= 1:
                    raise Conflict("不能移除唯一的站长账户；请先添加新的站长")
                k.users.remove(name, when=k.clock.iso(), by=k.user.name)
                k.log_key("user.remove", name, role=target.role)
            # outside the transaction: the catalogue is re-keyed when its compartment rotates
            rotated = lifecycle.remove_user(k.keys.files, k.keys.bag, k.db, name)
            k.sync_station_key()  # a head or deputy removed: the station key rotated
            k.log("keys.revoke", name, rotated=rotated,
                  epochs={c: k.keys.ring.current(c) for c in rotated})

    def role(self, name: str, role: str) -> User:
        """Change a user's role: she gets the compartments the new role holds; those she
        leaves are rotated (new epochs only for the remaining members)."""
        k = self._k
        k.authorize("user.manage")
        role = parse_role(role)
        if name == k.user.name:
            raise Conflict("不能改变当前登录的用户自己的角色")
        with k.writer_lock:
            with k.db.transaction():
                target = k.users.get(name)
                if target.role == role:
                    return target
                if target.role == "head" and k.users.count_role("head") <= 1:
                    raise Conflict("不能改变唯一的站长账户的角色；请先添加新的站长")
                k.users.set_role(name, role)
                k.log_key("user.role", name, grant=role, was=target.role)
            rotated = lifecycle.change_role(k.keys.files, k.keys.bag, k.db, name, role)
            k.sync_station_key()
            if rotated:
                k.log("keys.revoke", name, rotated=rotated,
                      epochs={c: k.keys.ring.current(c) for c in rotated})
        return k.users.get(name)

    def passwd(self, new_passphrase: str, *, user: str | None = None) -> None:
        """A new passphrase for `user`'s slot (own slot by default; others need user.manage)."""
        k = self._k
        target = user or k.user.name
        if target != k.user.name:
            k.authorize("user.manage")
        secret = check_new_passphrase(new_passphrase)
        with k.writer_lock:
            k.users.get(target)
            if target == k.user.name:
                k.log("user.passwd", target)
                lifecycle.change_passphrase(k.keys.files, k.keys.bag.user, secret,
                                            work_factor=k.kdf_work_factor)
                return
            # someone else's passphrase: nobody holds her secrets, so she gets new keys
            keys = lifecycle.reset_user(k.keys.files, k.keys.bag, target, secret,
                                        work_factor=k.kdf_work_factor)
            k.log_key("user.key", target, pub=keys.signing.public, reset=True,
                      x25519=str(keys.recipient))
            k.seed_monitor(keys)
