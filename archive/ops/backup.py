"""`sgz backup DEST` and `sgz backup verify DEST`: a consistent, self-describing copy of a home.

Layout (the search index is derived data and is never backed up):

    DEST/MANIFEST.json   every file: part, path, size, SHA-256 (no names, titles or secrets)
    DEST/README.txt      what the folders are, in Chinese
    DEST/data/...        station.toml, vault/vault.json, vault/catalog.db, vault/objects/, vault/audit/
    DEST/keys/...        vault/keys/*.age (user and recovery slots), vault/keyring

Key material is kept apart from ciphertext so the two can be stored in different places.
Written into `DEST.partial` and renamed at the end: a crash never leaves a half backup at DEST.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from archive.audit.errors import AuditTampered
from archive.audit.verify import verify_log
from archive.errors import ArchiveError, Conflict, IntegrityError, NotFound, ValidationError
from archive.fs.atomic import (
    FILE_MODE,
    ensure_private_dir,
    fsync_dir,
    private_open_for_write,
    write_atomic,
)
from archive.kernel.kernel import Kernel

FORMAT = "sgz-backup"
FORMAT_VERSION = 1
MANIFEST = "MANIFEST.json"
OPEN_EXPORT = "open-export.age"
README = "README.txt"
PARTIAL_MARK = ".sgz-partial"
CHUNK = 1 << 20
README_TEXT = """sgz 档案库备份

data/  档案库数据：站点配置、档案目录数据库（已加密）、档案对象（已加密）、审计日志。
keys/  密钥材料：各用户的密钥槽、恢复码密钥槽、密钥环。没有口令或恢复码无法使用。
MANIFEST.json  每个文件的大小和 SHA-256，用 sgz backup verify 校验。
open-export.age  开放导出：目录和各文件的解密身份（age 加密，用恢复码打开），
               没有 sgz 时按 docs/recovery.md 用 age 命令恢复。

建议把 keys/ 与 data/ 分开保管（例如分别放在两个加锁的柜子里）。
恢复：sgz restore 本文件夹 --home 新站点目录
"""


@dataclass
class BackupReport:
    """What a backup wrote, or what a verification found."""

    dest: str
    vault_id: str = ""
    created: str = ""
    files: int = 0
    bytes: int = 0
    objects: int = 0
    audit_entries: int = 0
    manifest_sha256: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}


def partial_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".partial")


def prepare_target(dest: Path, *, what: str) -> Path:
    """Check DEST is absent or an empty folder; clear a stale DEST.partial we left; return it."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise Conflict(f"{dest} 已存在且不是空文件夹；请指定一个新的{what}文件夹，"
                       f"例如 {dest / ('sgz-' + what)}")
    part = partial_path(dest)
    if part.exists():
        if not (part / PARTIAL_MARK).exists():
            raise Conflict(f"{part} 已存在但不是 sgz 留下的未完成{what}；请移走后重试")
        shutil.rmtree(part)  # left by an interrupted run: start over
    ensure_private_dir(part)  # 0700: keyslots and keyring go in here
    write_atomic(part / PARTIAL_MARK, b"")
    return part


def finish_target(part: Path, dest: Path) -> None:
    """Atomically move the finished folder into place."""
    (part / PARTIAL_MARK).unlink()
    fsync_dir(part)
    if dest.exists():
        dest.rmdir()  # an empty folder the user made for us
    os.replace(part, dest)
    fsync_dir(dest.parent)


def copy_file(src: Path, dst: Path) -> tuple[int, str]:
    """Copy with fsync into a new 0600 file (folders 0700); return (size, SHA-256 written)."""
    ensure_private_dir(dst.parent)
    h = hashlib.sha256()
    size = 0
    with open(src, "rb") as fi, private_open_for_write(dst, exclusive=False) as fo:
        while chunk := fi.read(CHUNK):
            fo.write(chunk)
            h.update(chunk)
            size += len(chunk)
        fo.flush()
        os.fsync(fo.fileno())
    return size, h.hexdigest()


def sha256_file(path: Path) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _copy_log(src: Path, dst: Path) -> tuple[int, str]:
    """Copy the audit log up to its last complete line (an append may be in flight)."""
    data = src.read_bytes()
    data = data[: data.rfind(b"\n") + 1]
    write_atomic(dst, data, parents=True)
    return len(data), hashlib.sha256(data).hexdigest()


def _copy_catalog(k: Kernel, dst: Path) -> tuple[int, str]:
    """SQLite online backup into a file keyed identically (proved to open); then fsync."""
    ensure_private_dir(dst.parent)
    private_open_for_write(dst, exclusive=False).close()  # 0600 before any page is written
    k.db.backup_to(dst)
    os.chmod(dst, FILE_MODE)
    for extra in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            dst.with_name(dst.name + extra).unlink()
    with open(dst, "rb+") as f:
        os.fsync(f.fileno())
    return sha256_file(dst)


