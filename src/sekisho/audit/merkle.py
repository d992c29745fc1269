"""RFC 6962 (Certificate Transparency) Merkle trees: hashing, the compact range that makes appends cheap,
proof construction over stored perfect subtrees, and proof verification.

Pure Python, no Django: the offline verifier imports this module on a machine with no database or settings.

Terms. A *perfect subtree* (level L, index i) is the subtree over leaves [i·2^L, (i+1)·2^L); its hash never
changes once the log has that many leaves. The tree over n leaves (RFC 6962 §2.1, MTH) splits at the largest
power of two k < n, so its hash is a right fold over the perfect subtrees of the binary decomposition of n,
largest first. The *compact range* of a tree of size n is exactly that list of perfect subtree hashes (one per
set bit of n): it is all one needs to append a leaf (O(log n)) and to compute the root.

Proofs (RFC 6962 §2.1.1 PATH and §2.1.2 PROOF) are built as lists of leaf ranges [a, b); each range is
either a perfect subtree or the right border of the tree, which again folds from perfect subtrees. So a
store of perfect subtree hashes is enough to answer every proof without re-hashing the log.

Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 — a different algorithm from the construction, with exact
length checks, so a forged, truncated or padded proof cannot pass (cf. GHSA-672p-m5jq-mrh8, where an audit
database accepted forged proofs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from hashlib import sha256

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = sha256(b"").digest()

Node = tuple[int, int]  # (level, index) of a perfect subtree
Range = tuple[int, int]  # leaves [start, end)


class ProofError(ValueError):
    """A proof, a tree size or a hash that does not verify."""


def leaf_hash(data: bytes) -> bytes:
    return sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# --- Whole trees --------------------------------------------------------------------------------------------


def root_of_leaf_hashes(leaves: Sequence[bytes]) -> bytes:
    """MTH over already hashed leaves, level by level (fast: list comprehensions, no recursion)."""
    if not leaves:
        return EMPTY_ROOT
    return fold_perfect(perfect_hashes_of(leaves, 0))


def perfect_hashes_of(leaves: Sequence[bytes], start: int) -> list[bytes]:
    """Hashes of the perfect subtrees that make up leaves[start:], largest first (start is aligned enough)."""
    out: list[bytes] = []
    pos = start
    end = len(leaves)
    while pos < end:
        width = 1 << ((end - pos).bit_length() - 1)
        out.append(subtree_hash(leaves[pos : pos + width]))
        pos += width
    return out


def subtree_hash(leaves: Sequence[bytes]) -> bytes:
    """Hash of a perfect subtree given its leaf hashes (len is a power of two)."""
    level = list(leaves)
    while len(level) > 1:
        level = [sha256(NODE_PREFIX + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=True)]
    return level[0]


def fold_perfect(hashes: Sequence[bytes]) -> bytes:
    """Right fold of perfect subtree hashes of strictly decreasing size: the hash of the range they cover."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


# --- Compact range (the "right frontier") --------------------------------------------------------------------


def frontier_levels(size: int) -> list[int]:
    """Levels of the perfect subtrees in the compact range of a tree of *size*, largest first."""
    return [bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]


def append_subtree(
    frontier: list[bytes], size: int, level: int, h: bytes
) -> tuple[int, list[tuple[int, int, bytes]]]:
    """Append a perfect subtree of 2^level leaves (a leaf hash when level is 0) to the compact range.

    *frontier* is changed in place. Returns the new size and every perfect subtree this append completed,
    as (level, index, hash), the appended one first.
    """
    if size % (1 << level):
        raise ValueError(f"a subtree of level {level} cannot follow a tree of size {size}")
    new_size = size + (1 << level)
    completed = [(level, (new_size >> level) - 1, h)]
    carry = size >> level
    while carry & 1:
        h = node_hash(frontier.pop(), h)
        level += 1
        carry >>= 1
        completed.append((level, (new_size >> level) - 1, h))
    frontier.append(h)
    return new_size, completed


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    return fold_perfect(frontier)


def pack_frontier(frontier: Sequence[bytes]) -> bytes:
    return b"".join(frontier)


def unpack_frontier(blob: bytes, size: int) -> list[bytes]:
    count = bin(size).count("1")
    if len(blob) != count * HASH_SIZE:
        raise ValueError(f"stored frontier has {len(blob)} bytes, a tree of size {size} needs {count * 32}")
    return [bytes(blob[i : i + HASH_SIZE]) for i in range(0, len(blob), HASH_SIZE)]


