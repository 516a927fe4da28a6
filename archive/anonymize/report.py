"""What an anonymisation run did, for the caller to show and log (counts, never the values)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from archive.anonymize.detect import KIND_ZH, PERSON_KINDS


@dataclass
class Report:
    """Masks per kind, parts rewritten, parts blanked or dropped, warnings (Chinese).

    `person_fields` counts the person-name fields (姓名/户主/监护人/联系人 cells and key-value
    lines) the document holds: if there were some and no name was masked, `finish` warns.
    """

    masked: Counter[str] = field(default_factory=Counter)
    parts: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    person_fields: int = 0
    unrecognised: int = 0  # filled person fields not taken for a name (not masked)

    def people_masked(self) -> int:
        """How many person-name spans were masked, whatever their kind."""
        return sum(self.masked[k] for k in PERSON_KINDS)

    def summary(self) -> str:
        """Counts per kind in Chinese, e.g. "服务对象及家庭成员姓名 ×3、身份证号 ×1"."""
        if not +self.masked:
            return "未遮蔽任何内容"
        return "、".join(f"{KIND_ZH.get(k, k)} ×{n}" for k, n in sorted(self.masked.items())
                        if n)

    def finish(self) -> Report:
        """Add the warning for a document with person fields where no name was masked."""
        if self.person_fields and not self.people_masked():
            self.warnings.append(
                f"文档中有 {self.person_fields} 处姓名类字段（姓名、户主、监护人、联系人等），"
                "但没有遮蔽任何姓名：请核对输出，并用 --names 指定需要遮蔽的姓名")
        if self.unrecognised:
            self.warnings.append(
                f"有 {self.unrecognised} 处姓名类字段的内容未能识别为姓名，未遮蔽：请核对输出，"
                "必要时用 --names 指定需要遮蔽的姓名")
        return self