def write_backup(k: Kernel, dest: Path, part: Path, created: str,
                 open_export: Callable[[BinaryIO], None] | None = None) -> BackupReport:
    """Copy everything but the index into `part` (caller holds the writer lock); with
    `open_export`, also write OPEN_EXPORT at the top (docs/recovery.md)."""
    home = k.home
    files: list[dict[str, Any]] = []
    rep = BackupReport(dest=str(dest), vault_id=k.vault_id, created=created)

    def add(part_name: str, rel: Path, size: int, digest: str) -> None:
        files.append({"part": part_name, "path": rel.as_posix(), "size": size, "sha256": digest})

    data, keys = part / "data", part / "keys"
    for src in (home.station_toml, home.vault_json):
        rel = src.relative_to(home.root)
        add("data", rel, *copy_file(src, data / rel))
    rel = home.catalog.relative_to(home.root)
    add("data", rel, *_copy_catalog(k, data / rel))
    live = {oid for oid, state in k.object_keys.all_ids() if state == "live"}
    for oid in sorted(live):
        src = k.objects.path(oid)
        rel = src.relative_to(home.root)
        size, digest = copy_file(src, data / rel)
        if digest != oid:
            raise IntegrityError(f"对象文件 {oid[:12]}… 的内容与其名称不符（已损坏），备份未完成；"
                                 "请先运行 sgz check --read-data", ref=oid)
        add("data", rel, size, digest)
        rep.objects += 1
    audit_rel = home.audit.relative_to(home.root)
    add("data", audit_rel / "log.jsonl", *_copy_log(home.audit / "log.jsonl", data / audit_rel / "log.jsonl"))
    cps = home.audit / "checkpoints"
    if cps.is_dir():
        for src in sorted(cps.iterdir()):
            if src.suffix in (".note", ".exported"):
                rel = src.relative_to(home.root)
                add("data", rel, *copy_file(src, data / rel))
    for src in sorted(home.keys.iterdir()):
        if src.is_file() and src.suffix == ".age":
            rel = src.relative_to(home.root)
            add("keys", rel, *copy_file(src, keys / rel))
    rel = home.keyring.relative_to(home.root)
    add("keys", rel, *copy_file(home.keyring, keys / rel))
    if open_export is not None:
        with private_open_for_write(part / OPEN_EXPORT) as f:
            open_export(f)
            f.flush()
            os.fsync(f.fileno())
        add("meta", Path(OPEN_EXPORT), *sha256_file(part / OPEN_EXPORT))
    readme = README_TEXT.encode("utf-8")
    write_atomic(part / README, readme)
    add("meta", Path(README), len(readme), hashlib.sha256(readme).hexdigest())
    manifest = {
        "format": FORMAT, "version": FORMAT_VERSION, "vault_id": k.vault_id, "created": created,
        "parts": {"data": "密文与审计日志", "keys": "密钥材料（密钥槽、密钥环）"},
        "files": files,
    }
    raw = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
    write_atomic(part / MANIFEST, raw)
    rep.files = len(files)
    rep.bytes = sum(f["size"] for f in files)
    rep.manifest_sha256 = hashlib.sha256(raw).hexdigest()
    return rep


def _file_path(root: Path, entry: dict[str, Any]) -> Path:
    rel = Path(entry["path"])
    if rel.is_absolute() or ".." in rel.parts:
        raise IntegrityError(f"备份清单中的路径不安全：{entry['path']}")
    return root / rel if entry["part"] == "meta" else root / entry["part"] / rel


def read_manifest(src: Path) -> dict[str, Any]:
    path = src / MANIFEST
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"{src} 不是 sgz 备份（找不到 {MANIFEST}）") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"{MANIFEST} 已损坏：{exc}") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT or not isinstance(m.get("files"), list):
        raise IntegrityError(f"{MANIFEST} 不是 sgz 备份清单")
    if int(m.get("version", 0)) > FORMAT_VERSION:
        raise IntegrityError("备份格式比本程序新，请升级 sgz", found=m.get("version"))
    for e in m["files"]:
        if not isinstance(e, dict) or e.get("part") not in ("data", "keys", "meta") \
                or not isinstance(e.get("path"), str) or not isinstance(e.get("size"), int) \
                or not isinstance(e.get("sha256"), str):
            raise IntegrityError(f"{MANIFEST} 中有无效的条目")
    return m


def iter_files(src: Path, manifest: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Path]]:
    for e in manifest["files"]:
        yield e, _file_path(src, e)


def verify_backup(src: Path) -> BackupReport:
    """Check every file against the manifest, look for unlisted files, verify the log copy."""
    src = Path(src)
    if not src.is_dir():
        raise NotFound(f"备份文件夹不存在：{src}")
    m = read_manifest(src)
    raw = (src / MANIFEST).read_bytes()
    rep = BackupReport(dest=str(src), vault_id=str(m.get("vault_id", "")), created=str(m.get("created", "")),
                       manifest_sha256=hashlib.sha256(raw).hexdigest())
    listed: set[Path] = set()
    for e, path in iter_files(src, m):
        listed.add(path)
        rep.files += 1
        try:
            size, digest = sha256_file(path)
        except FileNotFoundError:
            rep.problems.append(f"缺少文件：{e['part']}/{e['path']}")
            continue
        rep.bytes += size
        if size != e["size"]:
            rep.problems.append(f"文件长度不符：{e['part']}/{e['path']}（应为 {e['size']} 字节，实为 {size} 字节）")
        elif digest != e["sha256"]:
            rep.problems.append(f"文件内容被改动或损坏（SHA-256 不符）：{e['part']}/{e['path']}")
        if "/objects/" in "/" + e["path"]:
            rep.objects += 1
    for path in src.rglob("*"):
        if path.is_file() and path != src / MANIFEST and path not in listed:
            rep.problems.append(f"清单中没有的多余文件：{path.relative_to(src).as_posix()}")
    audit = src / "data" / "vault" / "audit"
    try:
        rep.audit_entries = verify_log(audit).entries
    except AuditTampered as exc:
        rep.problems.append(f"备份中的审计日志校验失败：{exc}")
    except ArchiveError as exc:
        rep.problems.append(f"备份中的审计日志：{exc}")
    return rep


def refuse_inside(dest: Path, home_root: Path) -> None:
    d, h = dest.resolve(), home_root.resolve()
    if d == h or h in d.parents:
        raise ValidationError(f"备份目标 {dest} 在站点目录之内；请选择站点目录之外的位置（如移动硬盘）")
