"""The disposal service (`sgz disposal …`): propose (销毁清册), approve, execute (crypto-shred).

Execution order per record: policy → intent audit entry → one transaction that forgets every
component's identity and marks the record destroyed (catalogue line kept) → delete ciphertext.
After the batch: rotate the epoch (the old key that wrapped the destroyed identities is erased),
rebuild the search index under a fresh key, outcome entry, signed checkpoint. Each item has its
own state, so a re-run after a crash continues where it stopped.
"""

from __future__ import annotations

import builtins
import contextlib
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from archive.catalog.numbering import RETENTIONS
from archive.catalog.records import Record
from archive.errors import Conflict, NotFound, UsageError
from archive.kernel.kernel import Kernel
from archive.records.service import RecordService
from archive.retention.disposal import Batch, Disposals, check_batch_id
from archive.retention.schedule import expires_on
from archive.retention.service import RetentionService
from archive.vault.index_queue import IndexQueue

REGISTER_TEMPLATE = "destruction-register"
R_TWO_WITNESSES = "档案销毁须有两名以上监销人（销毁清册：监销人销毁前清点、销毁后签字）"
R_NOT_APPROVED = "销毁批次未经站长批准，不得执行"
R_NOT_EXPIRED = "档案法实施条例 第二十四条：未到期档案须经鉴定（--appraisal-note 写明鉴定意见）方可提出销毁"
METHOD = ("电子档案：销毁其专用密钥并删除加密文件（加密粉碎），随后更换全库密钥、重建检索索引，"
          "内容永久不可恢复；纸质档案：在监销人监督下粉碎。")
DEFAULT_APPRAISAL = "经鉴定，下列档案已满保管期限，无继续保存价值，且不涉及未了结事项，拟予销毁。"
SIGN_LINE = "________________"


def kept_years(year: int, today: date) -> int:
    """Whole years kept, counted from Jan 1 after the record's year."""
    start = date(year + 1, 1, 1)
    n = today.year - start.year - ((today.month, today.day) < (start.month, start.day))
    return max(n, 0)


