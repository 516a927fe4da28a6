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

from archive.errors import Conflict, IntegrityError
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


@dataclass
class RestoreReport:
    home: str
    vault_id: str
    files: int
    bytes: int
    check: CheckReport

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.vault_id, "home": self.home, "files": self.files, "bytes": self.bytes,
                "check": self.check.as_dict()}


def restore_home(
    src: Path,
    new: Path,
    *,
    unlock: Callable[[Path], Any],
    clock: Callable[[], datetime],
) -> RestoreReport:
    """Restore backup `src` into the new home `new`; `unlock(root)` returns an unlocked Archive."""
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
        home.indexes.mkdir(exist_ok=True)
        (home.vault / "tmp").mkdir(exist_ok=True)
        arc = unlock(part)
        try:
            manifest_sha = hashlib.sha256((src / "MANIFEST.json").read_bytes()).hexdigest()
            arc.kernel.authorize("backup")
            arc.kernel.log("restore", None, source=str(src.resolve()), home=str(new.resolve()),
                    created=manifest.get("created"), manifest_sha256=manifest_sha)
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
    return RestoreReport(str(new), str(manifest.get("vault_id", "")), files, total, report)

