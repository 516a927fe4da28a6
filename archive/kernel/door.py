"""The plaintext door: the only code in the package that turns stored objects into plaintext.

It opens an object only for a `Grant`, which only `Kernel.authorize` can make (the mint token
below is private to the kernel package), and it appends the audit entry (fsynced) before any
key is unwrapped: authorise → audit → plaintext, by structure. A test scans the package for any
other use of the decryption API.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from archive.crypto import age
from archive.errors import AccessDenied, DecryptionFailed, IntegrityError

if TYPE_CHECKING:
    from archive.catalog.records import Component, Record
    from archive.kernel.kernel import Kernel

_MINT = object()  # only archive.kernel.kernel imports this

# Actions whose grant opens content. "check" covers whole-vault reads (index rebuild, fixity);
# "transfer.export" a whole year (each item still gets its own audit entry through `open`).
PLAINTEXT_ACTIONS = frozenset({
    "record.read", "record.export_subject", "record.refer", "record.export_anon",
    "access.view", "access.copy", "check", "record.archive_pdf", "transfer.export",
})
BULK_ACTIONS = frozenset({"check", "transfer.export"})


@dataclass(frozen=True, init=False)
class Grant:
    """A policy decision that allowed `action` to this user, on the record `record` (its 档号)
    for record actions. `ref` is what the audit entry names (a 档号 or a request id); `flag`
    says the read goes on the head's list; `rule` names the clause that allowed it."""

    action: str
    ref: str | None
    record: str | None
    user: str
    rule: str
    flag: bool

    def __init__(self, mint: object, *, action: str, ref: str | None, record: str | None,
                 user: str, rule: str, flag: bool) -> None:
        if mint is not _MINT:
            raise AccessDenied("授权只能由内核的 authorize 作出")
        for k, v in (("action", action), ("ref", ref), ("record", record), ("user", user),
                     ("rule", rule), ("flag", flag)):
            object.__setattr__(self, k, v)


def mint_grant(token: object, **fields: Any) -> Grant:
    """Used by the kernel only; any other caller lacks the token."""
    return Grant(token, **fields)


class PlaintextDoor:
    """Open object content for a grant: audit entry first, then the key, then a stream."""

    def __init__(self, kernel: Kernel) -> None:
        self._k = kernel

    def _check(self, grant: Grant, rec: Record | None) -> None:
        if not isinstance(grant, Grant) or grant.user != self._k.user.name:
            raise AccessDenied("没有有效的授权，不能读取档案内容")
        if grant.action not in PLAINTEXT_ACTIONS:
            raise AccessDenied(f"授权“{grant.action}”不包括读取档案内容")
        if grant.action not in BULK_ACTIONS and (rec is None or grant.record != rec.ref):
            raise AccessDenied("授权与所读档案不符")

    def open(self, grant: Grant, rec: Record, comp: Component, *, action: str,
             detail: dict[str, Any]) -> io.BufferedReader:
        """One component's plaintext stream; the audit entry `action` is written first."""
        self._check(grant, rec)
        ident = self._k.object_keys.unwrap(
            comp.object_id, self._k.keys.bag,
            lambda: self._k.log(action, rec.ref, seq=comp.seq, **detail))
        return self._decrypt(rec, comp, ident)

    def open_many(self, grant: Grant, pairs: Sequence[tuple[Record, Component]], *,
                  action: str, detail: dict[str, Any]
                  ) -> Iterator[tuple[Record, Component, BinaryIO]]:
        """Bulk reads (index rebuild, fixity check) under a bulk grant: ONE audit entry naming
        every item is written before the first key is unwrapped, then each stream in turn."""
        if grant.action not in BULK_ACTIONS:
            raise AccessDenied("批量读取须有批量授权（完整性检查或索引重建）")
        self._check(grant, None)
        # a bulk read covers what this user's keys open (vault format 2): records of other
        # compartments are not read and not named in the entry
        pairs = [(r, c) for r, c in pairs if self._k.keys.bag.holds(r.compartment)]
        if not pairs:
            return
        self._k.log(action, None, items=[f"{r.ref}#{c.seq}" for r, c in pairs], **detail)
        for rec, comp in pairs:
            ident = self._k.object_keys.unwrap(comp.object_id, self._k.keys.bag,
                                               lambda: None)  # logged above
            yield rec, comp, self._decrypt(rec, comp, ident)

    def open_queued(self, compartment: str, items: Sequence[tuple[str, int, bytes]]
                    ) -> Iterator[dict[str, Any]]:
        """Text a write-only filer queued for `compartment`'s index (IndexQueue.sealed): one
        audit entry naming the items first, then each document for the index (never shown)."""
        if not items:
            return
        self._k.log("index.queue.read", None, compartment=compartment,
                    items=[ref for ref, _e, _b in items])
        for ref, epoch, blob in items:
            try:
                doc = json.loads(self._k.keys.bag.open_sealed(compartment, epoch, blob))
            except ValueError:
                raise IntegrityError("待索引文本损坏", ref=ref) from None
            if not isinstance(doc, dict) or doc.get("doc_id") != ref:
                raise IntegrityError("待索引文本不属于该档案", ref=ref)
            yield doc

    def identities_for_backup(self, grant: Grant, object_ids: Sequence[str]
                              ) -> dict[str, age.X25519Identity]:
        """The identities of the listed objects this user's keys open, for the backup's open
        export (sealed to the recovery recipient at once, never written in clear). Objects of
        compartments she does not hold are left out (the caller says so). Needs a `backup`
        grant; ONE audit entry naming the count is written before the first key is unwrapped."""
        if not isinstance(grant, Grant) or grant.user != self._k.user.name \
                or grant.action != "backup":
            raise AccessDenied("开放导出须有备份授权")
        if not object_ids:
            return {}
        self._k.log("backup.open_export", None, objects=len(object_ids))
        out: dict[str, age.X25519Identity] = {}
        for oid in object_ids:
            try:
                out[oid] = self._k.object_keys.unwrap(oid, self._k.keys.bag, lambda: None)
            except AccessDenied:
                continue  # a compartment this user does not hold (e.g. the archivist: 服务)
        return out

    def _decrypt(self, rec: Record, comp: Component, ident: age.X25519Identity
                 ) -> io.BufferedReader:
        src = self._k.objects.open(comp.object_id)
        try:
            return age.open_decrypt(src, [ident])
        except age.AgeError:
            src.close()
            self._k.log("decrypt.failed", rec.ref, seq=comp.seq)
            raise DecryptionFailed(f"{rec.ref} 解密失败：对象已损坏") from None
