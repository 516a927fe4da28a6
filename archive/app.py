"""`Archive`: one station, unlocked by one user. The CLI and the web UI call only this.

It assembles the kernel and the services over it, and nothing else: every operation lives in
the service named after its CLI group (`sgz access approve` ↔ `arc.access.approve`).
"""

from __future__ import annotations

import contextlib
import json
import os
import tomllib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from archive.access.rights import RightsService
from archive.access.service import AccessService
from archive.accounts.service import UserService, check_new_passphrase
from archive.audit.session import (
    AuditKeys,
    create_log,
    log_format,
    record_failed_unlock,
    upgrade_log,
)
from archive.audit.v1 import append_failed_unlock
from archive.catalog.db import Database
from archive.catalog.records import Records
from archive.catalog.users import User, Users, check_user_name
from archive.clock import Clock, iso, utc_now
from archive.docgen.service import GenerationService
from archive.docgen.workdays import calendar_from_station
from archive.errors import ArchiveError, Conflict, DecryptionFailed, ValidationError
from archive.fs.atomic import FILE_MODE, ensure_private_dir, write_atomic
from archive.kernel.home import HomePaths
from archive.kernel.kernel import Kernel
from archive.kernel.keys import StationKeys
from archive.kernel.station import EXAMPLE_TOML, parse_station
from archive.ops import backup as _backup
from archive.ops.backup import BackupReport
from archive.ops.restore import RestoreReport, restore_home
from archive.ops.service import AuditService, KeyService, MaintenanceService
from archive.paper.service import PaperService
from archive.policy.roles import RECOVERY_USER, parse_role
from archive.records.archival import ArchivalPdfService
from archive.records.service import RecordService
from archive.recovery.open_export import make_recovery_identity
from archive.retention.disposal import Disposals
from archive.retention.disposal_service import DisposalService
from archive.retention.service import HoldService, RetentionService
from archive.search.service import SearchService
from archive.tomlzh import toml_error
from archive.transfer.service import TransferService
from archive.vault import lifecycle
from archive.vault.keyslots import DEFAULT_WORK_FACTOR, recovery_passphrase
from archive.vault.objectkeys import ObjectKeysV2
from archive.vault.objects import ObjectStore
from archive.vault.sealed_catalogue import (
    TAG_FINGERPRINT,
    TAG_HOUSEHOLD,
    SealedCatalogue,
)
from archive.vault.userkeys import member_id


