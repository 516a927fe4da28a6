"""`sgz restore SRC --home NEW`: rebuild a station home from a verified backup.

Copies into `NEW.partial`, proves the keys work by unlocking as the given user, runs the full
read-data check, audits the restore into the restored log, and only then renames to NEW.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.errors import Conflict, IntegrityError, storage_error
from archive.fs.atomic import ensure_private_dir
from archive.kernel.home import HomePaths
from archive.ops.backup import (
    copy_file,
    finish_target,
    iter_files,
    prepare_target,
    read_manifest,
    verify_backup,
)
from archive.ops.check import CheckReport
from archive.vault.upgrade import vault_format


@dataclass
class RestoreReport:
    home: str
    vault_id: str
    files: int
    bytes: int
    check: CheckReport | None  # None: a format-1 backup, restored as it was (needs_upgrade)
    indexed: int = 0  # documents in the search index rebuilt as part of the restore
    needs_upgrade: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.vault_id, "home": self.home, "files": self.files, "bytes": self.bytes,
                "indexed": self.indexed, "check": self.check.as_dict() if self.check else None,
                "needs_upgrade": self.needs_upgrade}


def restore_home(
    src: Path,
    new: Path,
    *,
    unlock: Callable[[Path], Any],
    clock: Callable[[], datetime],
    progress: Callable[[int, int], None] | None = None,
) -> RestoreReport:
    """Restore backup `src` into the new home `new`; `unlock(root)` returns an unlocked Archive.

    The search index is not in a backup (derived data): it is rebuilt here, before the new
    home is put in place, so searching a restored home never silently answers nothing.
    `progress(done, total)` is called while indexing. Every file and folder written is
    0600/0700; a full or read-only disk ends in StorageError (exit 9).
    """
    try:
        return _restore(src, new, unlock=unlock, clock=clock, progress=progress)
    except OSError as exc:
        raise storage_error(exc, "恢复") from None


def _restore(src: Path, new: Path, *, unlock: Callable[[Path], Any],
             clock: Callable[[], datetime],
             progress: Callable[[int, int], None] | None) -> RestoreReport:
    src, new = Path(src), Path(new)
    if HomePaths(new).is_initialised():
        raise Conflict(f"{new} 已经是一个 sgz 站点目录；恢复只能写入新的空目录")
    vb = verify_backup(src)
    if not vb.ok:
        raise IntegrityError("备份校验失败，未恢复：" + "；".join(vb.problems[:5]),
                             details=vb.problems)
    manifest = read_manifest(src)
    part = prepare_target(new, what="站点目录")
    try:
        files = total = 0
        for e, path in iter_files(src, manifest):
            if e["part"] == "meta":
                continue
            size, digest = copy_file(path, part / e["path"])
            if size != e["size"] or digest != e["sha256"]:
                raise IntegrityError(f"复制 {e['part']}/{e['path']} 时内容与清单不符，未恢复")
            files += 1
            total += size
        home = HomePaths(part)
        ensure_private_dir(home.indexes)
        ensure_private_dir(home.vault / "tmp")
        if vault_format(part) < 2:
            # a format-1 backup restores as it was; `sgz upgrade` in the new home converts it
            # (the same path as any format-1 home), and only then can it be unlocked
            finish_target(part, new)
            return RestoreReport(str(new), str(manifest.get("vault_id", "")), files, total,
                                 None, needs_upgrade=True)
        arc = unlock(part)
        try:
            manifest_sha = hashlib.sha256((src / "MANIFEST.json").read_bytes()).hexdigest()
            arc.kernel.authorize("backup")
            arc.kernel.log("restore", None, source=str(src.resolve()), home=str(new.resolve()),
                    created=manifest.get("created"), manifest_sha256=manifest_sha)
            indexed = arc.search.rebuild(progress=progress)  # before check: it verifies it
            report = arc.maintenance.check(read_data=True)
        finally:
            arc.close()
        if not report.ok:
            raise IntegrityError("恢复后的完整性检查未通过：" + "；".join(p.message for p in report.problems[:5]),
                                 details=[p.message for p in report.problems])
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(part)
        raise
    finish_target(part, new)
    return RestoreReport(str(new), str(manifest.get("vault_id", "")), files, total, report,
                         indexed)

