"""What `gen --file` files a generated document under: class, retention, date, household."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archive.docgen.manifest import Manifest
from archive.errors import ValidationError
from archive.retention.schedule import RETENTIONS, Schedule

# Which field holds the document's date, in order of preference, when the manifest has several.
# DA/T 22 dates a record by when it was made (成文日期): a rule's 印发/通过 date, not the day it
# takes effect.
_DATE_PREFERENCE = ("date", "visit_date", "sign_date", "issue_date", "adopted_date",
                    "apply_date", "effective_date", "register_date", "received_date",
                    "record_date")


@dataclass(frozen=True)
class FilingMeta:
    """Arguments for Archive.file: category (问题 code), retention code, date, household, title."""

    category: str
    retention: str
    retention_source: str
    date: str
    household: str
    title: str

    def as_kwargs(self) -> dict[str, Any]:
        return {"category": self.category, "retention": self.retention, "date": self.date,
                "household": self.household, "title": self.title}


def document_date(manifest: Manifest, values: Mapping[str, Any], today: dt.date) -> dt.date:
    """The document's own date: the preferred date field with a value, else the first, else today."""
    dated = [f.name for f in manifest.fields if f.type == "date"
             and isinstance(values.get(f.name), dt.date)]
    for name in _DATE_PREFERENCE:
        if name in dated:
            return values[name]  # type: ignore[no-any-return]
    return values[dated[0]] if dated else today  # type: ignore[no-any-return]


def filing_metadata(manifest: Manifest, values: Mapping[str, Any], schedule: Schedule, *,
                    today: dt.date, sample_used: bool = False,
                    title: str | None = None) -> FilingMeta:
    """Filing metadata for a document generated from `manifest` with validated `values`.

    Class from the manifest; retention from the station's retention table when a document-type
    row matches the title, else the template's own (what the station's 档案管理制度 lists for
    it: 入户走访记录 永久), else the class default; date and household (一户一档) from the
    data. A document rendered with sample values is refused: it must not be filed.
    """
    if sample_used:
        raise ValidationError("本文书含示例数据（样例），不能归档。请用本站真实数据重新生成后再归档")
    doc_title = title or manifest.title
    rule = schedule.match(doc_title)
    if rule is not None and rule.code:
        retention, source = rule.code, f"保管期限表：{rule.name}（{rule.source}）"
    elif manifest.retention:
        retention = manifest.retention
        source = f"模板《{manifest.title}》：{RETENTIONS.get(retention, retention)}"
    else:
        retention = schedule.for_class(manifest.category)
        source = f"保管期限表：{manifest.category} 类默认"
    household = values.get("household_id")
    return FilingMeta(category=manifest.category, retention=retention, retention_source=source,
                      date=document_date(manifest, values, today).isoformat(),
                      household=str(household).strip() if household else "", title=doc_title)
