"""`sgz check`: catalogue ↔ objects ↔ keys ↔ index consistency, pending disposals, and
optionally every byte.

The structural pass runs under the writer lock (a consistent view); the --read-data pass
re-hashes each object file (its name is the SHA-256 of its ciphertext), decrypts it through
`Archive.open_plaintext` (audited: no log, no key) and compares the keyed fingerprint.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from archive.audit.errors import AuditTampered
from archive.audit.verify import verify_log
from archive.catalog.records import Component, Record
from archive.crypto import age
from archive.crypto.keys import Fingerprinter, constant_time_equal
from archive.errors import ArchiveError, AuditUnavailable, ValidationError
from archive.kernel.door import Grant
from archive.kernel.kernel import Kernel
from archive.retention.disposal import Disposals
from archive.vault.sealed_catalogue import SealedCatalogue

CHUNK = 1 << 20
FIX_OBJECT_MISSING = "从最近的备份恢复该对象文件（sgz backup verify 确认备份完好后，复制 vault/objects 下同名文件）"
FIX_CORRUPT = "对象已损坏：从最近的备份复制同名对象文件覆盖，再运行 sgz check --read-data"
FIX_ORPHAN = "该文件不属于任何档案（可能是中断的归档留下的）：运行 sgz check --repair 删除"
FIX_CATALOG = "档案目录数据库损坏：停止使用本机，从最近的备份恢复（sgz restore），并联系技术支持"
FIX_AUDIT = "审计日志校验失败：保留现场不要修改，运行 sgz audit verify 查看详情，并报告站长和主管部门"


@dataclass(frozen=True)
class Problem:
    """One finding: a stable code, what is wrong and what to do (Chinese)."""

    code: str
    message: str
    fix: str
    ref: str | None = None


@dataclass
class CheckReport:
    """What `check` found; `ok` is True when there is no problem left."""

    records: int = 0
    components: int = 0
    objects: int = 0
    object_files: int = 0
    read: int = 0
    read_bytes: int = 0
    audit_entries: int = 0
    audit_uncovered: int = 0
    problems: list[Problem] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    index: Any = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, code: str, message: str, fix: str, ref: str | None = None) -> None:
        self.problems.append(Problem(code, message, fix, ref))

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


def _object_rows(k: Kernel) -> dict[str, dict[str, Any]]:
    """id -> {epoch, has_key, state, cipher_size}; read-only (table owned by vault.identities)."""
    rows = k.db.execute(
        "SELECT id, compartment, epoch, wrapped IS NOT NULL AS has_key, state, cipher_size "
        "FROM objects"
    ).fetchall()
    return {r["id"]: dict(r) for r in rows}


def check_structure(k: Kernel, report: CheckReport, *, repair: bool) -> list[tuple[Record, Component]]:
    """Catalogue, object rows, key epochs, object files, staging area, keyring, catalogue pages.

    Returns the live (record, component) pairs for the read-data pass.
    """
    live: list[tuple[Record, Component]] = []
    for (msg,) in k.db.execute("PRAGMA cipher_integrity_check").fetchall():
        report.add("catalog-page", f"档案目录数据库页面校验失败：{msg}", FIX_CATALOG)
    quick = [r[0] for r in k.db.execute("PRAGMA quick_check").fetchall()]
    if quick != ["ok"]:
        report.add("catalog-structure", f"档案目录数据库结构检查失败：{'；'.join(quick[:5])}", FIX_CATALOG)
    rows = _object_rows(k)
    report.objects = len(rows)
    referenced: set[str] = set()
    for rec in k.records.list(status=None):
        report.records += 1
        for comp in k.records.components(rec.id):
            report.components += 1
            referenced.add(comp.object_id)
            where = f"{rec.ref} 第 {comp.seq} 个组件"
            row = rows.get(comp.object_id)
            if row is None:
                report.add("key-missing", f"{where}：目录中没有其对象密钥记录，内容无法解密",
                           "从最近的备份恢复档案库（sgz restore），并联系技术支持", rec.ref)
                continue
            if rec.status != "active":
                if row["state"] == "live":
                    report.add("destroy-unfinished",
                               f"{rec.ref} 已登记销毁，但其对象密钥仍在：销毁未完成",
                               "由站长重新执行该销毁批次（sgz disposal execute），以完成密钥销毁", rec.ref)
                continue
            if row["state"] != "live" or not row["has_key"]:
                report.add("key-destroyed", f"{where}：档案在库，但其对象密钥已被销毁，内容无法解密",
                           "从销毁前的备份核对；如系误销毁，联系技术支持", rec.ref)
                continue
            epochs = k.keys.ring.compartments.get(row["compartment"])
            if epochs is None or row["epoch"] not in epochs.epochs:
                report.add("epoch-unknown",
                           f"{where}：其密钥封装给“{row['compartment']}”分区第 {row['epoch']} 代，"
                           "但密钥环中没有该代密钥",
                           "如有未完成的密钥轮换，用站长账户登录一次即可自动续做；否则从备份恢复", rec.ref)
                continue
            path = k.objects.path(comp.object_id)
            if not path.exists():
                report.add("object-missing", f"{where}：对象文件 {comp.object_id[:12]}… 缺失",
                           FIX_OBJECT_MISSING, rec.ref)
                continue
            size = path.stat().st_size
            if size != row["cipher_size"]:
                report.add("object-size", f"{where}：对象文件长度 {size} 字节，应为 {row['cipher_size']} 字节",
                           FIX_CORRUPT, rec.ref)
            live.append((rec, comp))
    for oid, row in rows.items():
        if oid not in referenced and row["state"] == "live":
            report.notes.append(f"对象密钥 {oid[:12]}… 未被任何组件引用（无害）")
    _check_files(k, report, rows, repair=repair)
    _check_staging(k, report)
    tasks = SealedCatalogue(k.db).key_tasks()
    if tasks:
        todo = "、".join(c for c, _ in tasks)
        report.add("keyring-pending", f"销毁后尚未完成密钥轮换的分区：{todo}",
                   "用站长或副站长账户再登录一次（任意命令），程序会自动完成轮换与重新封装")
    for name, part in k.keys.ring.compartments.items():
        if part.current not in part.epochs:
            report.add("epoch-current", f"密钥环缺少“{name}”分区当前纪元（第 {part.current} 代）",
                       "从最近的备份恢复 vault/keyring（sgz restore）")
    return live


def _check_files(k: Kernel, report: CheckReport, rows: dict[str, dict[str, Any]], *,
                 repair: bool) -> None:
    """Object files on disk that no live catalogue row explains."""
    ids = k.objects.iter_ids()
    report.object_files = len(ids)
    for oid in ids:
        row = rows.get(oid)
        if row is not None and row["state"] == "live":
            continue
        what = "已销毁对象的密文（密钥已销毁，内容无法恢复）" if row else "孤立对象文件（目录中无记录）"
        if repair:
            k.objects.delete(oid)
            report.repaired.append(f"已删除{what} {oid[:12]}…")
        else:
            report.add("object-orphan", f"{what} {oid[:12]}…", FIX_ORPHAN)
    if k.objects.objects.exists():
        for p in k.objects.objects.rglob("*"):
            if p.is_file() and not (p.suffix == ".age" and p.stem in rows) and p.stem not in ids:
                report.add("object-stray", f"对象目录中有不认识的文件：{p.relative_to(k.home.root)}",
                           "确认不是本程序写入的文件后手工移走")


def _check_staging(k: Kernel, report: CheckReport) -> None:
    left = k.objects.leftovers()  # sessions of live processes are not leftovers
    if left:
        report.add("staging-leftover",
                   f"vault/tmp 中有 {len(left)} 个未完成的暂存项（归档被中断）",
                   "再运行任意 sgz 命令（解锁时自动完成或清理），然后重新检查")


def check_audit(k: Kernel, report: CheckReport) -> None:
    try:
        rep = verify_log(k.home.audit)
    except AuditTampered as exc:
        report.add(f"audit-{exc.reason}", f"审计日志：{exc}", FIX_AUDIT, exc.ref)
        return
    except ArchiveError as exc:
        report.add("audit-missing", f"审计日志：{exc}", FIX_AUDIT)
        return
    report.audit_entries = rep.entries
    report.audit_uncovered = rep.uncovered
    if rep.unproven:
        report.notes.append(f"审计日志最后 {rep.unproven} 条没有任何检查点覆盖：这些记录被删改或截短时校验无法发现"
                            "（站长或副站长登录时会签发检查点）")
    if rep.unsigned:
        report.notes.append(f"审计日志有 {rep.unsigned} 条无签名记录（登录失败等），不能证明是谁写入的")
    if rep.uncovered:
        report.notes.append(f"审计日志有 {rep.uncovered} 条尚未被导出的检查点覆盖（可运行 sgz audit checkpoint 导出）")


FIX_INDEX = "运行 sgz index rebuild 重建索引（索引可随时从档案库重建）"


def check_index(k: Kernel, report: CheckReport,
                index_status: Callable[[], dict[str, Any]],
                index_verify: Callable[[], Any] | None = None) -> None:
    """Ask the search concern whether the index holds what it should (pages, structure, one
    document per live component, nothing of records no longer live); derived data."""
    try:
        status = index_status()  # over the indexes of the compartments this user holds
    except ArchiveError as exc:
        report.add("index", f"全文索引：{exc}", FIX_INDEX)
        return
    report.index = status
    if status.get("exists") is False:
        if status.get("expected"):
            report.add("index-missing", "全文索引不存在：检索将无法找到任何档案", FIX_INDEX)
        else:
            report.notes.append("尚未建立全文索引（可运行 sgz index rebuild）")
        return
    if index_verify is not None:
        verdict = index_verify()
        for message in verdict.problems:
            report.add("index", message, FIX_INDEX)
        if verdict.missing:
            report.notes.append(f"全文索引缺少 {len(verdict.missing)} 个文档（如 "
                                f"{verdict.missing[0].split('#')[0]}，可能是归档中断所致），"
                                "检索找不到它们：请运行 sgz index rebuild")


def check_disposals(k: Kernel, report: CheckReport) -> None:
    """Destruction batches left half-way (interrupted) or approved and not yet executed."""
    disposals = Disposals(k.db)
    for b in disposals.list("executing"):
        left = sum(1 for it in b.items if it.state != "destroyed")
        report.add("disposal-interrupted",
                   f"销毁批次 {b.id} 执行中断：尚有 {left} 件未完成销毁",
                   f"由执行人重新运行 sgz disposal execute {b.id}（带同样的监销人）续做", b.id)
    for b in disposals.list("approved"):
        report.notes.append(f"销毁批次 {b.id} 已批准，尚未执行（{len(b.items)} 件）："
                            f"sgz disposal execute {b.id}")


def sample(pairs: list[tuple[Record, Component]], subset: float | None,
           rng: random.Random | None) -> list[tuple[Record, Component]]:
    """All pairs, or a random fraction of them (at least one) drawn with the caller's rng."""
    if subset is None or subset >= 1.0 or not pairs:
        return pairs
    n = max(1, round(len(pairs) * subset))
    picked = (rng or random.Random()).sample(range(len(pairs)), n)
    return [pairs[i] for i in sorted(picked)]