class Archive:
    """An unlocked station archive. Create with `Archive.init`, `unlock` or `unlock_recovery`."""

    def __init__(self, kernel: Kernel) -> None:
        k = self.kernel = kernel
        self.search = SearchService(k, destroyed=Disposals(k.db).destroyed)
        self.retention = RetentionService(k)
        self.records = RecordService(k, default_retention=self.retention.default_for,
                                     index_batch=self.search.index_batch,
                                     extract_ahead=self.search.extract_ahead,
                                     after_file=lambda res, n: self.archival.after_filing(res, n))
        self.archival = ArchivalPdfService(k, records=self.records)
        self.holds = HoldService(k)
        self.gen = GenerationService(station_vars=k.station.template_vars(),
                                     today=k.clock.today, records=self.records,
                                     schedule=self.retention.schedule,
                                     workdir=k.objects.session_dir,
                                     calendar=calendar_from_station(k.home.station_toml),
                                     home=k.home)
        self.disposal = DisposalService(k, records=self.records, retention=self.retention,
                                        rebuild_index=self.search.rebuild,
                                        render_doc=self.gen.render_bytes)
        self.access = AccessService(k, records=self.records)
        self.rights = RightsService(k, records=self.records)
        self.users = UserService(k)
        self.audit = AuditService(k)
        self.maintenance = MaintenanceService(k, index_status=self.search.status,
                                              index_verify=self.search.verify,
                                              archival_status=self.archival.status)
        self.paper = PaperService(k)
        self.transfer = TransferService(k, records=self.records)
        self.keys = KeyService(k, rekey_indexes=self.search.rekey_indexes)

    # ----------------------------------------------------------------- lifecycle
    @classmethod
    def init(cls, root: Path, *, user: str, role: str, passphrase: str,
             station_text: str | None = None, clock: Clock = utc_now,
             kdf_work_factor: int = DEFAULT_WORK_FACTOR, display: str = "") -> tuple[Archive, str]:
        """Create a new station home; return the unlocked archive and the one-time recovery code."""
        home = HomePaths(Path(root))
        if home.is_initialised():
            raise Conflict(f"{home.root} 已经是一个 sgz 站点目录，不能重复初始化")
        check_user_name(user)
        role = parse_role(role)
        if role != "head":  # checked before anything is written: no half-built home
            raise ValidationError("建库的第一个用户须是站长（--role head）：只有站长能添加其他用户，"
                                  "站长和副站长持有站点签名密钥；其他人员建库后由站长添加",
                                  found=role)
        secret = check_new_passphrase(passphrase)
        text = station_text if station_text is not None else EXAMPLE_TOML
        try:
            parse_station(tomllib.loads(text), "station.toml")
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError(f"站点配置不是有效的 TOML：{toml_error(exc)}") from None
        leftovers = sorted(p.name for p in home.vault.iterdir() if p.name != "README.md") \
            if home.vault.exists() else []
        if leftovers:
            raise Conflict(
                f"{home.vault} 中已有文件（{'、'.join(leftovers[:5])}），"
                "可能是未完成的初始化；请换一个空目录，或确认无用后删除 vault/ 再试"
            )
        for d in (home.root, home.vault, home.keys, home.audit, home.indexes):
            ensure_private_dir(d)  # 0700: nothing under a home is for other accounts
        ObjectStore(home.vault).create_dirs()
        if not home.station_toml.exists() or station_text is not None:
            write_atomic(home.station_toml, text.encode("utf-8"))
        else:
            os.chmod(home.station_toml, FILE_MODE)
        vault_id = os.urandom(16).hex()
        files = lifecycle.VaultFiles(home.keys, home.keyring, vault_id)
        bag, code = lifecycle.create_home_keys(files, user, role, secret,
                                               work_factor=kdf_work_factor)
        keys = StationKeys(home, vault_id, bag)
        ident_file, recipient = make_recovery_identity(recovery_passphrase(code),
                                                       work_factor=kdf_work_factor)
        write_atomic(home.recovery_identity, ident_file)
        db = Database(home.catalog, bag.catalog_keys()[0][1], create=True)
        with db.transaction():
            Users(db).add(user, role, display=display.strip(), when=iso(clock()), by=user)
        Records(db)
        ObjectKeysV2(db, bag.ring)
        SealedCatalogue.install(db)
        with db.transaction():
            sc = SealedCatalogue(db)
            for name in (TAG_FINGERPRINT, TAG_HOUSEHOLD):
                sc.secret(name)
        db.close()
        os.chmod(home.catalog, FILE_MODE)  # SQLite gives its -wal/-shm the same mode
        recovery = bag.ring.members[member_id(vault_id, RECOVERY_USER)]
        create_log(home.audit, vault_id, replace(AuditKeys.from_bag(bag), role=role), clock,
                   members=[(RECOVERY_USER, "head", recovery.ed25519)])  # as the kernel logs it
        # last: a crash before this leaves no usable half-home
        home.write_vault_json(vault_id, recovery_recipient=str(recipient))
        arc = cls(Kernel(home, vault_id=vault_id, keys=keys, user=user, clock=clock,
                         kdf_work_factor=kdf_work_factor))
        arc.kernel.log("vault.init", None, station=arc.kernel.station.name,
                       slots=["user", "recovery"])
        return arc, code

    @classmethod
    def unlock(cls, root: Path, *, user: str, passphrase: str, clock: Clock = utc_now,
               **kw: Any) -> Archive:
        """Log in: unlock `user`'s keyslot. A failed attempt is audited (without any secret)."""
        home = HomePaths(Path(root))
        vault_id = home.read_vault_id()
        files = lifecycle.VaultFiles(home.keys, home.keyring, vault_id)
        wf = int(kw.get("kdf_work_factor", DEFAULT_WORK_FACTOR))
        try:
            bag = lifecycle.unlock(files, user, passphrase, work_factor=wf)
        except DecryptionFailed:
            _audit_failed_unlock(home, vault_id, user, clock)
            raise
        except ArchiveError:
            # no such slot: what was typed as a name may be a mistyped passphrase, so it is
            # not written to the log in clear
            _audit_failed_unlock(home, vault_id, "?", clock)
            raise
        return cls(Kernel(home, vault_id=vault_id, keys=StationKeys(home, vault_id, bag),
                          user=user, clock=clock, **kw))

    @classmethod
    def unlock_recovery(cls, root: Path, *, code: str, clock: Clock = utc_now,
                        **kw: Any) -> Archive:
        """Unlock with the printed recovery code; acts as a head-role `recovery` user."""
        home = HomePaths(Path(root))
        vault_id = home.read_vault_id()
        files = lifecycle.VaultFiles(home.keys, home.keyring, vault_id)
        try:
            bag = lifecycle.unlock_recovery(files, code)
        except ArchiveError:
            _audit_failed_unlock(home, vault_id, RECOVERY_USER, clock)
            raise
        account = User(RECOVERY_USER, "head", "恢复码", True, "")
        arc = cls(Kernel(home, vault_id=vault_id, keys=StationKeys(home, vault_id, bag),
                         user=account, clock=clock, **kw))
        arc.kernel.log("auth.recovery", None)
        return arc

    @staticmethod
    def verify_backup(src: Path | str) -> BackupReport:
        """Every file of a backup against its manifest, plus its audit log; needs no key."""
        return _backup.verify_backup(Path(src))

    @staticmethod
    def restore(src: Path | str, new: Path | str, *, unlock: Callable[[Path], Archive],
                clock: Clock, progress: Callable[[int, int], None] | None = None
                ) -> RestoreReport:
        """Restore backup `src` into a new home; `unlock(root)` logs in there (proves the keys);
        the search index is rebuilt as part of the restore (`progress(done, total)`)."""
        return restore_home(Path(src), Path(new), unlock=unlock, clock=clock, progress=progress)

    def close(self) -> None:
        self.search.close()
        self.kernel.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def upgrade_audit_hook(root: Path, clock: Clock = utc_now) -> Callable[[Any], None]:
    """The `on_committed` step of `sgz upgrade` (archive.vault.upgrade.upgrade): convert the
    audit log once the keys are format 2 — the signed `upgrade` entry over the format-1 log and a
    station-signed `user.add` for every user and the recovery account. Idempotent."""
    home = HomePaths(Path(root))

    def hook(bag: Any) -> None:
        vault_id = json.loads(home.vault_json.read_text(encoding="utf-8"))["vault_id"]  # mid-upgrade
        db = lifecycle.open_catalogue(bag, home.catalog)
        try:
            users = [(u.name, u.role) for u in Users(db).list() if u.active]
        finally:
            db.close()
        users.append((RECOVERY_USER, "head"))  # the recovery account acts as a head
        members = bag.ring.members
        keys = replace(AuditKeys.from_bag(bag), role="head" if bag.role == RECOVERY_USER else bag.role)
        upgrade_log(home.audit, vault_id, keys, clock,
                    users=[(n, r, members[member_id(vault_id, n)].ed25519) for n, r in users
                           if n != keys.user and member_id(vault_id, n) in members])

    return hook


def _audit_failed_unlock(home: HomePaths, vault_id: str, user: str, clock: Clock) -> None:
    """Record a failed login; never the passphrase. The log needs no key to append (format 2:
    the unsigned kind, which verify counts apart and which speaks for nobody)."""
    if log_format(home.audit) == 2:
        record_failed_unlock(home.audit, vault_id, user, clock)
        return
    with contextlib.suppress(ArchiveError, OSError, ValueError, KeyError):
        append_failed_unlock(home.audit, user, clock())
