"""The Merkle tree and proof code against the published RFC 6962 / Certificate Transparency reference vectors
(tests/audit/data/rfc6962_vectors.json names the source of each), and against forged and truncated proofs.

Pure functions: no database."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from sekisho.audit import merkle

DATA = json.loads((Path(__file__).parent / "data" / "rfc6962_vectors.json").read_text(encoding="utf-8"))
LEAVES = [bytes.fromhex(h) for h in DATA["leaves"]["hex"]]
LEAF_HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]
ROOTS = [bytes.fromhex(h) for h in DATA["roots"]["hex"]]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _reference_mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, word for word (recursive): the yardstick for the fast code."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _reference_mth(leaves[:k]) + _reference_mth(leaves[k:])).digest()


def test_leaf_and_node_hashes_match_the_ct_tree_hasher_vectors():
    for data, expected in DATA["tree_hasher"]["leaves"]:
        assert merkle.leaf_hash(bytes.fromhex(data)).hex() == expected
    for left, right, expected in DATA["tree_hasher"]["nodes"]:
        assert merkle.node_hash(bytes.fromhex(left), bytes.fromhex(right)).hex() == expected
    assert merkle.EMPTY_ROOT.hex() == DATA["empty_root"]["hex"]


@pytest.mark.parametrize("size", range(0, 9))
def test_root_of_the_standard_leaves_matches_the_reference_root(size):
    expected = merkle.EMPTY_ROOT if size == 0 else ROOTS[size - 1]
    assert merkle.root_of_leaf_hashes(LEAF_HASHES[:size]) == expected
    assert _reference_mth(LEAVES[:size]) == expected


def test_appending_leaf_by_leaf_keeps_the_reference_compact_range_and_root():
    nodes = DATA["node_hashes"]["hex"]
    frontier: list[bytes] = []
    size = 0
    for i, leaf in enumerate(LEAF_HASHES):
        size, completed = merkle.append_subtree(frontier, size, 0, leaf)
        for level, index, h in completed:
            assert h.hex() == nodes[level][index], (level, index)
        expected = [bytes.fromhex(nodes[lv][ix]) for lv, ix in DATA["compact_trees"]["nodes"][size]]
        assert frontier == expected
        assert merkle.frontier_root(frontier) == ROOTS[i]
        assert merkle.unpack_frontier(merkle.pack_frontier(frontier), size) == frontier


@pytest.mark.parametrize(
    "case", DATA["inclusion_proofs"]["cases"], ids=lambda c: f"{c['leaf']}-of-{c['size']}"
)
def test_inclusion_proofs_match_the_reference_and_verify(case):
    index, size = case["leaf"] - 1, case["size"]
    expected = [bytes.fromhex(h) for h in case["proof"]]
    proof = merkle.inclusion_proof(index, size, merkle.memory_source(LEAF_HASHES[:size]))
    assert proof == expected
    merkle.verify_inclusion(index, size, LEAF_HASHES[index], proof, ROOTS[size - 1])


@pytest.mark.parametrize(
    "case", DATA["consistency_proofs"]["cases"], ids=lambda c: f"{c['size1']}-to-{c['size2']}"
)
def test_consistency_proofs_match_the_reference_and_verify(case):
    first, second = case["size1"], case["size2"]
    expected = [bytes.fromhex(h) for h in case["proof"]]
    proof = merkle.consistency_proof(first, second, merkle.memory_source(LEAF_HASHES[:second]))
    assert proof == expected
    merkle.verify_consistency(first, second, ROOTS[first - 1], ROOTS[second - 1], proof)


def test_real_ct_log_audit_path_at_3_6_million_leaves_verifies():
    case = DATA["ct_log_audit_path"]
    proof = [bytes.fromhex(h) for h in case["proof"]]
    leaf, root = bytes.fromhex(case["leaf_hash"]), bytes.fromhex(case["root"])
    merkle.verify_inclusion(case["leaf_index"], case["tree_size"], leaf, proof, root)
    # The same path is too short for a leaf far to the right (the CT test's "too short proof").
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(
            case["leaf_index"] + 2 ** (len(proof) + 1), case["tree_size"], leaf, proof, root
        )


@pytest.mark.parametrize("entry", DATA["testdata_json"]["cases"], ids=lambda e: e["path"])
def test_transparency_dev_testdata_cases(entry):
    case = entry["case"]

    def b64(value: str) -> bytes:
        return base64.b64decode(value)

    proof = [b64(p) for p in case["proof"] or []]
    if entry["kind"] == "inclusion":
        run = lambda: merkle.verify_inclusion(  # noqa: E731
            case["leafIdx"], case["treeSize"], b64(case["leafHash"]), proof, b64(case["root"])
        )
    else:
        run = lambda: merkle.verify_consistency(  # noqa: E731
            case["size1"], case["size2"], b64(case["root1"]), b64(case["root2"]), proof
        )
    if case["wantErr"]:
        with pytest.raises(merkle.ProofError):
            run()
    else:
        run()


def test_every_proof_of_every_small_tree_is_what_the_rfc_definition_gives():
    for size in range(1, 40):
        leaves = [f"event {i}".encode() for i in range(size)]
        hashes = [merkle.leaf_hash(x) for x in leaves]
        source = merkle.memory_source(hashes)
        root = _reference_mth(leaves)
        assert merkle.root_at(size, source) == root
        for index in range(size):
            merkle.verify_inclusion(
                index, size, hashes[index], merkle.inclusion_proof(index, size, source), root
            )
        for first in range(size + 1):
            proof = merkle.consistency_proof(first, size, source)
            merkle.verify_consistency(first, size, _reference_mth(leaves[:first]), root, proof)


# --- Forged, truncated and padded proofs (ported from transparency-dev/merkle proof/verify_test.go probes;
# cf. GHSA-672p-m5jq-mrh8, where an audit database accepted forged proofs) -------------------------------------


def _flip(h: bytes, bit: int) -> bytes:
    return bytes([h[0] ^ bit]) + h[1:]


def _inclusion_forgeries(index, size, proof, root, leaf):
    probes = [
        ("index - 1", index - 1, size, root, leaf, proof),
        ("index + 1", index + 1, size, root, leaf, proof),
        ("index ^ 2", index ^ 2, size, root, leaf, proof),
        ("size * 2", index, size * 2, root, leaf, proof),
        ("size // 2", index, size // 2, root, leaf, proof),
        ("wrong leaf", index, size, root, hashlib.sha256(b"WrongLeaf").digest(), proof),
        ("short leaf", index, size, root, b"WrongLeaf", proof),
        ("empty root", index, size, merkle.EMPTY_ROOT, leaf, proof),
        ("random root", index, size, SOME_HASH, leaf, proof),
        ("trailing garbage", index, size, root, leaf, [*proof, b""]),
        ("trailing root", index, size, root, leaf, [*proof, root]),
        ("preceding garbage", index, size, root, leaf, [b"", *proof]),
        ("preceding root", index, size, root, leaf, [root, *proof]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = _flip(wrong[i], 8)
        probes.append((f"modified proof[{i}]", index, size, root, leaf, wrong))
    if proof:
        probes.append(("truncated", index, size, root, leaf, proof[:-1]))
    if len(proof) > 1:
        probes.append(("inserted component", index, size, root, leaf, [proof[0], SOME_HASH, *proof[1:]]))
    return probes


@pytest.mark.parametrize(
    "case", DATA["inclusion_proofs"]["cases"][1:], ids=lambda c: f"{c['leaf']}-of-{c['size']}"
)
def test_forged_or_truncated_inclusion_proofs_are_rejected(case):
    index, size = case["leaf"] - 1, case["size"]
    proof = [bytes.fromhex(h) for h in case["proof"]]
    accepted = []
    for desc, i, n, root, leaf, p in _inclusion_forgeries(
        index, size, proof, ROOTS[size - 1], LEAF_HASHES[index]
    ):
        try:
            merkle.verify_inclusion(i, n, leaf, p, root)
        except merkle.ProofError:
            continue
        accepted.append(desc)
    assert accepted == []


@pytest.mark.parametrize(
    "case", DATA["consistency_proofs"]["cases"][1:], ids=lambda c: f"{c['size1']}-to-{c['size2']}"
)
def test_forged_or_truncated_consistency_proofs_are_rejected(case):
    m, n = case["size1"], case["size2"]
    proof = [bytes.fromhex(h) for h in case["proof"]]
    r1, r2 = ROOTS[m - 1], ROOTS[n - 1]
    probes = [
        ("size1 - 1", m - 1, n, r1, r2, proof),
        ("size1 + 1", m + 1, n, r1, r2, proof),
        ("size1 ^ 2", m ^ 2, n, r1, r2, proof),
        ("size2 * 2", m, n * 2, r1, r2, proof),
        ("size2 // 2", m, n // 2, r1, r2, proof),
        ("wrong root1", m, n, SOME_HASH, r2, proof),
        ("wrong root2", m, n, r1, SOME_HASH, proof),
        ("swapped roots", m, n, r2, r1, proof),
        ("empty proof", m, n, r1, r2, []),
        ("trailing garbage", m, n, r1, r2, [*proof, b""]),
        ("trailing root1", m, n, r1, r2, [*proof, r1]),
        ("trailing root2", m, n, r1, r2, [*proof, r2]),
        ("preceding garbage", m, n, r1, r2, [b"", *proof]),
        ("preceding root1", m, n, r1, r2, [r1, *proof]),
        ("preceding root2", m, n, r1, r2, [r2, *proof]),
        ("preceding proof[0]", m, n, r1, r2, [proof[0], *proof]),
        ("truncated", m, n, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = _flip(wrong[i], 16)
        probes.append((f"modified proof[{i}]", m, n, r1, r2, wrong))
    accepted = []
    for desc, a, b, x, y, p in probes:
        try:
            merkle.verify_consistency(a, b, x, y, p)
        except merkle.ProofError:
            continue
        accepted.append(desc)
    assert accepted == []


def test_degenerate_consistency_cases_accept_only_the_trivial_proof():
    root1, root3 = ROOTS[0], ROOTS[2]
    merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    merkle.verify_consistency(0, 3, merkle.EMPTY_ROOT, root3, [])
    merkle.verify_consistency(3, 3, root3, root3, [])
    forged = [
        (0, 3, merkle.EMPTY_ROOT, root3, [merkle.EMPTY_ROOT]),  # junk after an empty tree
        (0, 3, root1, root3, []),  # an "empty tree" with a non-empty root
        (3, 3, root3, root3, [root3]),  # equal sizes with a proof
        (3, 3, root1, root3, []),  # equal sizes, different roots
        (3, 1, root3, root1, []),  # time travel
        (1, 3, root1, root3, []),  # empty proof between different sizes
    ]
    for args in forged:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*args)


def test_inclusion_in_an_empty_or_smaller_tree_is_rejected():
    for index, size in [(0, 0), (1, 0), (2, 1), (-1, 4)]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(index, size, LEAF_HASHES[0], [], ROOTS[0])
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_ranges(5, 5)