# --- Proof construction ---------------------------------------------------------------------------------------


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """RFC 6962 §2.1.1 PATH(index, D[0:size]) as leaf ranges, bottom-up."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    out: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo = lo + k
    out.reverse()
    return out


def consistency_ranges(first: int, second: int) -> list[Range]:
    """RFC 6962 §2.1.2 PROOF(first, D[0:second]) as leaf ranges, bottom-up. Empty when there is nothing
    to prove (first == 0 or first == second)."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    out: list[Range] = []
    lo, hi, m, whole = 0, second, first, True
    while True:
        n = hi - lo
        if m == n:
            if not whole:
                out.append((lo, hi))
            break
        k = _split(n)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    out.reverse()
    return out


def range_nodes(start: int, end: int) -> list[Node]:
    """The perfect subtrees that make up leaves [start, end), left to right.

    For ranges from proofs (perfect subtrees and right borders) their sizes strictly decrease, so the
    range's hash is the right fold of theirs."""
    out: list[Node] = []
    pos = start
    while pos < end:
        level = (end - pos).bit_length() - 1
        if pos:
            level = min(level, (pos & -pos).bit_length() - 1)
        out.append((level, pos >> level))
        pos += 1 << level
    return out


def nodes_for(ranges: Iterable[Range]) -> set[Node]:
    return {node for a, b in ranges for node in range_nodes(a, b)}


def hash_ranges(ranges: Iterable[Range], nodes: Mapping[Node, bytes]) -> list[bytes]:
    out = []
    for a, b in ranges:
        parts = range_nodes(a, b)
        if any(parts[i][0] <= parts[i + 1][0] for i in range(len(parts) - 1)):
            raise ValueError(f"range [{a}, {b}) is not a perfect subtree or a right border")
        out.append(fold_perfect([nodes[n] for n in parts]))
    return out


NodeSource = Callable[[set[Node]], Mapping[Node, bytes]]


def inclusion_proof(index: int, size: int, fetch: NodeSource) -> list[bytes]:
    ranges = inclusion_ranges(index, size)
    return hash_ranges(ranges, fetch(nodes_for(ranges)))


def consistency_proof(first: int, second: int, fetch: NodeSource) -> list[bytes]:
    ranges = consistency_ranges(first, second)
    return hash_ranges(ranges, fetch(nodes_for(ranges)))


def root_at(size: int, fetch: NodeSource) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    return hash_ranges([(0, size)], fetch(set(range_nodes(0, size))))[0]


def memory_source(leaves: Sequence[bytes]) -> NodeSource:
    """A node source over leaf hashes held in memory (tests, the verifier)."""

    def fetch(wanted: set[Node]) -> dict[Node, bytes]:
        return {(lv, i): subtree_hash(leaves[i << lv : (i + 1) << lv]) for lv, i in wanted}

    return fetch


# --- Verification (RFC 9162 §2.1.3.2, §2.1.4.2) -------------------------------------------------------------


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} is not a {HASH_SIZE}-byte hash")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    _check_hash(leaf, "leaf hash")
    fn, sn, r = index, size - 1, bytes(leaf)
    for i, p in enumerate(proof):
        _check_hash(p, f"proof[{i}]")
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless *proof* shows leaf hash *leaf* at *index* in the tree (*size*, *root*)."""
    _check_hash(root, "root hash")
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError("inclusion proof does not lead to the root hash")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofError unless *proof* shows the tree (*first*, *first_root*) is a prefix of (*second*,
    *second_root*)."""
    _check_hash(first_root, "first root hash")
    _check_hash(second_root, "second root hash")
    for i, p in enumerate(proof):
        _check_hash(p, f"proof[{i}]")
    if first < 0 or second < first:
        raise ProofError(f"no consistency from size {first} to the smaller size {second}")
    if first == second:
        if proof:
            raise ProofError("trees of equal size need an empty proof")
        if first_root != second_root:
            raise ProofError("trees of equal size have different root hashes")
        return
    if first == 0:
        # The empty tree is a prefix of every tree; anything more than its well-known root is a forgery.
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        if first_root != EMPTY_ROOT:
            raise ProofError("the root hash of an empty tree is wrong")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:  # first is a power of two: its root is the first node of the path
        path.insert(0, bytes(first_root))
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the path")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the path")
    if fr != first_root:
        raise ProofError("consistency proof does not lead to the first root hash")
    if sr != second_root:
        raise ProofError("consistency proof does not lead to the second root hash")
