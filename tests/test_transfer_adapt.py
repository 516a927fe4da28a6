"""From real catalogue rows (Records, components with a correction, a destruction) to a
transfer package that verifies, and to open-export rows."""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from transfer_fixtures import STATION, pdf_bytes

from archive.catalog.db import Database
from archive.catalog.numbering import ArchivalRef
from archive.catalog.records import Records
from archive.kernel.station import DEFAULT_CLASSES
from archive.transfer import adapt, checks
from archive.transfer.model import Component, TransferRecord
from archive.transfer.writer import export_year
from archive.vault.identities import ObjectKeys
from archive.vault.keyring import Keyring


def test_catalogue_rows_to_verified_package(tmp_path: Path) -> None:
    db = Database(tmp_path / "c.db", bytes(range(32)), create=True)
    keys = ObjectKeys(db, Keyring.new())
    recs = Records(db)
    blobs: dict[str, bytes] = {}

    def add_obj(data: bytes) -> str:
        oid = hashlib.sha256(data + b"ct").hexdigest()
        keys.add(oid, bytes(32), len(data))
        blobs[oid] = data
        return oid

    ids = []
    for i in range(1, 4):
        rid = recs.insert(ArchivalRef("Z001", "WS", 2026, "D30", "FW", i),
                          {"title": f"服务记录{i}", "title_source": "given", "date": "20260301",
                           "filed_at": "2026-03-01T09:00", "filed_by": "li"})
        ids.append(rid)
        data = pdf_bytes(f"服务记录{i}")
        first = recs.add_component(rid, {"kind": "正文", "object_id": add_obj(data),
                                         "filename": "记录.pdf", "mime": "application/pdf",
                                         "size": len(data), "fp_sha": "x", "fp_sm3": "",
                                         "added_at": "t", "added_by": "li"})
        if i == 1:  # a correction supersedes the first version
            fixed = pdf_bytes("服务记录1（更正）")
            recs.add_component(rid, {"kind": "更正版本", "supersedes": first,
                                     "reason": "错字", "object_id": add_obj(fixed),
                                     "filename": "记录-更正.pdf", "mime": "application/pdf",
                                     "size": len(fixed), "fp_sha": "y", "fp_sm3": "",
                                     "added_at": "t", "added_by": "li"})
    recs.update_fields(ids[1], {"status": "destroyed", "destroyed_at": "2026-11-30T10:00"})

    year = list(recs.list(year=2026, status=None))
    live = [r for r in year if r.status == "active"]
    comps = {r.ref: recs.components(r.id) for r in year}
    trs = [adapt.transfer_record(r, comps[r.ref], DEFAULT_CLASSES) for r in live]
    assert [c.filename for c in trs[0].components] == ["记录-更正.pdf"]
    assert trs[0].meta.cls_name == "服务"

    def open_(rec: TransferRecord, comp: Component) -> contextlib.AbstractContextManager[BinaryIO]:
        @contextlib.contextmanager
        def cm() -> Iterator[BinaryIO]:
            yield io.BytesIO(blobs[adapt.object_of(comps[rec.meta.ref], comp)])
        return cm()

    absent = adapt.absent_numbers(year)
    assert [a.ref for a in absent] == ["Z001-WS·2026-D30-FW-0002"]
    _s, rep = export_year(trs, open_, tmp_path / "p", station=STATION, year=2026,
                          created_at="2026-12-01T09:00:00", reason="进馆", approved_by="张三",
                          exported_by="李四", absent=absent, renditions=False)
    assert rep.ok, checks.format_report(rep)

    ex = [adapt.export_record(r, comps[r.ref]) for r in year]
    assert len(ex[0].components) == 2 and ex[1].status == "destroyed"
