"""The format-2 line: what the writer builds is valid JSON, canonical, and parsed back exactly
by the regex verification uses; what it refuses never reaches the file; the head state round-trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.audit.head import Head, fold
from archive.audit.line import (
    KEYED,
    ORDINARY,
    SIG_TAIL,
    SSIG_TAIL,
    Fields,
    close,
    entry_message,
    is_closed,
    prefix,
    station_message,
    with_ssig,
)
from archive.audit.merkle import MerkleBuilder, leaf_hash
from archive.errors import UsageError

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\\x7f'),
                min_size=1, max_size=40).filter(lambda s: all(ord(c) >= 0x20 for c in s))
_action = st.from_regex(r"[a-z][a-z0-9_.]{0,20}", fullmatch=True)
_role = st.from_regex(r"[a-z_]{1,12}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(actor=_text, role=_role, action=_action, ref=st.none() | _text, seq=st.integers(0, 10**12),
       signed=st.booleans())
def test_written_lines_are_canonical_json_and_parse_back(actor: str, role: str, action: str,
                                                        ref: str | None, seq: int, signed: bool) -> None:
    f = Fields(actor=actor, role=role, action=action, ref=ref)
    try:
        f.check()
    except UsageError:
        assert action in ("genesis", "upgrade") or action.startswith("user.") or action == "station.key"
        return
    pre = prefix(seq, "2026-11-28T07:21:40Z", "a" * 64, f)
    line = close(pre, b"\x01" * 64 if signed else None)
    o = json.loads(line)
    assert json.dumps(o, ensure_ascii=False, separators=(",", ":")).encode() == line  # canonical
    m = ORDINARY.fullmatch(line)
    assert m is not None
    g = m.groups()
    assert (int(g[0]), g[3].decode(), g[4].decode(), g[5].decode()) == (seq, actor, role, action)
    assert (g[6] == b"null") == (ref is None)
    assert is_closed(line) == signed
    if signed:
        assert entry_message(line).endswith(pre) and len(line) - len(pre) == SIG_TAIL


@pytest.mark.parametrize("bad", ['a"b', "a\\b", "a\nb", "", "a\x00"])
def test_writer_refuses_values_that_would_need_escaping(bad: str) -> None:
    with pytest.raises(UsageError):
        Fields(actor=bad, role="head", action="x").check()
    with pytest.raises(UsageError):
        Fields(actor="a", role="head", action="x", ref=bad).check()


def test_key_line_slices() -> None:
    f = Fields(actor="张三", role="head", action="user.add", ref="王五", grant="social_worker",
               pub="A" * 43 + "=")
    f.check()
    pre = prefix(3, "2026-11-28T07:21:40Z", "b" * 64, f)
    line = close(with_ssig(pre, b"\x02" * 64), b"\x03" * 64)
    assert KEYED.fullmatch(line) is not None and ORDINARY.fullmatch(line) is None
    assert station_message(line).endswith(pre) and len(line) - len(pre) == SIG_TAIL + SSIG_TAIL
    with pytest.raises(UsageError):  # key fields must match the action
        Fields(actor="张三", role="head", action="user.add", ref="王五", grant="x").check()


@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 300))
def test_head_round_trips_and_folds_to_the_root(n: int) -> None:
    b = MerkleBuilder()
    for i in range(n):
        b.append(leaf_hash(str(i).encode()))
    h = Head(vault="0" * 32, size=n, offset=7 * n, frontier=list(b._stack), fmt=2,
             users={"张三": ("head", b"\x01" * 32)}, stations=[(1, "k")], cp_size=n // 2,
             cp_root=b"\x05" * 32, uncovered_ts=None if n % 2 else "2026-11-28T07:21:40Z")
    h2 = Head.loads(h.dumps())
    assert h2 == h and fold(h2.frontier) == b.root()


def test_head_with_a_wrong_frontier_is_refused() -> None:
    h = Head(size=3, frontier=[b"\x00" * 32])
    with pytest.raises(ValueError):
        Head.loads(h.dumps())


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.binary(min_size=0, max_size=30).map(lambda b: b.replace(b"\n", b"")),
                      min_size=0, max_size=12),
       torn=st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")), chunk=st.integers(1, 40))
def test_lines_backwards_matches_a_forward_split(lines: list[bytes], torn: bytes, chunk: int) -> None:
    import os
    import tempfile

    import archive.audit.tail as tail

    data = b"".join(x + b"\n" for x in lines) + torn
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.flush()
        old = tail._CHUNK
        tail._CHUNK = chunk
        try:
            got = list(tail.lines_backwards(f.fileno(), len(data)))
        finally:
            tail._CHUNK = old
        os.lseek(f.fileno(), 0, os.SEEK_SET)
    starts, pos = [], 0
    for x in lines:
        starts.append(pos)
        pos += len(x) + 1
    assert got == list(zip(reversed(lines), reversed(starts), strict=True))
