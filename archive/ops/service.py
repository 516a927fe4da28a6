"""Maintenance services: `sgz check`, `backup`, `keys rotate` and `audit log|checkpoint`.

The work itself lives in `archive/ops/check.py`, `backup.py` and `restore.py`; these services
are the policy + audit front door over the kernel.
"""

from __future__ import annotations

import contextlib
import random
import shutil
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

import sqlcipher3

from archive.audit.log import Entry
from archive.audit.names import action_code, action_name
from archive.catalog.numbering import parse_ref
from archive.crypto import age
from archive.errors import ArchiveError, StorageError, ValidationError, storage_error
from archive.host.memory import memlock_limit, swap_areas, swap_note
from archive.kernel.door import Grant
from archive.kernel.kernel import Kernel
from archive.ops import backup as _backup
from archive.ops import check as _check
from archive.ops.backup import BackupReport
from archive.ops.check import CheckReport
from archive.policy.rules import Actor, decide
from archive.recovery.open_export import seal_open_export
from archive.transfer.adapt import export_record


class MaintenanceService:
    """`sgz check` and `sgz backup` (backup verification and restore need no unlocked home)."""

    def __init__(self, kernel: Kernel, *, index_status: Callable[[], dict[str, Any]],
                 index_verify: Callable[[], Any] | None = None,
                 archival_status: Callable[[], dict[str, int]] | None = None) -> None:
        self._k = kernel
        self._index_status = index_status
        self._index_verify = index_verify
        self._archival_status = archival_status

    def check(self, *, read_data: bool = False, subset: float | None = None,
              rng: random.Random | None = None, repair: bool = False) -> CheckReport:
        """Consistency of catalogue, objects, keys, staging, keyring, audit log and index; with
        `read_data`, every (or a `subset` fraction of) object re-hashed, decrypted and compared."""
        grant = self._k.authorize("check")
        self._k.log("check.begin", None, read_data=read_data, subset=subset, repair=repair)
        report = CheckReport()
        with self._k.writer_lock:
            pairs = _check.check_structure(self._k, report, repair=repair)
        if report.repaired:
            self._k.log("check.repair", None, repaired=len(report.repaired))
        _check.check_audit(self._k, report)
        _check.check_index(self._k, report, self._index_status, self._index_verify)
        _check.check_disposals(self._k, report)
        if self._archival_status is not None:
            st = self._archival_status()
            if st["pending"]:
                report.notes.append(f"有 {st['pending']} 件档案尚未制作加盖归档章的长期保存版本"
                                    "（可运行 sgz stamp --pending）")
            if st["failed"]:
                report.notes.append(f"有 {st['failed']} 件档案未能制作长期保存版本"
                                    "（sgz stamp --pending --retry 重试，原因见审计日志）")
        swap = swap_note(swap_areas(), memlock_limit())
        if swap:
            report.notes.append(swap)
        if read_data:
            _check.read_data(self._k, grant, report, _check.sample(pairs, subset, rng))
        self._k.log("check", None, read_data=read_data, problems=len(report.problems),
                    codes=sorted({p.code for p in report.problems}), read=report.read,
                    read_bytes=report.read_bytes)
        return report

    def backup(self, dest: Path | str, *, warn: Callable[[str], None] | None = None
               ) -> BackupReport:
        """Consistent snapshot (writer lock held) into DEST/{data,keys}, with a manifest, and
        the open export (catalogue + object identities sealed to the recovery recipient) that
        lets `age` alone recover every record (docs/recovery.md). A home made before the
        recovery identity existed gets a warning through `warn` and no open export."""
        grant = self._k.authorize("backup")
        recipient = self._k.home.read_recovery_recipient()
        if recipient is None and warn is not None:
            warn("本档案库建立时还没有“恢复身份”，备份中不含开放导出（open-export.age），"
                 "没有 sgz 时无法只用 age 恢复；请升级档案库或重新发放恢复码后再备份")
        dest = Path(dest).absolute()
        _backup.refuse_inside(dest, self._k.home.root)
        with self._k.writer_lock:
            self._k.log("backup.begin", None, dest=str(dest))
            if self._k.can_checkpoint():  # station-key holders: the copy carries a checkpoint
                self._k.checkpoint()
            try:
                part = _backup.prepare_target(dest, what="备份")
            except OSError as exc:
                raise storage_error(exc, f"备份（{dest}）") from None
            try:
                report = _backup.write_backup(
                    self._k, dest, part, self._k.clock.iso(),
                    open_export=None if recipient is None else
                    lambda out: self._open_export(grant, out, recipient, warn))
                _backup.finish_target(part, dest)
            except BaseException as exc:
                with contextlib.suppress(OSError):
                    shutil.rmtree(part)
                if isinstance(exc, OSError):  # a full or read-only disk: no traceback
                    raise storage_error(exc, f"备份（{dest}）") from None
                if isinstance(exc, sqlcipher3.DatabaseError) and _disk_full(exc):
                    raise StorageError(f"磁盘空间不足，备份（{dest}）未完成") from None
                raise
        self._k.log("backup", None, dest=str(dest), files=report.files, bytes=report.bytes,
                    objects=report.objects, manifest_sha256=report.manifest_sha256)
        return report


    def _open_export(self, grant: Grant, out: BinaryIO, recipient: str,
                     warn: Callable[[str], None] | None = None) -> None:
        """Every record (destroyed ones as catalogue lines) and the identity of every live
        component whose compartment the backup-maker holds; the others stay catalogue lines
        and a warning says a head's backup gives the complete open export."""
        k = self._k
        rows = []
        for rec in k.records.list(status=None):
            comps = k.records.components(rec.id) if rec.status == "active" else []
            rows.append(export_record(rec, comps))
        oids = [c.object_id for r in rows for c in r.components]
        idents = k.door.identities_for_backup(grant, oids)
        missing = {r.ref for r in rows for c in r.components if c.object_id not in idents}
        if missing:
            rows = [replace(r, components=tuple(c for c in r.components
                                                if c.object_id in idents)) for r in rows]
            if warn is not None:
                warn(f"开放导出中有 {len(missing)} 件档案只含目录、不含解密密钥（您不持有其分区的"
                     "密钥，例如服务档案）；备份本身完整。要得到可只用 age 恢复全部档案的开放导出，"
                     "请由站长再做一次备份")
        seal_open_export(rows, idents.__getitem__, out, age.X25519Recipient.parse(recipient))


