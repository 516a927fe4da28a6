"""The Merkle code against every transparency-dev vector (inclusion, consistency, subtree)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from conftest import VECTORS

from archive.audit import merkle
from archive.audit.merkle import ProofInvalid

# Vendored from transparency-dev/merkle (see tests/vectors/README.md).
TESTDATA = VECTORS / "merkle" / "testdata"
KINDS = ("inclusion", "consistency", "subtreeinclusion", "subtreeconsistency")
VECTOR_COUNT = 518  # JSON files upstream at the vendored commit


def _cases(kind: str) -> list[Path]:
    return sorted((TESTDATA / kind).rglob("*.json"))


def _params(kind: str) -> list[Path]:
    """The cases of one kind; if there are none, one missing path, so the test fails rather than
    being skipped as an empty parameter set."""
    return _cases(kind) or [TESTDATA / kind / "missing.json"]


def _b(s: str | None) -> bytes:
    return base64.b64decode(s or "")


def _proof(case: dict) -> list[bytes]:
    return [_b(h) for h in case.get("proof") or []]


def _id(p: Path) -> str:
    return str(p.relative_to(TESTDATA))


def _run(expect_error: bool, fn, *args) -> None:
    if expect_error:
        with pytest.raises(ProofInvalid):
            fn(*args)
    else:
        fn(*args)


@pytest.mark.parametrize("path", _params("inclusion"), ids=_id)
def test_inclusion(path: Path) -> None:
    c = json.loads(path.read_text())
    _run(c["wantErr"], merkle.verify_inclusion, c["leafIdx"], c["treeSize"], _b(c["leafHash"]),
         _proof(c), _b(c["root"]))


@pytest.mark.parametrize("path", _params("consistency"), ids=_id)
def test_consistency(path: Path) -> None:
    c = json.loads(path.read_text())
    _run(c["wantErr"], merkle.verify_consistency, c["size1"], c["size2"], _b(c["root1"]),
         _b(c["root2"]), _proof(c))


@pytest.mark.parametrize("path", _params("subtreeinclusion"), ids=_id)
def test_subtree_inclusion(path: Path) -> None:
    c = json.loads(path.read_text())
    _run(c["wantErr"], merkle.verify_subtree_inclusion, c["leafIdx"], c["start"], c["end"],
         _b(c["leafHash"]), _proof(c), _b(c["root"]))


@pytest.mark.parametrize("path", _params("subtreeconsistency"), ids=_id)
def test_subtree_consistency(path: Path) -> None:
    c = json.loads(path.read_text())
    _run(c["wantErr"], merkle.verify_subtree_consistency, c["start"], c["end"], c["size"],
         _proof(c), _b(c["root1"]), _b(c["root2"]))


def test_vector_count() -> None:
    """Guard: a missing folder, a lost file or a changed layout is a failure, never a skip."""
    assert TESTDATA.is_dir(), f"Merkle vectors missing: {TESTDATA}"
    assert all(len(_cases(k)) > 0 for k in KINDS)
    assert len(list(TESTDATA.rglob("*.json"))) == sum(len(_cases(k)) for k in KINDS) >= VECTOR_COUNT


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"line {i}".encode()) for i in range(n)]


def _naive_root(d: list[bytes]) -> bytes:
    """RFC 6962 MTH by its recursive definition."""
    if len(d) == 1:
        return d[0]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return merkle.node_hash(_naive_root(d[:k]), _naive_root(d[k:]))


def test_builder_matches_recursive_root_and_proofs_round_trip() -> None:
    leaves = _leaves(37)
    b = merkle.MerkleBuilder()
    roots = [merkle.EMPTY_ROOT]
    for h in leaves:
        b.append(h)
        roots.append(b.root())
    assert b.size == 37
    for n in range(1, 38):
        assert roots[n] == _naive_root(leaves[:n])
        for i in range(n):
            merkle.verify_inclusion(i, n, leaves[i], merkle.inclusion_proof(leaves[:n], i), roots[n])
        for m in range(1, n + 1):
            merkle.verify_consistency(m, n, roots[m], roots[n], merkle.consistency_proof(leaves[:n], m))


def test_known_root() -> None:
    """RFC 6962 reference: the 8-leaf tree of the CT test inputs has a known root."""
    inputs = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
    leaves = [merkle.leaf_hash(bytes.fromhex(x)) for x in inputs]
    assert merkle.root(leaves).hex() == (
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    )
    assert merkle.root([]) == merkle.EMPTY_ROOT


def test_forked_tree_fails_consistency() -> None:
    leaves = _leaves(10)
    forked = list(leaves)
    forked[3] = merkle.leaf_hash(b"evil")
    proof = merkle.consistency_proof(forked, 5)
    with pytest.raises(ProofInvalid):
        merkle.verify_consistency(5, 10, merkle.root(leaves[:5]), merkle.root(forked), proof)
