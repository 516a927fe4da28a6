# mypy: disable-error-code="misc"
# (Archive mixins annotate `self: Archive`; mypy calls that an "erased type of self".)
"""Archive methods for disposal batches: propose (销毁清册), approve, execute (crypto-shred).

Execution order per record: policy → intent audit entry → one transaction that forgets every
component's identity and marks the record destroyed (catalogue line kept) → delete ciphertext.
After the batch: rotate the epoch (the old key that wrapped the destroyed identities is erased),
rebuild the search index under a fresh key, outcome entry, signed checkpoint. Each item has its
own state, so a re-run after a crash continues where it stopped.
"""

from __future__ import annotations

import contextlib
import os
from datetime import date
from typing import TYPE_CHECKING, Any

from archive.errors import AccessDenied, Conflict, NotFound, UsageError
from archive.retention.disposal import Batch, check_batch_id
from archive.retention.schedule import expires_on, period_label

if TYPE_CHECKING:
    from archive.catalog.records import Record
    from archive.core import Archive

REGISTER_TEMPLATE = "destruction-register"
R_TWO_WITNESSES = "档案销毁须有两名以上监销人（销毁清册：监销人销毁前清点、销毁后签字）"
R_NOT_APPROVED = "DESIGN §7：销毁批次未经站长批准，不得执行"
R_NOT_EXPIRED = "档案法实施条例 第二十四条：未到期档案须经鉴定（--appraisal-note 写明鉴定意见）方可提出销毁"
METHOD = "电子档案销毁其专用密钥并删除密文（加密粉碎），轮换纪元密钥，以新密钥重建检索索引；纸质档案在监销人监督下粉碎。"
DEFAULT_APPRAISAL = "经鉴定，下列档案已满保管期限，无继续保存价值，且不涉及未了结事项，拟予销毁。"
SIGN_LINE = "________________"


def kept_years(year: int, today: date) -> int:
    """Whole years kept, counted from Jan 1 after the record's year."""
    start = date(year + 1, 1, 1)
    n = today.year - start.year - ((today.month, today.day) < (start.month, start.day))
    return max(n, 0)


