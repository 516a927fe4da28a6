"""RFC 6962 Merkle tree: leaf/node hashes, a streaming root builder, inclusion and consistency proofs.

Verification follows the RFC 6962 / C2SP tlog algorithms and is checked against the
transparency-dev vectors (`vectors/merkle/testdata`), including subtree proofs.
Every verifier raises `ProofInvalid` instead of returning False.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from archive.errors import IntegrityError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofInvalid(IntegrityError):
    """A Merkle inclusion or consistency proof does not verify."""

    message = "默克尔证明校验失败"


def leaf_hash(data: bytes) -> bytes:
    """Hash of one log line (raw bytes, no newline): SHA-256(0x00 ‖ data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleBuilder:
    """Incremental root of an append-only tree in O(log n) memory (a compact range of perfect subtrees)."""

    __slots__ = ("_stack", "size")

    def __init__(self) -> None:
        self._stack: list[bytes] = []  # roots of perfect subtrees, largest first
        self.size = 0

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash; merges equal-height subtrees as a binary counter carries."""
        stack = self._stack
        h = leaf
        n = self.size
        while n & 1:
            h = node_hash(stack.pop(), h)
            n >>= 1
        stack.append(h)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """Root hash of the tree of the current size (SHA-256 of nothing when empty)."""
        if not self._stack:
            return EMPTY_ROOT
        it = reversed(self._stack)
        h = next(it)
        for left in it:
            h = node_hash(left, h)
        return h


def root(leaf_hashes: Iterable[bytes]) -> bytes:
    """Root hash of the tree whose leaves have the given hashes."""
    b = MerkleBuilder()
    b.extend(leaf_hashes)
    return b.root()


def _split(n: int) -> int:
    """Largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962 audit path for leaf `index` in the tree of all `leaf_hashes` (in memory; for tests and export)."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ProofInvalid(f"叶子序号 {index} 超出树大小 {n}")
    return _path(index, leaf_hashes)


def _path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) <= 1:
        return []
    k = _split(len(d))
    if m < k:
        return _path(m, d[:k]) + [root(d[k:])]
    return _path(m - k, d[k:]) + [root(d[:k])]


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int) -> list[bytes]:
    """RFC 6962 consistency proof from size1 to the tree of all `leaf_hashes`."""
    n = len(leaf_hashes)
    if not 0 < size1 <= n:
        raise ProofInvalid(f"一致性证明的大小无效：{size1} / {n}")
    if size1 == n:
        return []
    return _subproof(size1, leaf_hashes, True)