def read_data(k: Kernel, grant: Grant, report: CheckReport, pairs: list[tuple[Record, Component]],
              batch: int = 64) -> None:
    """Re-hash every object file and compare the keyed fingerprint of its decrypted content."""
    readable: list[tuple[Record, Component]] = []
    for rec, comp in pairs:
        where = f"{rec.ref} 第 {comp.seq} 个组件"
        try:
            digest = _sha256_file(k, comp.object_id)
        except FileNotFoundError:
            report.add("object-missing", f"{where}：对象文件 {comp.object_id[:12]}… 缺失",
                       FIX_OBJECT_MISSING, rec.ref)
            continue
        if digest != comp.object_id:
            report.add("object-hash", f"{where}：对象文件的 SHA-256 与文件名不符（密文被改动或损坏）",
                       FIX_CORRUPT, rec.ref)
            continue
        readable.append((rec, comp))
    for start in range(0, len(readable), batch):
        chunk = readable[start:start + batch]
        done = 0
        while done < len(chunk):  # a damaged object is reported, then the batch goes on
            current = done
            try:
                for rec, comp, stream in k.door.open_many(grant, chunk[done:],
                                                          action="check.read", detail={}):
                    _compare(report, rec, comp, stream, k.keys.fingerprint_key)
                    current += 1
                done = len(chunk)
            except AuditUnavailable:
                raise  # no log, no key: the whole check is refused
            except (age.AgeError, ArchiveError) as exc:
                rec, comp = chunk[current]
                done = current + 1
                report.add("decrypt", f"{rec.ref} 第 {comp.seq} 个组件：解密失败（{exc}）",
                           FIX_CORRUPT, rec.ref)


