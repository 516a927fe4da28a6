"""`sgz transfer export|verify`: a year's records handed to the county archive (档发〔2012〕7号).

Approval model: the export is itself the approval act. Only the head (站长) — or the deputy
acting for the head, as for outside-access approvals — may run it, and only with a reason
(policy `transfer.export`); the package's 移交登记表 names them as 批准人. Every component is
decrypted through the kernel's door under that one grant, each with its own audit entry
(`transfer.export.item`), and the export goes on the head's flag list like any other bulk
release of plaintext. Verification needs no station keys and no unlocked home.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from archive.catalog.records import Component as CatComponent
from archive.catalog.records import Record
from archive.clock import STATION_TZ
from archive.errors import NotFound
from archive.kernel.kernel import Kernel
from archive.policy.roles import ROLES
from archive.records.service import RecordService, refuse_inside_home
from archive.transfer import adapt
from archive.transfer.model import Component, ExportSummary, Station, TransferRecord

if TYPE_CHECKING:
    from archive.transfer import checks

Progress = Callable[[int, int, str], None]  # items opened, total, 档号


class TransferService:
    """Export a year's transfer package; verify one (static, keyless)."""

    def __init__(self, kernel: Kernel, *, records: RecordService) -> None:
        self._k = kernel
        self._records = records

    def export(self, year: int, out: Path | str, *, reason: str, bag: bool = False,
               renditions: bool = True, progress: Progress | None = None
               ) -> tuple[ExportSummary, checks.Report]:
        """Write the package of `year` into the new or empty folder `out`."""
        k = self._k
        grant = k.authorize("transfer.export", reason=reason)  # head/deputy + reason
        dest = Path(out).absolute()
        refuse_inside_home(k.home, dest)
        year_records = list(k.records.list(year=year, status=None))
        active = [r for r in year_records if r.status == "active"]
        if not active:
            raise NotFound(f"{year} 年度没有可移交的档案", ref=str(year))
        # the archival PDF component is not carried: the writer makes the package's own
        # stamped PDF/A rendition from the current 正文
        comps: dict[str, list[CatComponent]] = {
            r.ref: [c for c in k.records.components(r.id) if c.kind != "归档PDF"] for r in active}
        by_ref: dict[str, Record] = {r.ref: r for r in active}
        classes = k.station.classes
        trecs = [adapt.transfer_record(r, comps[r.ref], classes) for r in active]
        st = k.station
        station = Station(st.fonds, st.name)
        user = k.user
        who = f"{user.display or user.name}（{ROLES.get(user.role, user.role)}）"
        begin = k.log("transfer.export.begin", None, year=year, out=str(dest), reason=reason,
                      records=len(trecs), absent=len(year_records) - len(active))
        opened: set[str] = set()

        def open_(trec: TransferRecord, comp: Component) -> BinaryIO:
            rec = by_ref[trec.meta.ref]
            oid = adapt.object_of(comps[rec.ref], comp)
            cat = next(c for c in comps[rec.ref] if c.object_id == oid)
            stream = k.door.open(grant, rec, cat, action="transfer.export.item",
                                 detail={"year": year, "flagged": True})
            if progress and rec.ref not in opened:
                opened.add(rec.ref)
                progress(len(opened), len(trecs), rec.ref)
            return stream

        created = k.clock.now().astimezone(STATION_TZ).strftime("%Y-%m-%dT%H:%M:%S")
        # the package writer and its checks (PDF/A, images, BagIt, the Word register) load
        # only here: importing them cost every other command ~0.15 s
        from archive.transfer.bag import make_bag
        from archive.transfer.writer import export_year

        summary, report = export_year(
            trecs, open_, dest, station=station, year=year, created_at=created, reason=reason,
            approved_by=who, exported_by=who, absent=adapt.absent_numbers(year_records),
            renditions=renditions)
        if bag:
            make_bag(dest, station, year=year)
        k.log("transfer.export", None, year=year, out=str(dest), records=summary.records,
              files=summary.files, bytes=summary.bytes, ok=report.ok, bag=bag,
              problems=len(summary.problems) + len(report.failures))
        k.flag("transfer.export", f"{st.fonds}-{year}", grant.rule, reason, begin)
        return summary, report

    @staticmethod
    def verify(package: Path | str) -> checks.Report:
        """The four checks (四性检测) on a received package; no keys needed."""
        root = Path(package)
        if not root.is_dir():
            raise NotFound(f"移交包文件夹不存在：{root}", ref=str(root))
        from archive.transfer import checks  # see export

        return checks.verify_package(root)