class DisposalService:
    """Propose, approve, list and execute destruction batches over the kernel."""

    def __init__(self, kernel: Kernel, *, records: RecordService, retention: RetentionService,
                 rebuild_index: Callable[..., int],
                 render_doc: Callable[[str, dict[str, Any], date], bytes]) -> None:
        self._k = kernel
        self._records = records
        self._retention = retention
        self._rebuild_index = rebuild_index
        self._render_doc = render_doc  # template id, data, date -> .docx bytes (docgen service)
        self._disposals = Disposals(kernel.db)

    # ------------------------------------------------------------------ propose
    def propose(self, refs: list[str] | None = None, *, due: bool = False,
                         as_of: date | None = None, appraisal_note: str = "") -> Batch:
        """Open a batch and file its 销毁清册 (permanent, XZ/Y). Nothing is destroyed yet."""
        if bool(refs) == due:
            raise UsageError("请指定档号，或使用 --due 列入全部到期档案（二者取一）")
        day = as_of or self._k.clock.today()
        note = appraisal_note.strip()
        if due:
            recs = [self._k.records.get(d["ref"]) for d in self._retention.due(as_of=day)
                    if not d["held"] and d["batch"] is None]
            if not recs:
                raise NotFound(f"截至 {day.isoformat()} 没有可提出销毁的到期档案")
        else:
            assert refs is not None
            recs = []
            for r in refs:
                rec = self._k.records.get(r.strip())
                if rec.id not in {x.id for x in recs}:
                    recs.append(rec)
        items: list[tuple[int, str, str, bool]] = []
        rows = []
        for rec in recs:
            self._k.authorize("disposal.propose", rec)
            batch = self._disposals.open_batch_of(rec.id)
            if batch is not None:
                raise Conflict(f"{rec.ref} 已列入销毁批次 {batch}")
            code = self._retention.effective(rec)
            end = expires_on(rec.year, code)
            expired = end is not None and day >= end
            if not expired and not note:
                until = "永久保存" if end is None else f"{end.isoformat()} 到期"
                self._k.deny("disposal.propose", f"{rec.ref} 未到期（{until}）；{R_NOT_EXPIRED}",
                           rec.ref, Conflict)
            actual = f"{kept_years(rec.year, day)}年"
            items.append((rec.id, code, actual, expired))
            rows.append({"ref": rec.ref, "title": rec.title, "year": rec.year,
                         "retention_required": RETENTIONS[code], "retention_actual": actual,
                         "note": "" if expired else "未满期限，经鉴定提前销毁"})
        with self._k.writer_lock:
            with self._k.db.transaction():
                bid, seq = self._disposals.next_id(day.year)
                self._disposals.create(bid, day.year, seq, note=note, by=self._k.user.name,
                                       when=self._k.clock.iso(), items=items)
                self._k.log("disposal.propose", bid, refs=[r["ref"] for r in rows],
                         appraisal_note=note or None, as_of=day.isoformat())
            try:
                ref = self._file_register(bid, rows, note, day)
            except BaseException:
                with self._k.db.transaction():
                    self._disposals.delete(bid)
                    self._k.log("disposal.propose.failed", bid)
                raise
            with self._k.db.transaction():
                self._disposals.set_register(bid, ref)
        return self._disposals.get(bid)

    def _file_register(self, bid: str, rows: list[dict[str, Any]], note: str,
                       day: date) -> str:
        """Render the 销毁清册 and file it permanently; the private temp file goes at once."""
        data = {
            "batch_no": bid, "appraisal": note or DEFAULT_APPRAISAL, "items": rows,
            "method": METHOD, "place": f"{self._k.station.name}档案室", "destroy_date": day,
            "witnesses": [SIGN_LINE, SIGN_LINE], "preparer": self._k.user.display or self._k.user.name,
        }
        blob = self._render_doc(REGISTER_TEMPLATE, data, day)
        # briefly in this process's locked staging folder: a crash leaves it only there,
        # and the next start deletes it (ObjectStore.recover)
        tmp = self._k.objects.session_dir() / f"销毁清册-{bid}.docx"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            res = self._records.file([tmp], category="XZ", retention="Y", title=f"档案销毁清册（{bid}）",
                            date=day.isoformat(), note=bid)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return res[0].ref

    # ------------------------------------------------------------------ approve, list, show
    def approve(self, batch_id: str) -> Batch:
        """The head approves a proposed batch (policy: disposal.approve; held items refuse)."""
        batch = self._disposals.get(batch_id)
        for it in batch.items:
            rec = self._k.records.get(it.ref)
            self._k.authorize("disposal.approve", rec)
        if batch.state != "proposed":
            raise Conflict(f"销毁批次 {batch.id} 当前状态为“{batch.as_dict()['state_label']}”，不能批准")
        with self._k.writer_lock, self._k.db.transaction():
            self._disposals.approve(batch.id, self._k.user.name, self._k.clock.iso())
            self._k.log("disposal.approve", batch.id, count=len(batch.items))
        return self._disposals.get(batch.id)

    def list(self, state: str | None = None) -> list[Batch]:
        """All batches (item lists filtered to records the user may see)."""
        out = [self._visible(b) for b in self._disposals.list(state)]
        self._k.log("disposal.list", None, count=len(out))
        return out

    def show(self, batch_id: str) -> Batch:
        batch = self._visible(self._disposals.get(batch_id))
        self._k.log("disposal.show", batch.id)
        return batch

    def _visible(self, batch: Batch) -> Batch:
        """The batch's items this user may see in the catalogue, with their titles: a title
        is a sealed field (vault format 2), opened for members of the record's compartment
        (the batch table's join reads only the empty plaintext column)."""
        items = []
        for i in batch.items:
            rec = self._k.records.get(i.ref)
            if self._k.may("record.read_meta", rec):
                items.append(replace(i, title=rec.title))
        return replace(batch, items=items)

    # ------------------------------------------------------------------ execute
    def execute(self, batch_id: str, *, witnesses: builtins.list[str]) -> Batch:
        """Destroy an approved batch in the presence of two or more witnesses (resumable)."""
        bid = check_batch_id(batch_id)
        with self._k.writer_lock:
            batch = self._disposals.get(bid)
            if batch.state == "executed":
                raise Conflict(f"销毁批次 {bid} 已于 {batch.executed_at} 执行完毕")
            if batch.state not in ("approved", "executing"):
                self._k.deny("disposal.execute", f"{bid}：{R_NOT_APPROVED}", bid, Conflict)
            names = list(dict.fromkeys(w.strip() for w in witnesses if w and w.strip()))
            recs = [self._k.records.get(it.ref) for it in batch.items]
            for rec in recs:  # every refusal before anything is destroyed
                for w in names or [""]:
                    grant = self._k.authorize("disposal.execute", rec,
                                              witness=self._k.user.name if self._is_executor(w)
                                              else w)
            if len(names) < 2:
                self._k.deny("disposal.execute", R_TWO_WITNESSES, bid)
            with self._k.db.transaction():
                self._disposals.start(bid, self._k.user.name, names, self._k.clock.iso())
                self._k.log("disposal.execute.begin", bid, witnesses=names,
                         resumed=batch.state == "executing")
            for it, rec in zip(batch.items, recs, strict=True):
                self._destroy_one(bid, rec, names, done=it.state == "destroyed")
            # crypto-shredding: the compartments the items were in move to new epochs and the
            # old ones are erased (or, for a non-member executor, left as a key task)
            comps = sorted({r.compartment for r in recs})
            pending = self._k.shred(grant, comps)
            self._rebuild_index(fresh_key=True)
            with self._k.db.transaction():
                self._disposals.finish(bid, self._k.clock.iso())
                self._k.log("disposal.execute", bid, count=len(recs), witnesses=names,
                            epochs={c: self._k.keys.ring.current(c) for c in comps},
                            keys_pending=pending or None)
            self._k.db.checkpoint_truncate()
            if self._k.can_checkpoint():  # station-key holders sign checkpoints
                self._k.checkpoint()
        return self._disposals.get(bid)

    def _is_executor(self, witness: str) -> bool:
        who = witness.split("（")[0].split("(")[0].strip()
        return bool(who) and who in {self._k.user.name, self._k.user.display.strip()} - {""}

    def _destroy_one(self, bid: str, rec: Record, witnesses: builtins.list[str], *,
                     done: bool) -> None:
        comps = self._k.records.components(rec.id)
        if not done:
            for w in witnesses:
                self._k.authorize("disposal.execute", rec, witness=w)
            self._k.log("disposal.destroy.begin", rec.ref, batch=bid, components=len(comps))
            when = self._k.clock.iso()
            with self._k.db.transaction():
                for c in comps:
                    self._k.object_keys.destroy(c.object_id, when)
                self._k.records.update_fields(rec.id, {"status": "destroyed", "destroyed_at": when})
                IndexQueue(self._k.db).drop(rec.ref)
                self._disposals.item_destroyed(bid, rec.id, when)
                self._k.log("record.destroy", rec.ref, batch=bid, components=len(comps))
        for c in comps:  # idempotent: a re-run removes files a crash left behind
            self._k.objects.delete(c.object_id)

