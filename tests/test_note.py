"""C2SP signed notes: the DESIGN §5 example, tampering, unknown keys, round trip."""

from __future__ import annotations

import base64

import pytest

from archive.audit.note import NoteInvalid, SignatureInvalid, Signer, UnknownKey, Verifier
from archive.errors import IntegrityError

VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
TEXT = "This is an example message.\n"
SIG_B64 = "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM="
NOTE = f"{TEXT}\n\u2014 example.com/foo {SIG_B64}\n"


def test_design_example_verifies() -> None:
    v = Verifier.parse(VKEY)
    assert v.name == "example.com/foo"
    assert v.key_hash.hex() == "530d903a"
    assert v.verify(NOTE) == TEXT


def test_modified_text_fails() -> None:
    with pytest.raises(SignatureInvalid):
        Verifier.parse(VKEY).verify(NOTE.replace("example", "exemple", 1))


def test_modified_signature_fails() -> None:
    raw = bytearray(base64.b64decode(SIG_B64))
    raw[10] ^= 0x01  # inside the Ed25519 signature, after the 4-byte key hash
    note = f"{TEXT}\n\u2014 example.com/foo {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(SignatureInvalid):
        Verifier.parse(VKEY).verify(note)


def test_modified_key_hash_is_unknown_key() -> None:
    raw = bytearray(base64.b64decode(SIG_B64))
    raw[0] ^= 0x01
    note = f"{TEXT}\n\u2014 example.com/foo {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(UnknownKey):
        Verifier.parse(VKEY).verify(note)


def test_unknown_key_fails() -> None:
    other = Signer("example.com/foo", bytes(range(32)))
    with pytest.raises(UnknownKey):
        Verifier.parse(other.verifier_key()).verify(NOTE)
    with pytest.raises(UnknownKey):
        Verifier.parse(VKEY).verify(other.sign(TEXT))


def test_round_trip_and_extra_signatures_ignored() -> None:
    s = Signer("sgz/0123456789abcdef0123456789abcdef", b"\x07" * 32)
    note = s.sign("sgz/x\n3\nAAAA\n")
    v = Verifier.parse(s.verifier_key())
    assert v.verify(note) == "sgz/x\n3\nAAAA\n"
    cosigned = note + f"\u2014 example.com/foo {SIG_B64}\n"
    assert v.verify(cosigned) == "sgz/x\n3\nAAAA\n"
    assert Verifier.parse(VKEY).verify(cosigned.replace("sgz/x\n3\nAAAA\n", TEXT)) == TEXT
    assert s.sign(TEXT) == s.sign(TEXT)  # Ed25519 is deterministic: same text, same note


@pytest.mark.parametrize(
    "note",
    [
        TEXT,  # no signatures
        NOTE[:-1],  # no final newline
        NOTE.replace("\u2014", "-"),
        NOTE.replace(" Uw2Q", " !w2Q"),
        NOTE.replace("example.com/foo U", "example.com/foo  U"),
        f"{TEXT}\n\u2014 example.com/foo AAAA\n",  # too short
    ],
)
def test_malformed_notes(note: str) -> None:
    with pytest.raises(NoteInvalid):
        Verifier.parse(VKEY).verify(note)


@pytest.mark.parametrize(
    "vkey",
    [
        VKEY.replace("530d903a", "530d903b"),
        VKEY.replace("+Aeky", "+Beky"),
        "example.com/foo+530d903a",
        VKEY + "+x",
        "example.com/foo+530d903a+!!!!",
    ],
)
def test_malformed_verifier_keys(vkey: str) -> None:
    with pytest.raises(NoteInvalid):
        Verifier.parse(vkey)


def test_all_failures_are_integrity_errors() -> None:
    assert issubclass(SignatureInvalid, IntegrityError)
    assert issubclass(UnknownKey, IntegrityError)
    assert SignatureInvalid().exit_code == 8


def test_signer_rejects_bad_text() -> None:
    s = Signer("a", b"\x01" * 32)
    with pytest.raises(NoteInvalid):
        s.sign("no newline")
    with pytest.raises(NoteInvalid):
        s.sign("bell\x07\n")