class DisposalMixin:
    """Propose, approve, list and execute destruction batches (part of RetentionMixin)."""

    def _deny(self: Archive, action: str, rule: str, ref: str | None, exc: type = AccessDenied) -> None:
        """Log a refusal the way `authorize` does, then raise it with the rule named."""
        self.log("denied", ref, action=action, rule=rule)
        raise exc(f"无权执行此操作：{rule}" if exc is AccessDenied else rule)

    # ------------------------------------------------------------------ propose
    def propose_disposal(self: Archive, refs: list[str] | None = None, *, due: bool = False,
                         as_of: date | None = None, appraisal_note: str = "") -> Batch:
        """Open a batch and file its 销毁清册 (permanent, XZ/Y). Nothing is destroyed yet."""
        if bool(refs) == due:
            raise UsageError("请指定档号，或使用 --due 列入全部到期档案（二者取一）")
        day = as_of or self.today()
        note = appraisal_note.strip()
        if due:
            recs = [self.records.get(d["ref"]) for d in self.retention_due(as_of=day)
                    if not d["held"] and d["batch"] is None]
            if not recs:
                raise NotFound(f"截至 {day.isoformat()} 没有可提出销毁的到期档案")
        else:
            assert refs is not None
            recs = []
            for r in refs:
                rec = self.records.get(r.strip())
                if rec.id not in {x.id for x in recs}:
                    recs.append(rec)
        items: list[tuple[int, str, str, bool]] = []
        rows = []
        for rec in recs:
            self.authorize("disposal.propose", self.record_facts(rec), ref=rec.ref)
            batch = self._disposals().open_batch_of(rec.id)
            if batch is not None:
                raise Conflict(f"{rec.ref} 已列入销毁批次 {batch}")
            code = self.effective_retention(rec)
            end = expires_on(rec.year, code)
            expired = end is not None and day >= end
            if not expired and not note:
                until = "永久保存" if end is None else f"{end.isoformat()} 到期"
                self._deny("disposal.propose", f"{rec.ref} 未到期（{until}）；{R_NOT_EXPIRED}",
                           rec.ref, Conflict)
            actual = f"{kept_years(rec.year, day)}年"
            items.append((rec.id, code, actual, expired))
            rows.append({"ref": rec.ref, "title": rec.title, "year": rec.year,
                         "retention_required": period_label(code), "retention_actual": actual,
                         "note": "" if expired else "未满期限，经鉴定提前销毁"})
        with self.writer_lock:
            with self.db.transaction():
                bid, seq = self._disposals().next_id(day.year)
                self._disposals().create(bid, day.year, seq, note=note, by=self.user.name,
                                         when=self.now(), items=items)
                self.log("disposal.propose", bid, refs=[r["ref"] for r in rows],
                         appraisal_note=note or None, as_of=day.isoformat())
            try:
                ref = self._file_register(bid, rows, note, day)
            except BaseException:
                with self.db.transaction():
                    self._disposals().delete(bid)
                    self.log("disposal.propose.failed", bid)
                raise
            with self.db.transaction():
                self._disposals().set_register(bid, ref)
        return self._disposals().get(bid)

    def _file_register(self: Archive, bid: str, rows: list[dict[str, Any]], note: str,
                       day: date) -> str:
        """Render the 销毁清册 and file it permanently; the private temp file goes at once."""
        from archive.docgen.engine import generate
        from archive.docgen.manifest import default_templates_dir, get_manifest

        manifest = get_manifest(default_templates_dir(), REGISTER_TEMPLATE)
        data = {
            "batch_no": bid, "appraisal": note or DEFAULT_APPRAISAL, "items": rows,
            "method": METHOD, "place": f"{self.station.name}档案室", "destroy_date": day,
            "witnesses": [SIGN_LINE, SIGN_LINE], "preparer": self.user.display or self.user.name,
        }
        blob = generate(manifest, data, self.station.template_vars(), today=day)
        # briefly in this process's locked staging folder: a crash leaves it only there,
        # and the next start deletes it (ObjectStore.recover)
        tmp = self.objects.session_dir() / f"销毁清册-{bid}.docx"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            res = self.file([tmp], category="XZ", retention="Y", title=f"档案销毁清册（{bid}）",
                            date=day.isoformat(), note=bid)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return res[0].ref

    # ------------------------------------------------------------------ approve, list, show
    def approve_disposal(self: Archive, batch_id: str) -> Batch:
        """The head approves a proposed batch (policy: disposal.approve; held items refuse)."""
        batch = self._disposals().get(batch_id)
        for it in batch.items:
            rec = self.records.get(it.ref)
            self.authorize("disposal.approve", self.record_facts(rec), ref=rec.ref)
        if batch.state != "proposed":
            raise Conflict(f"销毁批次 {batch.id} 当前状态为“{batch.as_dict()['state_label']}”，不能批准")
        with self.writer_lock, self.db.transaction():
            self._disposals().approve(batch.id, self.user.name, self.now())
            self.log("disposal.approve", batch.id, count=len(batch.items))
        return self._disposals().get(batch.id)

    def list_disposals(self: Archive, state: str | None = None) -> list[Batch]:
        """All batches (item lists filtered to records the user may see)."""
        out = [self._visible(b) for b in self._disposals().list(state)]
        self.log("disposal.list", None, count=len(out))
        return out

    def show_disposal(self: Archive, batch_id: str) -> Batch:
        batch = self._visible(self._disposals().get(batch_id))
        self.log("disposal.show", batch.id)
        return batch

    def _visible(self: Archive, batch: Batch) -> Batch:
        from dataclasses import replace

        items = [i for i in batch.items if self._may("record.read_meta", self.records.get(i.ref))]
        return replace(batch, items=items)

    # ------------------------------------------------------------------ execute
    def execute_disposal(self: Archive, batch_id: str, *, witnesses: list[str]) -> Batch:
        """Destroy an approved batch in the presence of two or more witnesses (resumable)."""
        bid = check_batch_id(batch_id)
        with self.writer_lock:
            batch = self._disposals().get(bid)
            if batch.state == "executed":
                raise Conflict(f"销毁批次 {bid} 已于 {batch.executed_at} 执行完毕")
            if batch.state not in ("approved", "executing"):
                self._deny("disposal.execute", f"{bid}：{R_NOT_APPROVED}", bid, Conflict)
            names = list(dict.fromkeys(w.strip() for w in witnesses if w and w.strip()))
            recs = [self.records.get(it.ref) for it in batch.items]
            for rec in recs:  # every refusal before anything is destroyed
                facts = self.record_facts(rec)
                for w in names or [""]:
                    self.authorize("disposal.execute", facts, ref=rec.ref,
                                   witness=self.user.name if self._is_executor(w) else w)
            if len(names) < 2:
                self._deny("disposal.execute", R_TWO_WITNESSES, bid)
            with self.db.transaction():
                self._disposals().start(bid, self.user.name, names, self.now())
                self.log("disposal.execute.begin", bid, witnesses=names,
                         resumed=batch.state == "executing")
            for it, rec in zip(batch.items, recs, strict=True):
                self._destroy_one(bid, rec, names, done=it.state == "destroyed")
            self.rotate_epoch()
            rebuild = getattr(self, "rebuild_index", None)
            if callable(rebuild):
                rebuild(fresh_key=True)
            with self.db.transaction():
                self._disposals().finish(bid, self.now())
                self.log("disposal.execute", bid, count=len(recs), witnesses=names,
                         epoch=self.ring.current)
            self.db.checkpoint_truncate()
            self.audit.checkpoint()
        return self._disposals().get(bid)

    def _is_executor(self: Archive, witness: str) -> bool:
        who = witness.split("（")[0].split("(")[0].strip()
        return bool(who) and who in {self.user.name, self.user.display.strip()} - {""}

    def _destroy_one(self: Archive, bid: str, rec: Record, witnesses: list[str], *,
                     done: bool) -> None:
        comps = self.records.components(rec.id)
        if not done:
            for w in witnesses:
                self.authorize("disposal.execute", self.record_facts(rec), ref=rec.ref, witness=w)
            self.log("disposal.destroy.begin", rec.ref, batch=bid, components=len(comps))
            when = self.now()
            with self.db.transaction():
                for c in comps:
                    self.object_keys.destroy(c.object_id, when)
                self.records.update_fields(rec.id, {"status": "destroyed", "destroyed_at": when})
                self._disposals().item_destroyed(bid, rec.id, when)
                self.log("record.destroy", rec.ref, batch=bid, components=len(comps))
        for c in comps:  # idempotent: a re-run removes files a crash left behind
            self.objects.delete(c.object_id)