def _compare(report: CheckReport, rec: Record, comp: Component, stream: Any,
             fingerprint_key: bytes) -> None:
    where = f"{rec.ref} 第 {comp.seq} 个组件"
    fp = Fingerprinter(fingerprint_key, sm3=bool(comp.fp_sm3))
    size = 0
    with stream:
        while chunk := stream.read(CHUNK):
            fp.update(chunk)
            size += len(chunk)
    report.read += 1
    report.read_bytes += size
    fp_sha, fp_sm3 = fp.finalize()
    if not (constant_time_equal(fp_sha, comp.fp_sha) and constant_time_equal(fp_sm3, comp.fp_sm3)) \
            or size != comp.size:
        report.add("fingerprint", f"{where}：解密后内容与归档时的指纹不符", FIX_CORRUPT, rec.ref)


def _sha256_file(k: Kernel, object_id: str) -> str:
    h = hashlib.sha256()
    with open(k.objects.path(object_id), "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def parse_subset(text: str | None) -> float | None:
    """'10%', '10' or '0.1' → 0.1; None → None (everything)."""
    if text is None:
        return None
    t = text.strip().rstrip("%").strip()
    try:
        v = float(t)
    except ValueError:
        raise ValidationError(f"抽样比例“{text}”无效，请写成 10%", found=text) from None
    frac = v / 100 if (text.strip().endswith("%") or v > 1) else v
    if not 0 < frac <= 1:
        raise ValidationError(f"抽样比例“{text}”应在 0%–100% 之间", found=text)
    return frac