def _subproof(m: int, d: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if complete else [root(d)]
    k = _split(n)
    if m <= k:
        return _subproof(m, d[:k], complete) + [root(d[k:])]
    return _subproof(m - k, d[k:], False) + [root(d[:k])]


# --- verification -------------------------------------------------------------------------


def _check_hashes(*hashes: bytes) -> None:
    for h in hashes:
        if len(h) != HASH_SIZE:
            raise ProofInvalid(f"哈希长度应为 {HASH_SIZE} 字节，实际为 {len(h)}")


def _match(calculated: bytes, expected: bytes) -> None:
    if calculated != expected:
        raise ProofInvalid("计算出的根哈希与期望的根哈希不符", expected=expected.hex(), found=calculated.hex())


def _popcount(x: int) -> int:
    return bin(x).count("1")


def _trailing_zeros(x: int) -> int:
    return (x & -x).bit_length() - 1


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Root implied by an inclusion proof for leaf `index` in a tree of `size` leaves."""
    if not 0 <= index < size:
        raise ProofInvalid(f"叶子序号 {index} 超出树大小 {size}")
    _check_hashes(leaf, *proof)
    inner = (index ^ (size - 1)).bit_length()
    border = _popcount(index >> inner)
    if len(proof) != inner + border:
        raise ProofInvalid(f"证明长度为 {len(proof)}，应为 {inner + border}")
    h = _chain_inner(leaf, proof[:inner], index)
    return _chain_border_right(h, proof[inner:])


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """Raise ProofInvalid unless `proof` shows leaf `leaf_index` is in the tree with `root_hash`."""
    _match(root_from_inclusion_proof(leaf_index, tree_size, leaf, proof), root_hash)


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofInvalid unless the tree of size1/root1 is a prefix of the tree of size2/root2."""
    if size2 < size1:
        raise ProofInvalid(f"新树大小 {size2} 小于旧树大小 {size1}")
    if size1 == 0:
        raise ProofInvalid("从空树出发的一致性证明没有意义")
    if size1 == size2:
        if proof:
            raise ProofInvalid("两棵树大小相同，证明却不为空")
        _match(root1, root2)
        return
    if not proof:
        raise ProofInvalid("一致性证明为空")
    _match(_root_from_subtree_consistency(0, size1, size2, proof, root1), root2)


def _subtree_valid(start: int, end: int) -> None:
    if start < 0 or start > end:
        raise ProofInvalid(f"子树区间 [{start}, {end}) 无效")
    if start == 0 or start == end:
        return
    length = end - start
    ceil = 1 << (length - 1).bit_length()
    if start & (ceil - 1):
        raise ProofInvalid(f"子树起点 {start} 不是 {ceil} 的倍数")


def verify_subtree_inclusion(
    index: int, start: int, end: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """Raise ProofInvalid unless leaf `index` is in the subtree [start, end) with `root_hash`."""
    _subtree_valid(start, end)
    if not start <= index < end:
        raise ProofInvalid(f"叶子序号 {index} 不在子树 [{start}, {end}) 内")
    _match(root_from_inclusion_proof(index - start, end - start, leaf, proof), root_hash)


def verify_subtree_consistency(
    start: int, end: int, size: int, proof: Sequence[bytes], sub_root: bytes, root_hash: bytes
) -> None:
    """Raise ProofInvalid unless subtree [start, end) with `sub_root` sits in the tree of `size` with `root_hash`."""
    _subtree_valid(start, end)
    if size < end:
        raise ProofInvalid(f"树大小 {size} 小于子树终点 {end}")
    if start == end:
        # An empty subtree is consistent with any tree; only its own root and proof are checked.
        if proof:
            raise ProofInvalid("空子树的证明应为空")
        _match(sub_root, EMPTY_ROOT)
        return
    if start == 0 and end == size:
        if proof:
            raise ProofInvalid("子树即整棵树，证明却不为空")
        _match(sub_root, root_hash)
        return
    if not proof:
        raise ProofInvalid("一致性证明为空")
    _match(_root_from_subtree_consistency(start, end, size, proof, sub_root), root_hash)


def _root_from_subtree_consistency(
    start: int, end: int, size: int, proof: Sequence[bytes], sub_root: bytes
) -> bytes:
    """Tree root implied by subtree [start, end) (hash `sub_root`) and a consistency proof."""
    if end <= start:
        raise ProofInvalid(f"子树区间 [{start}, {end}) 为空")
    _check_hashes(sub_root, *proof)
    height = ((end - 1) ^ start).bit_length()
    if end == size:
        # The subtree lies on the right border: one left sibling per right-child ancestor.
        want = _popcount(start >> height)
        if len(proof) != want:
            raise ProofInvalid(f"证明长度为 {len(proof)}，应为 {want}")
        return _chain_border_right(sub_root, proof)
    fork = ((end - 1) ^ (size - 1)).bit_length()
    shift = _trailing_zeros(end - start)
    if end - start == 1 << shift:
        seed, first = sub_root, 0  # a perfect subtree: its root is known, not in the proof
    else:
        seed, first = proof[0], 1
    want = first + (fork - shift) + _popcount((end - 1) >> fork)
    if len(proof) != want:
        raise ProofInvalid(f"证明长度为 {len(proof)}，应为 {want}")
    rest = list(proof[first:])
    old, grown = seed, seed
    i = 0
    for level in range(shift, height):
        if ((end - 1) >> level) & 1:
            old = node_hash(rest[i], old)
            grown = node_hash(rest[i], grown)
            i += 1
        elif level < fork:
            grown = node_hash(grown, rest[i])
            i += 1
    _match(old, sub_root)
    s_index = start >> height
    s_size = ((size - 1) >> height) + 1
    return root_from_inclusion_proof(s_index, s_size, grown, rest[i:])
