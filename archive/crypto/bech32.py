"""Bech32 (BIP 173 checksum, no length limit) as used by age key strings."""

from __future__ import annotations

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_REVERSE = {c: i for i, c in enumerate(_CHARSET)}
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _gen_xor(top: int) -> int:
    out = 0
    for i in range(5):
        if (top >> i) & 1:
            out ^= _GEN[i]
    return out


# the XOR of the generators each 5-bit value of the checksum's top bits selects: one look-up
# per character instead of five tests (filing encodes and parses keys for every object)
_GEN_XOR = tuple(_gen_xor(top) for top in range(32))


def _polymod(values: list[int]) -> int:
    chk = 1
    table = _GEN_XOR
    for v in values:
        chk = (chk & 0x1FFFFFF) << 5 ^ v ^ table[chk >> 25]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], frombits: int, tobits: int, pad: bool) -> list[int]:
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or (acc << (tobits - bits)) & maxv:
        raise ValueError("invalid bech32 padding")
    return out


def _to_5bit(data: bytes) -> list[int]:
    """`_convert_bits(data, 8, 5, True)` at once on one integer (keys are encoded per object)."""
    bits = 8 * len(data)
    groups = -(-bits // 5)
    n = int.from_bytes(data, "big") << (5 * groups - bits)
    return [(n >> (5 * (groups - 1 - i))) & 31 for i in range(groups)]


def encode(hrp: str, data: bytes) -> str:
    """Encode data under hrp; the result is lowercase (callers upper-case identities)."""
    hrp = hrp.lower()
    values = _to_5bit(data)
    poly = _polymod(_hrp_expand(hrp) + values + [0] * 6) ^ 1
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[v] for v in values + checksum)


def decode(s: str) -> tuple[str, bytes]:
    """Decode a Bech32 string; returns the hrp in its original case and the data bytes."""
    if s.lower() != s and s.upper() != s:
        raise ValueError("mixed case")
    if not s.isascii() or any(not 33 <= ord(c) <= 126 for c in s):
        raise ValueError("invalid character")
    pos = s.rfind("1")
    if pos < 1 or pos + 7 > len(s):
        raise ValueError("separator misplaced")
    hrp = s[:pos]
    lower = s.lower()
    try:
        values = [_REVERSE[c] for c in lower[pos + 1 :]]
    except KeyError:
        raise ValueError("invalid data character") from None
    if _polymod(_hrp_expand(lower[:pos]) + values) != 1:
        raise ValueError("invalid checksum")
    return hrp, bytes(_convert_bits(values[:-6], 5, 8, False))