class KeyService:
    """`sgz keys rotate [--rewrap]` (vault format 2: every compartment gets a new epoch)."""

    def __init__(self, kernel: Kernel, *, rekey_indexes: Callable[[], None] | None = None) -> None:
        self._k = kernel
        self._rekey_indexes = rekey_indexes

    def rotate(self, *, rewrap: bool = False) -> int:
        """New epochs wrapped to the current members (head only); with `rewrap`, every object
        identity and sealed field moves to them and the old epochs are erased. Returns the
        catalogue's new epoch."""
        grant = self._k.authorize("keys.rotate")
        epoch = self._k.rotate_epoch(grant)
        if rewrap:
            if self._rekey_indexes is not None:
                self._rekey_indexes()  # while the older epochs still open them
            self._k.rewrap(grant)
        return epoch


class AuditService:
    """`sgz audit log|checkpoint` (verification needs no key: archive/audit/verify.py)."""

    def __init__(self, kernel: Kernel) -> None:
        self._k = kernel

    def history(self, *, since: datetime | None = None, actor: str | None = None,
                action: str | None = None, ref: str | None = None, before: int | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        """Log entries, filtered, with Chinese action names; details only for `audit.details`
        roles. Reading the log is itself audited (before anything is read).

        With `limit`, only the newest `limit` matching entries (below seq `before`, if given),
        in log order: a page of a long log costs one pass and decrypts only that page."""
        self._k.authorize("audit.read")
        code = action_code(action) if action else None
        if ref:  # a 档号 typed with "-", ".", lower case or full width still matches
            with contextlib.suppress(ValidationError):
                ref = parse_ref(ref)
            ref = ref.strip()
        user = self._k.user
        show_details = decide(Actor(user.name, user.role), "audit.details").allowed
        self._k.log("audit.read", None, since=since.isoformat() if since else None,
                    filter={k: v for k, v in (("actor", actor), ("action", code), ("ref", ref))
                            if v},
                    details=show_details)
        out = []
        found: Iterable[Entry]
        if limit is None:
            found = self._k.audit.entries(since=since, actor=actor, action=code, ref=ref)
            if before is not None:
                found = (e for e in found if e.seq < before)
        else:  # read from the end: a page costs a page, not the whole log
            newest = self._k.audit.entries(since=since, actor=actor, action=code, ref=ref,
                                           newest_first=True)
            page = list(islice((e for e in newest if before is None or e.seq < before),
                               max(0, limit)))
            found = reversed(page)
        for e in found:
            detail: dict[str, Any] | None = None
            if show_details:
                try:
                    detail = self._k.audit.detail_of(e)
                except ArchiveError:  # a damaged detail is shown as such, not raised
                    detail = {"错误": "详情无法解密（已损坏）"}
            out.append({
                "seq": e.seq, "ts": e.ts, "actor": e.actor, "role": e.role, "action": e.action,
                "action_name": action_name(e.action), "ref": e.ref,
                "sealed": e.sealed is not None, "detail": detail,
            })
        return out

    def checkpoint(self) -> dict[str, Any]:
        """Sign a checkpoint covering the log (including this export's own entry), marked exported."""
        self._k.authorize("audit.read")
        self._k.log("audit.checkpoint", None)
        note = self._k.checkpoint(export=True)
        size = int(note.split("\n")[1])
        return {"id": size, "size": size, "root": note.split("\n")[2], "note": note}


def _disk_full(exc: Exception) -> bool:
    """SQLite reports a full disk as its own error, not as an OSError."""
    text = str(exc).lower()
    return "disk is full" in text or "disk i/o error" in text
