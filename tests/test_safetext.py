"""Finding 7: untrusted titles and file names are made safe for terminals, disks and the catalogue."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from archive.safetext import MAX_NAME_BYTES, clean_title, display, is_unsafe, safe_filename

RLO = "\u202e"
HOSTILE = ["家访记录" + RLO + "xcod.exe", "第一行\n伪造的第二行", "\x1b[2J清屏", "a\u2066b\u2069c",
           "\u200f隐藏\u200e", "分隔\u2028行", "C1\x85\x9b31m"]
_ALPHABET = st.characters(codec="utf-8") | st.sampled_from(
    list("\n\r\t\x00\x1b\x7f\x85\x9b/\\:*?\"<>|. " + RLO + "\u202a\u2066\u2069\u200e\u200f\ufeff\u2028"))
texts = st.text(alphabet=_ALPHABET, max_size=300)


def test_finding7_display_escapes_controls_and_bidi() -> None:
    assert display("家访记录" + RLO + "xcod.exe") == "家访记录\\u202excod.exe"
    assert display("第一行\n伪造") == "第一行\\n伪造"
    assert display("\x1b[2J") == "\\x1b[2J"
    assert display("孙桂芝 家访 2024.docx") == "孙桂芝 家访 2024.docx"
    for text in HOSTILE:
        assert not any(is_unsafe(ch) for ch in display(text)), text


@given(texts)
def test_finding7_display_property(text: str) -> None:
    shown = display(text)
    assert not any(is_unsafe(ch) for ch in shown)
    assert "\n" not in shown and "\x1b" not in shown
    safe_chars = [ch for ch in text if not is_unsafe(ch)]
    it = iter(shown)
    assert all(ch in it for ch in safe_chars)  # the safe characters survive, in order


def test_finding7_safe_filename_cases() -> None:
    assert safe_filename("家访记录" + RLO + "xcod.exe") == "家访记录_xcod.exe"
    assert safe_filename("../../etc/passwd") == ".._.._etc_passwd"
    assert safe_filename("a\\b:c*d?.docx") == "a_b_c_d_.docx"
    assert safe_filename("CON") == "_CON"
    assert safe_filename("nul.txt") == "_nul.txt"
    assert safe_filename("com1.tar.gz") == "_com1.tar.gz"
    assert safe_filename("LPT9 .pdf") == "_LPT9.pdf"
    assert safe_filename("console.txt") == "console.txt"
    assert safe_filename("报告. . .") == "报告"
    assert safe_filename("") == "未命名" and safe_filename("..") == "未命名"
    long = safe_filename("走" * 300 + ".docx")
    assert long.endswith(".docx") and len(long.encode()) <= MAX_NAME_BYTES
    assert long.startswith("走" * 60)


_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{d}{i}" for d in ("COM", "LPT") for i in range(10)}


@given(texts, st.integers(min_value=20, max_value=255))
def test_finding7_safe_filename_property(text: str, limit: int) -> None:
    name = safe_filename(text, max_bytes=limit)
    assert name and name not in (".", "..")
    assert len(name.encode("utf-8")) <= limit
    assert not any(ch in '/\\:*?"<>|' or is_unsafe(ch) for ch in name)
    assert not name.endswith((".", " "))
    assert name.split(".")[0].rstrip(" ").upper() not in _RESERVED
    assert safe_filename(name, max_bytes=limit) == name  # idempotent
    stem, dot, ext = text.rpartition(".")
    if (dot and stem.strip(". ") and ext and ext.isascii() and ext.isalnum() and len(ext) <= 10
            and stem.rstrip(". ").upper() not in _RESERVED and stem.strip()
            and text == unicodedata.normalize("NFC", text)):
        assert name.endswith("." + ext)


def test_finding7_clean_title() -> None:
    assert clean_title("孙桂芝家访\n第二行\t记录") == "孙桂芝家访 第二行 记录"
    assert clean_title(RLO + "fdp.exe") == "fdp.exe"
    assert clean_title("  标题  ") == "标题"
    assert len(clean_title("字" * 500)) == 200


@given(texts)
def test_finding7_clean_title_property(text: str) -> None:
    title = clean_title(text)
    assert not any(is_unsafe(ch) for ch in title)
    assert title == title.strip() and "  " not in title and len(title) <= 200
    assert clean_title(title) == title


def test_finding7_document_title_cleaned(tmp_path: Path) -> None:
    import docx

    from archive.records.sniff import inspect_file

    d = docx.Document()
    d.core_properties.title = "家访" + RLO + "fdp.exe\n第二行"
    path = tmp_path / "x.docx"
    d.save(str(path))
    assert inspect_file(path).title == "家访fdp.exe 第二行"
