# mypy: disable-error-code="misc"
# (Archive mixins annotate `self: Archive`; mypy calls that an "erased type of self".)
"""Archive methods for the audit log, integrity checks, backup, restore and keys (issue #3).

The work itself lives in `archive/ops/`; these methods are the policy + audit front door.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.audit.verify import verify_log
from archive.errors import ArchiveError
from archive.ops import backup as _backup
from archive.ops import check as _check
from archive.ops.check import CheckReport
from archive.ops.history import action_code, action_name

if TYPE_CHECKING:
    from archive.core import Archive
    from archive.ops.backup import BackupReport
    from archive.ops.restore import RestoreReport


class MaintenanceMixin:
    """Methods of `Archive` for `sgz audit`, `check`, `backup`, `restore`, `keys` (see archive/core.py)."""

    # ------------------------------------------------------------------ audit
    def maybe_checkpoint(self: Archive) -> None:
        """At unlock: sign a checkpoint if one is due (daily), but never over a log that fails
        verification, and never let it block the login (`sgz check` reports such problems)."""
        with contextlib.suppress(ArchiveError, OSError):
            if self.audit.checkpoint_due():
                verify_log(self.home.audit)
                self.audit.checkpoint()

    def audit_history(self: Archive, *, since: datetime | None = None, actor: str | None = None,
                      action: str | None = None, ref: str | None = None) -> list[dict[str, Any]]:
        """Log entries, filtered, with Chinese action names; details only for `audit.details` roles.

        Reading the log is itself audited (before anything is read)."""
        from archive.access.policy import Actor, decide

        self.authorize("audit.read")
        code = action_code(action) if action else None
        show_details = decide(Actor(self.user.name, self.user.role), "audit.details").allowed
        self.log("audit.read", None, since=since.isoformat() if since else None,
                 filter={k: v for k, v in (("actor", actor), ("action", code), ("ref", ref)) if v},
                 details=show_details)
        out = []
        for e in self.audit.entries(since=since, actor=actor, action=code, ref=ref):
            detail: dict[str, Any] | None = None
            if show_details:
                try:
                    detail = self.audit.detail_of(e)
                except ArchiveError:  # a damaged detail is shown as such, not raised
                    detail = {"错误": "详情无法解密（已损坏）"}
            out.append({
                "seq": e.seq, "ts": e.ts, "actor": e.actor, "role": e.role, "action": e.action,
                "action_name": action_name(e.action), "ref": e.ref,
                "sealed": e.sealed is not None, "detail": detail,
            })
        return out

    def export_checkpoint(self: Archive) -> dict[str, Any]:
        """Sign a checkpoint covering the log (including this export's own entry), marked exported."""
        self.authorize("audit.read")
        self.log("audit.checkpoint", None)
        note = self.audit.checkpoint(export=True)
        size = int(note.split("\n")[1])
        return {"id": size, "size": size, "root": note.split("\n")[2], "note": note}

    # ------------------------------------------------------------------ check
    def check(self: Archive, *, read_data: bool = False, subset: float | None = None,
              rng: random.Random | None = None, repair: bool = False) -> CheckReport:
        """Consistency of catalogue, objects, keys, staging, keyring, audit log and index; with
        `read_data`, every (or a `subset` fraction of) object re-hashed, decrypted and compared."""
        self.authorize("check")
        self.log("check.begin", None, read_data=read_data, subset=subset, repair=repair)
        report = CheckReport()
        with self.writer_lock:
            pairs = _check.check_structure(self, report, repair=repair)
        if report.repaired:
            self.log("check.repair", None, repaired=len(report.repaired))
        _check.check_audit(self, report)
        _check.check_index(self, report)
        if read_data:
            _check.read_data(self, report, _check.sample(pairs, subset, rng))
        self.log("check", None, read_data=read_data, problems=len(report.problems),
                 codes=sorted({p.code for p in report.problems}), read=report.read,
                 read_bytes=report.read_bytes)
        return report

    # ------------------------------------------------------------------ backup / restore
    def backup(self: Archive, dest: Path | str) -> BackupReport:
        """Consistent snapshot (writer lock held) into DEST/{data,keys}, with a manifest."""
        self.authorize("backup")
        dest = Path(dest).absolute()
        _backup.refuse_inside(dest, self.home.root)
        with self.writer_lock:
            self.log("backup.begin", None, dest=str(dest))
            self.audit.checkpoint()  # the copy carries a signed checkpoint of itself
            part = _backup.prepare_target(dest, what="备份")
            try:
                report = _backup.write_backup(self, dest, part, self.now())
            except BaseException:
                import shutil

                with contextlib.suppress(OSError):
                    shutil.rmtree(part)
                raise
            _backup.finish_target(part, dest)
        self.log("backup", None, dest=str(dest), files=report.files, bytes=report.bytes,
                 objects=report.objects, manifest_sha256=report.manifest_sha256)
        return report

    @staticmethod
    def verify_backup(src: Path | str) -> BackupReport:
        """Every file of a backup against its manifest, plus its audit log; needs no key."""
        return _backup.verify_backup(Path(src))

    @classmethod
    def restore(cls, src: Path | str, new: Path | str, *, unlock: Callable[[Path], Archive],
                clock: Callable[[], datetime]) -> RestoreReport:
        """Restore backup `src` into a new home; `unlock(root)` logs in there (proves the keys)."""
        from archive.ops.restore import restore_home

        return restore_home(Path(src), Path(new), unlock=unlock, clock=clock)

    # ------------------------------------------------------------------ keys
    def rotate_keys(self: Archive) -> int:
        """New epoch key; every live object identity re-wrapped; the old key erased (head only)."""
        self.authorize("keys.rotate")
        return self.rotate_epoch()

