"""Filing, retrieving and listing records: the service behind `sgz file/get/show/ls`.

Each item is committed atomically: the object is staged (encrypted; a batch's objects made
durable together) first; the 档号, record, component, wrapped key and audit entry are written in
one catalogue transaction; only then is the object published. A crash at any point leaves the
whole item or nothing visible.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from archive.catalog.numbering import parse_retention
from archive.catalog.records import Component, Record
from archive.clock import parse_date
from archive.crypto import age
from archive.errors import (
    Conflict,
    DecryptionFailed,
    NotFound,
    StorageError,
    UsageError,
    ValidationError,
    storage_error,
)
from archive.fs.atomic import private_open_for_write
from archive.fs.background import BLOCK, BlockWriter
from archive.fs.sources import InMemoryFile, open_source
from archive.kernel.door import Grant
from archive.kernel.kernel import Kernel
from archive.policy.rules import RecordFacts
from archive.records.sniff import FileKind, inspect_file
from archive.safetext import clean_title, safe_filename
from archive.search.limits import DEFAULT_LIMITS
from archive.vault.compartments import compartment_for
from archive.vault.objectkeys import WrappedKey
from archive.vault.objects import StagedObject

Source = Path | InMemoryFile  # a file on disk, or one that exists only in memory
Staged = tuple[StagedObject, WrappedKey]  # an encrypted object and its wrapped identity

# Called after a batch is committed with (档号, component id, seq, kind, source, mime) per new
# component, the records as filed (档号 → Record), and their texts if extracted ahead:
# derived data (the search index); filing never fails because of it.
IndexItem = tuple[str, int, int, str, Source, str]
IndexBatch = Callable[[list[IndexItem], dict[str, Record], Any], None]
# Starts extracting the text (and, with titles=True, the document's own title) of
# (source, mime) items while filing goes on; returns a job whose `results()` are the texts in
# order, each with its `title` (SearchService.extract_ahead).
ExtractAhead = Callable[..., Any]

# After a `file` call: make the archival PDFs (归档章) of up to N new items (archival.py).
AfterFile = Callable[[list["FileResult"], int], object]
ARCHIVE_PDF_NOW = 5  # `sgz file` of at most this many items stamps them at once; more: pending

FILE_BATCH = 64  # items per group commit: one catalogue commit and one audit fsync
COMPONENT_KINDS = ("正文", "附件", "定稿", "签字扫描件", "归档PDF", "更正版本", "其他")


@dataclass(frozen=True)
class FileResult:
    path: str
    ref: str
    status: str  # filed | duplicate | component
    seq: int
    title: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_source(path: Source) -> None:
    """Bad input gets a clear error before anything is written."""
    if isinstance(path, InMemoryFile):
        if not path.size:
            raise ValidationError(f"文件为空：{path.name}", ref=path.name)
        return
    if not path.exists():
        raise NotFound(f"文件不存在：{path}", ref=str(path))
    if path.is_dir():
        raise ValidationError(f"“{path}”是文件夹，请指定其中的文件", ref=str(path))
    if not path.is_file():
        raise ValidationError(f"“{path}”不是普通文件", ref=str(path))
    try:
        with open(path, "rb") as f:
            f.read(1)
    except PermissionError:
        raise ValidationError(f"没有读取权限：{path}", ref=str(path)) from None
    except OSError as exc:
        raise ValidationError(f"无法读取 {path}：{exc.strerror}", ref=str(path)) from None
    if path.stat().st_size == 0:
        raise ValidationError(f"文件为空：{path}", ref=str(path))


class RecordService:
    """`sgz file|show|ls|get` over the kernel."""

    def __init__(self, kernel: Kernel, *, default_retention: Callable[[str], str],
                 index_batch: IndexBatch | None = None,
                 after_file: AfterFile | None = None,
                 extract_ahead: ExtractAhead | None = None) -> None:
        self._k = kernel
        self._default_retention = default_retention
        self._index_batch = index_batch
        self._extract_ahead = extract_ahead
        self._after_file = after_file

    # ------------------------------------------------------------------ file
    def file(
        self,
        paths: Sequence[Path | str | InMemoryFile],
        *,
        category: str | None = None,
        title: str | None = None,
        year: int | None = None,
        retention: str | None = None,
        date: str | None = None,
        doc_no: str = "",
        author: str = "",
        household: str = "",
        responsible: str | None = None,
        secrecy: str = "",
        note: str = "",
        precious: bool = False,
        of: str | None = None,
        kind: str | None = None,
        reason: str = "",
        index: bool = True,
        on_result: Callable[[FileResult], None] | None = None,
        archive_pdf_now: int = 0,
        archival: Grant | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> list[FileResult]:
        """File `paths` as new items (or, with `of`, as components of an existing item).
        New items get their archival PDF at once when there are at most `archive_pdf_now` of
        them (the CLI passes ARCHIVE_PDF_NOW); otherwise they are left pending for `sgz stamp`.
        `stop` is asked between batches (the CLI's Ctrl-C): when it says so, the batches
        filed so far are returned, each complete, and nothing more is done."""
        sources: list[Source] = [p if isinstance(p, InMemoryFile) else Path(p) for p in paths]
        if not sources:
            raise UsageError("请至少指定一个要归档的文件")
        if title is not None and len(sources) > 1:
            raise UsageError("--title 只能用于单个文件；多个文件时题名取自各文件本身")
        if title is not None and not clean_title(title):
            raise ValidationError("题名不能为空")
        date8 = parse_date(date) if date else ""
        parent: Record | None = None
        if of is not None:
            parent = self._k.records.get(of.strip())
            if parent.status != "active":
                raise Conflict(f"{parent.ref} 已销毁，不能再添加组件")
            if kind is None:
                kind = "更正版本" if reason else "附件"
            if kind not in COMPONENT_KINDS:
                raise ValidationError(f"未知的组件类型“{kind}”，可选：{'、'.join(COMPONENT_KINDS)}")
            self._authorize_component(parent, kind, reason, archival)
            cls = parent.cls
        else:
            if category is None:
                raise UsageError("请用 --category 指定档案类别（如 FW 或 服务）")
            cls = self._k.station.class_code(category)
            self._k.authorize("record.file", RecordFacts(category=cls))
            retention = parse_retention(retention) if retention else self._default_retention(cls)
            if year is None:
                year = int(date8[:4]) if date8 else self._k.clock.today().year
            if not 1900 <= year <= 2999:
                raise ValidationError(f"年度“{year}”无效", found=year)
        for p in sources:  # every input is checked before anything is written
            _check_source(p)
        # with indexing, the extraction workers read each document's own title as they parse
        # it anyway (isolated, capped); this process only checks the type of each file
        ahead = index and self._index_batch is not None and self._extract_ahead is not None

        def sniff(src: Source) -> FileKind:
            size = src.size if isinstance(src, InMemoryFile) else src.stat().st_size
            return inspect_file(src, title=not (ahead and size <= DEFAULT_LIMITS.max_input))

        # in this thread: checking in 4 threads measured 0.2-0.45 s slower per 1,000 files
        # (GIL hand-offs around every read; ADR 0010 addendum 4)
        kinds = [sniff(src) for src in sources]
        meta = {
            "parent": parent, "kind": kind or "正文", "reason": reason, "given_title": title,
            "cls": cls, "year": year, "retention": retention, "date8": date8,
            "doc_no": doc_no, "author": author, "household": household, "secrecy": secrecy,
            "note": note, "precious": precious, "responsible": responsible, "index": index,
            # where the items' keys go: the parent's, or what sealing puts a new record in
            "compartment": parent.compartment if parent is not None else compartment_for(
                cls, secrecy),
        }
        pairs = list(zip(sources, [k.mime for k in kinds], [k.title for k in kinds],
                         strict=True))
        results = self._file_batches(pairs, meta, on_result, stop)
        if stop is not None and stop():
            return results
        if parent is None and self._after_file is not None and archive_pdf_now > 0:
            self._after_file(results, archive_pdf_now)
        return results

    def _file_batches(self, pairs: list[tuple[Source, str, str | None]], meta: dict[str, Any],
                      on_result: Callable[[FileResult], None] | None,
                      stop: Callable[[], bool] | None = None) -> list[FileResult]:
        """File in batches of FILE_BATCH. The extraction workers (other processes) parse one
        batch ahead while this thread stages, commits and indexes the current one; staging
        is serial on purpose (ADR 0010 addendum 4: staging threads fought over the GIL)."""
        results: list[FileResult] = []
        batches = [pairs[start:start + FILE_BATCH] for start in range(0, len(pairs), FILE_BATCH)]
        ahead = self._extract_ahead if meta["index"] and self._index_batch is not None else None
        jobs: list[Any] = []  # texts being extracted (other processes) while this one files

        def prepare(i: int) -> None:
            if ahead is not None and i < len(batches):
                jobs.append(ahead([(src, mime) for src, mime, _t in batches[i]], titles=True))

        prepare(0)
        for i, batch in enumerate(batches):
            if stop is not None and stop():
                break
            prepare(i + 1)  # one batch ahead: the workers never wait for this one
            for res in self._file_batch(batch, meta, jobs.pop(0) if ahead else None):
                results.append(res)
                if on_result:
                    on_result(res)
        return results

    def _file_batch(self, batch: list[tuple[Source, str, str | None]],
                    meta: dict[str, Any], job: Any = None) -> list[FileResult]:
        """Group commit: stage every object, make them all durable at once, then one
        transaction, one audit write and one catalogue commit for the whole batch; then
        publish. All or nothing per batch. `job`: the batch's texts, extracted ahead in
        other processes."""
        staged: list[tuple[Source, str, str | None, StagedObject]] = []
        wrapped: dict[str, WrappedKey] = {}  # object id → its identity, wrapped while staged
        try:  # opened before the first object is written, so the flush reports any
            # write-back error of the batch (FolderSync)
            flush = self._k.objects.batch_sync()
        except OSError as exc:
            raise storage_error(exc, "归档") from None
        try:
            for src, mime, doc_title in batch:
                obj, key = self._stage(src, meta["compartment"])
                staged.append((src, mime, doc_title, obj))
                wrapped[obj.object_id] = key
            texts = None
            if job is not None:
                try:
                    texts = job.results()
                except Exception:  # derived data never stops a filing: indexed below instead
                    texts = None
            if texts is not None:  # titles the extraction workers read (see `file`)
                staged = [(src, mime, doc_title or text.title, obj) for (src, mime, doc_title, obj),
                          text in zip(staged, texts, strict=True)]
            try:  # contents and names must be durable before the catalogue commits them
                self._k.objects.sync_staged(flush, [obj.object_id for *_, obj in staged])
            except OSError as exc:
                raise storage_error(exc, "归档") from None
            results, new_ids, component_ids, records = self._commit_batch(staged, meta, wrapped)
        except BaseException:
            for *_, obj in staged:
                self._k.objects.discard(obj.object_id)
            raise
        finally:
            flush.close()
        published = set(new_ids)
        try:
            for *_, obj in staged:
                if obj.object_id in published:
                    self._k.objects.publish(obj.object_id)
                else:
                    self._k.objects.discard(obj.object_id)  # a duplicate
        except OSError as exc:  # committed and durable: the next start moves them in place
            raise StorageError(f"{storage_error(exc, '归档文件移入档案库').msg}；"
                               "本批档案已登记，下次打开档案库时自动补完") from None
        if meta["index"] and self._index_batch is not None:
            # the records as filed (what the filer typed: a write-only filer cannot read it
            # back from the sealed catalogue), so indexing reads nothing back per item
            new = [((res.ref, cid, res.seq, meta["kind"], src, mime), text)
                   for (src, mime, _, _obj), res, cid, text
                   in zip(staged, results, component_ids, texts or [None] * len(staged),
                          strict=True) if cid is not None]
            self._index_batch([item for item, _ in new], records,
                              [text for _, text in new] if texts is not None else None)
        return results

    def _stage(self, src: Source, compartment: str) -> Staged:
        """Encrypt one file into the session folder (made durable with its batch by
        `sync_staged`) and wrap its identity to `compartment` (checked again in the
        transaction)."""
        try:
            with open_source(src) as f:
                obj = self._k.objects.stage(f, self._k.keys.fingerprint_key, sync=False,
                                            sm3=self._k.station.sm3_fingerprint)
        except OSError as exc:
            raise storage_error(exc, f"“{src.name}”的归档") from None
        return obj, self._k.object_keys.wrap(obj.identity, compartment)

    def _commit_batch(self, staged: list[tuple[Source, str, str | None, StagedObject]],
                      meta: dict[str, Any], wrapped: dict[str, WrappedKey] | None = None
                      ) -> tuple[list[FileResult], list[str], list[int | None], dict[str, Record]]:
        """One transaction: 档号, records, components, wrapped keys and every audit entry."""
        parent: Record | None = meta["parent"]
        kind: str = meta["kind"]
        now = self._k.clock.iso()
        results: list[FileResult] = []
        audit_items: list[Any] = []
        new_ids: list[str] = []
        component_ids: list[int | None] = []
        seen: dict[str, tuple[str, int]] = {}
        records: dict[str, Record] = {}  # 档号 → a new record as filed (for the index)
        user = self._k.user
        who = (user.name, user.role)
        with self._k.writer_lock, self._k.db.transaction():
            for src, mime, doc_title, obj in staged:
                # control/bidi characters never reach the catalogue (finding 7)
                title = (clean_title(meta["given_title"] or "") or clean_title(doc_title or "")
                         or clean_title(src.stem) or "未命名")
                dup = seen.get(obj.fp_sha) or self._duplicate_of(obj.fp_sha, meta["cls"])
                if dup is not None:
                    results.append(FileResult(str(src), dup[0], "duplicate", dup[1], title))
                    audit_items.append((*who, "record.duplicate", dup[0],
                                        {"filename": stored_name(src.name)}))
                    component_ids.append(None)
                    continue
                if parent is None:
                    ref = self._k.records.next_ref(self._k.station.fonds, "WS", meta["year"],
                                                meta["retention"], meta["cls"])
                    source = "given" if meta["given_title"] else (
                        "document" if doc_title else "filename")
                    target = self._k.records.insert_record(ref, {
                        "title": title, "title_source": source, "doc_no": meta["doc_no"],
                        "author": meta["author"], "date": meta["date8"],
                        "secrecy": meta["secrecy"], "note": meta["note"],
                        "household": meta["household"], "precious": int(meta["precious"]),
                        "responsible": meta["responsible"] if meta["responsible"] is not None else (
                            user.name if user.role == "social_worker" else ""),
                        "filed_at": now, "filed_by": user.name,
                    })
                    ref_text, status, action = str(ref), "filed", "record.file"
                else:
                    target, ref_text, status, action = parent, parent.ref, "component", "record.component"
                component: dict[str, Any] = {
                    "kind": kind, "reason": meta["reason"], "object_id": obj.object_id,
                    "filename": stored_name(src.name), "mime": mime, "size": obj.plain_size,
                    "fp_sha": obj.fp_sha, "fp_sm3": obj.fp_sm3, "added_at": now,
                    "added_by": user.name,
                }
                if parent is not None and kind == "更正版本":
                    component["supersedes"] = self.current_component(parent).id
                self._k.object_keys.add(obj.object_id, obj.identity, obj.cipher_size,
                                        target.compartment,
                                        wrapped=(wrapped or {}).get(obj.object_id))
                cid = self._k.records.add_component(target.id, component)
                seq = self._k.records.component_seq(cid)
                audit_items.append((*who, action, ref_text, {
                    "title": title, "filename": component["filename"], "size": obj.plain_size,
                    "kind": kind,
                    "seq": seq, "reason": meta["reason"] or None}))
                seen[obj.fp_sha] = (ref_text, seq)
                new_ids.append(obj.object_id)
                component_ids.append(cid)
                if parent is None:
                    records[ref_text] = target
                results.append(FileResult(str(src), ref_text, status, seq, title))
            self._k.audit.append_many(audit_items)  # the state change and its entries go together
        return results, new_ids, component_ids, records

    def _duplicate_of(self, fp_sha: str, cls: str) -> tuple[str, int] | None:
        """A filed component with the same content, in a record of the same 问题 (category)
        that this user may see in the catalogue. Any other is not a duplicate: a letter filed
        under 行政 belongs there even if a worker filed the same bytes in a service record (it
        would otherwise point to a record of another category and key compartment); and one
        she may not see is not named to her (that would tell her a hidden record's 档号 and
        that it holds this document)."""
        for ref, seq in self._k.records.find_by_fingerprint(fp_sha):
            rec = self._k.records.get(ref)
            if rec.cls == cls and self._k.may("record.read_meta", rec):
                return ref, seq
        return None

    def _authorize_component(self, parent: Record, kind: str, reason: str,
                             archival: Grant | None) -> None:
        """Who may add a component of `kind` to a filed record. What a record reads as (its
        正文, which a later 正文 or 更正版本 replaces), what outside units are shown (the
        latest 签字扫描件) and its final text (定稿) are the correction scope's; the 归档PDF is
        the stamped rendition's (`archival`: the grant ArchivalService.make holds); 附件 and
        其他 add to a record without changing what it reads as."""
        if kind in ("更正版本", "正文"):
            if not reason.strip():
                raise ValidationError("添加更正版本必须用 --reason 说明更正原因" if kind == "更正版本"
                                      else "为已归档的档案添加正文即是更正，须用 --reason 说明更正原因")
            self._k.authorize("record.correct", parent, reason=reason)
        elif kind in ("定稿", "签字扫描件"):
            self._k.authorize("record.complete", parent)
        elif kind == "归档PDF":
            if archival is None or archival.action != "record.archive_pdf" or (
                    archival.record != parent.ref or archival.user != self._k.user.name):
                self._k.authorize("record.archive_pdf", parent)
        else:
            self._k.authorize("record.file", parent, reason=reason)

    # ------------------------------------------------------------------ read
    def current_component(self, rec: Record, seq: int | None = None) -> Component:
        """The component a read means: `seq`, else the latest 正文/更正版本 not superseded."""
        comps = self._k.records.components(rec.id)
        if not comps:
            raise NotFound(f"{rec.ref} 没有任何组件", ref=rec.ref)
        if seq is not None:
            for c in comps:
                if c.seq == seq:
                    return c
            raise NotFound(f"{rec.ref} 没有第 {seq} 个组件", ref=rec.ref)
        superseded = {c.supersedes for c in comps if c.supersedes is not None}
        main = [c for c in comps if c.kind in ("正文", "更正版本") and c.id not in superseded]
        return main[-1] if main else comps[0]

    def show(self, ref: str) -> dict[str, Any]:
        """Catalogue entry and component list of one item (no plaintext)."""
        rec = self._k.records.get(ref.strip())
        self._k.authorize("record.read_meta", rec)
        self._k.log("record.show", rec.ref)
        comps = self._k.records.components(rec.id)
        return {
            **rec.as_dict(),
            "components": [
                {k: getattr(c, k) for k in ("seq", "kind", "filename", "mime", "size", "reason",
                                             "supersedes", "added_at", "added_by", "text_status")}
                for c in comps
            ],
        }

    def ls(self, *, category: str | None = None, year: int | None = None,
           retention: str | None = None, household: str | None = None,
           include_destroyed: bool = False) -> list[Record]:
        """The 归档文件目录, filtered; items the user may not see are left out silently."""
        cls = self._k.station.class_code(category) if category else None
        ret = parse_retention(retention) if retention else None
        rows = self._k.visible("record.read_meta", self._k.records.list(
            cls=cls, year=year, retention=ret, household=household,
            status=None if include_destroyed else "active"))
        self._k.log("catalog.list", None, category=cls, year=year, retention=ret,
                 household=household or None, count=len(rows))
        return rows

    def _read_grant(self, ref: str, reason: str, component: int | None,
                    no_reason: str) -> tuple[Record, Component, Grant]:
        """What `get` and `read` share: a reason, a live record, the policy's grant, the part."""
        if not reason or not reason.strip():
            raise ValidationError(no_reason)
        rec = self._k.records.get(ref.strip())
        if rec.status != "active":
            raise Conflict(f"{rec.ref} 已于 {rec.destroyed_at} 销毁，只保留目录信息")
        grant = self._k.authorize("record.read", rec, reason=reason)
        return rec, self.current_component(rec, component), grant

    def get(self, ref: str, out: Path | str, *, reason: str, force: bool = False,
            component: int | None = None) -> Path:
        """Decrypt one component to `out` (streaming), after policy and audit."""
        rec, comp, grant = self._read_grant(ref, reason, component,
                                            "导出档案必须用 --reason 说明事由")
        dest = Path(out)
        if dest.is_dir():
            dest = dest / safe_filename(comp.filename)
        refuse_inside_home(self._k.home, dest)
        if not dest.parent.is_dir():  # before the door: nothing is logged as read
            raise NotFound(f"目标文件夹不存在：{dest.parent}", ref=str(dest.parent))
        if dest.exists() and not force:
            raise Conflict(f"{dest} 已存在；如确需覆盖请加 --force")
        part = dest.with_name(f".{dest.name}.sgz-part")
        stream = self._k.door.open(grant, rec, comp, action="record.get",
                                   detail={"reason": reason, "out": str(dest.resolve()),
                                           "flagged": grant.flag})
        try:
            with stream, private_open_for_write(part, exclusive=False) as f:  # plaintext: 0600
                # one reused buffer, and write-back started every 8 MiB: left to the final
                # fsync, a 1 GiB file's dirty pages cost 2.5 s of kernel time in write()
                buf = bytearray(BLOCK)
                view, writer = memoryview(buf), BlockWriter(f.fileno())
                while n := stream.readinto(buf):
                    writer.write(view[:n])
                f.flush()
                os.fsync(f.fileno())
        except age.AgeError:
            with contextlib.suppress(OSError):
                part.unlink()
            self._k.log("decrypt.failed", rec.ref, seq=comp.seq)
            raise DecryptionFailed(f"{rec.ref} 解密失败：对象已损坏") from None
        except OSError as exc:
            with contextlib.suppress(OSError):
                part.unlink()
            raise storage_error(exc, "导出") from None
        os.replace(part, dest)
        if grant.flag:  # a read outside the usual circle: on the head's list (sgz access flags)
            self._k.flag("record.read", rec.ref, grant.rule, reason, None)
        return dest

    def read(self, ref: str, *, reason: str, component: int | None = None,
             to: str = "浏览器下载") -> tuple[Component, bytes]:
        """Decrypt one component into memory (a browser download) under the same rules as
        `get`: a reason, the policy, the audit entry first, a flag for an unusual read."""
        rec, comp, grant = self._read_grant(ref, reason, component, "导出档案必须说明事由")
        stream = self._k.door.open(grant, rec, comp, action="record.get",
                                   detail={"reason": reason, "out": to, "flagged": grant.flag})
        try:
            with stream:
                data = stream.read()
        except age.AgeError:
            self._k.log("decrypt.failed", rec.ref, seq=comp.seq)
            raise DecryptionFailed(f"{rec.ref} 解密失败：对象已损坏") from None
        if grant.flag:
            self._k.flag("record.read", rec.ref, grant.rule, reason, None)
        return comp, data


def stored_name(name: str) -> str:
    """A file name as the catalogue keeps it: one clean line, safe to create again on export."""
    return safe_filename(clean_title(name, max_chars=255))


def refuse_inside_home(home: Any, dest: Path) -> None:
    """Plaintext never goes into the encrypted folders."""
    d = dest.resolve()
    for inner in (home.vault.resolve(), home.indexes.resolve()):
        if d == inner or inner in d.parents:
            raise ValidationError(f"不能把明文导出到加密目录 {inner} 中；请选择其他位置")
