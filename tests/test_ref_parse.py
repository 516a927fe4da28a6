"""档号 input: the spellings people type all reach the canonical 档号 (issue 12)."""

from __future__ import annotations

import pytest

from archive.catalog.numbering import ArchivalRef, canonical_ref_text, parse_ref
from archive.errors import ValidationError

CANON = "J207-WS·2026-Y-XZ-0001"


@pytest.mark.parametrize("typed", [
    "J207-WS·2026-Y-XZ-0001",
    "J207-WS-2026-Y-XZ-0001",      # "-" for "·"
    "J207-WS.2026-Y-XZ-0001",      # "." for "·"
    "J207-WS・2026-Y-XZ-0001",     # katakana middle dot (Chinese IME)
    "J207-WS．2026-Y-XZ-0001",     # full-width full stop
    "J207-WS•2026-Y-XZ-0001",      # bullet
    "J207-WS。2026-Y-XZ-0001",     # ideographic full stop
    "j207-ws-2026-y-xz-0001",      # lower case
    "J207-ws·2026-y-Xz-0001",      # mixed case
    "Ｊ２０７－ＷＳ．２０２６－Ｙ－ＸＺ－０００１",  # all full-width
    "Ｊ207—WS·2026–Y－XZ-0001",    # em dash, en dash, full-width hyphen
    "  J207-WS·2026-Y-XZ-0001\n",  # surrounding whitespace
    "J207 - WS · 2026 - Y - XZ - 0001",
])
def test_variants_reach_the_canonical_ref(typed: str) -> None:
    assert parse_ref(typed) == CANON
    assert str(ArchivalRef.parse(typed)) == CANON


def test_retention_with_years_and_long_item_numbers() -> None:
    assert parse_ref("z001-ws.2019-d30-fw-0012") == "Z001-WS·2019-D30-FW-0012"
    assert parse_ref("Z001-KJ-2020-D10-CW-12345") == "Z001-KJ·2020-D10-CW-12345"
    assert ArchivalRef.parse("z001-ws-2019-d30-fw-0012").item == 12


@pytest.mark.parametrize("bad", [
    "", "J207", "J207-WS·2026-Y-XZ-1", "J207-WS·26-Y-XZ-0001", "J207-WS·2026-X-XZ-0001",
    "J207-WS2026-Y-XZ-0001", "J207-WS··2026-Y-XZ-0001", "J207-WS·2026-Y-XZ-0001-0002",
])
def test_malformed_refs_are_refused_in_chinese(bad: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_ref(bad)
    assert "档号格式不正确" in str(err.value)


def test_canonical_text_keeps_non_refs_quotable() -> None:
    assert canonical_ref_text(" abc ") == "ABC"
