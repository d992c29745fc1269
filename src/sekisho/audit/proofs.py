"""Proofs from the stored Merkle state (reads only): inclusion, consistency, roots at past sizes, the witness
report over pinned heads, and a full integrity check of a stream.

A proof needs ≤ 2·log2(n) perfect subtrees. Those of 16 leaves and more come from ``MerkleNode`` in one query;
smaller ones are re-hashed from the (at most 16) events of their block. Nothing re-hashes the whole log except
``check_stream``, which exists to do exactly that.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _

from sekisho.core.errors import Conflict, Invalid

from . import keys, merkle, signing
from .canonical import canonical_json
from .models import (
    CANONICAL_COLUMNS,
    STORED_MIN_LEVEL,
    AuditEvent,
    AuditStream,
    MerkleNode,
    PinnedHead,
    TreeHead,
    canonical_of,
)

log = logging.getLogger("sekisho.audit")


class IncompleteTree(Conflict):
    default_code = "audit_tree_incomplete"


def _event_bodies(stream: AuditStream, ranges: Iterable[tuple[int, int]]) -> dict[int, bytes]:
    """Canonical bytes of the events in the given index ranges (a few dozen at most), in one query.

    The indexes are listed one by one: `index IN (…)` is a seek per value on every database, whereas an OR
    of ranges can make SQLite's planner scan the whole stream (240 ms instead of 2 ms at 1M events)."""
    indexes = sorted({i for a, b in ranges for i in range(a, b)})
    rows = AuditEvent.objects.filter(stream=stream, index__in=indexes).values_list(*CANONICAL_COLUMNS)
    return {row[0]: canonical_json(canonical_of(*row)) for row in rows}


def fetch_nodes(
    stream: AuditStream, wanted: set[merkle.Node], also_events: Iterable[int] = ()
) -> tuple[dict[merkle.Node, bytes], dict[int, bytes]]:
    """Hashes of the *wanted* perfect subtrees (stored ones in one query, small ones re-hashed from their
    events in another), and the canonical bytes of the events *also_events*, read by the same query."""
    found: dict[merkle.Node, bytes] = {}
    stored = [n for n in wanted if n[0] >= STORED_MIN_LEVEL]
    if stored:
        by_level: dict[int, list[int]] = defaultdict(list)
        for level, index in stored:
            by_level[level].append(index)
        condition = Q()
        for level, indexes in by_level.items():
            condition |= Q(level=level, index__in=indexes)
        rows = MerkleNode.objects.filter(stream=stream).filter(condition)
        for level, index, h in rows.values_list("level", "index", "hash"):
            found[(level, index)] = bytes(h)
        if len(found) != len(stored):
            log.error(
                "audit stream %s: stored Merkle nodes missing: %s", stream.key, set(stored) - set(found)
            )
            raise IncompleteTree(
                _("監査ログのMerkle木の保存状態が不完全です。sekisho audit check で確認してください。")
            )
    low = [n for n in wanted if n[0] < STORED_MIN_LEVEL]
    ranges = [(index << level, (index + 1) << level) for level, index in low]
    extra = [(i, i + 1) for i in also_events]
    bodies = _event_bodies(stream, ranges + extra) if ranges or extra else {}
    leaves = {i: merkle.leaf_hash(body) for i, body in bodies.items()}
    for (level, index), (a, b) in zip(low, ranges, strict=True):
        try:
            found[(level, index)] = merkle.subtree_hash([leaves[i] for i in range(a, b)])
        except KeyError as exc:
            raise IncompleteTree(_("監査ログのイベントが欠けています。")) from exc
    return found, bodies


def node_source(stream: AuditStream) -> merkle.NodeSource:
    def fetch(wanted: set[merkle.Node]) -> Mapping[merkle.Node, bytes]:
        return fetch_nodes(stream, wanted)[0]

    return fetch


def _check_size(stream: AuditStream, size: int) -> None:
    if size > stream.size:
        raise Invalid(
            _("監査ログはまだ{size}件に達していません（現在{current}件）。").format(
                size=size, current=stream.size
            ),
            code="beyond_log",
        )


@dataclass(frozen=True)
class InclusionProof:
    index: int
    tree_size: int
    leaf_hash: bytes
    event: bytes
    proof: list[bytes]
    root_hash: bytes


def inclusion(stream: AuditStream, index: int, tree_size: int) -> InclusionProof:
    """The event's canonical bytes and its audit path, in two queries whatever the size of the log."""
    _check_size(stream, tree_size)
    if not 0 <= index < tree_size:
        raise Invalid(_("イベントの連番がツリーの範囲外です。"), code="index_out_of_tree")
    ranges = merkle.inclusion_ranges(index, tree_size)
    nodes, bodies = fetch_nodes(stream, merkle.nodes_for(ranges), also_events=[index])
    if index not in bodies:
        raise IncompleteTree(_("監査ログのイベントが欠けています。"))
    leaf = merkle.leaf_hash(bodies[index])
    proof = merkle.hash_ranges(ranges, nodes)
    root = merkle.root_from_inclusion_proof(index, tree_size, leaf, proof)
    return InclusionProof(index, tree_size, leaf, bodies[index], proof, root)


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: list[bytes]


def consistency(stream: AuditStream, first: int, second: int) -> ConsistencyProof:
    _check_size(stream, second)
    if not 0 <= first <= second:
        raise Invalid(_("古いツリーのサイズは新しいツリー以下にしてください。"), code="bad_sizes")
    wanted = merkle.nodes_for(merkle.consistency_ranges(first, second))
    wanted |= set(merkle.range_nodes(0, first)) | set(merkle.range_nodes(0, second))
    nodes, _bodies = fetch_nodes(stream, wanted)

    def cached(w: set[merkle.Node]) -> Mapping[merkle.Node, bytes]:
        return nodes

    return ConsistencyProof(
        first=first,
        second=second,
        first_root=merkle.root_at(first, cached),
        second_root=merkle.root_at(second, cached),
        proof=merkle.consistency_proof(first, second, cached),
    )


def current_root(stream: AuditStream) -> bytes:
    return merkle.frontier_root(merkle.unpack_frontier(stream.frontier, stream.size))


def latest_head(stream: AuditStream) -> TreeHead | None:
    return TreeHead.objects.filter(stream=stream).order_by("-size", "-timestamp_ms", "-id").first()


# --- Witness -------------------------------------------------------------------------------------------------


@dataclass
class PinStatus:
    pin: PinnedHead
    ok: bool
    message: str
    to_size: int | None = None
    proof: list[bytes] = field(default_factory=list)


@dataclass
class WitnessReport:
    stream: AuditStream
    current: TreeHead | None
    current_ok: bool
    pins: list[PinStatus]

    @property
    def ok(self) -> bool:
        return self.current_ok and all(p.ok for p in self.pins)

    @property
    def failures(self) -> list[str]:
        out = [] if self.current_ok else [_("最新の署名付きツリーヘッドの署名を確認できません。")]
        return out + [p.message for p in self.pins if not p.ok]


def witness(stream: AuditStream) -> WitnessReport:
    """Prove, for every pinned head, that the latest signed head extends it. Any failure is evidence that
    the log was rewritten or rolled back, and is logged as an error as well as reported."""
    current = latest_head(stream)
    public_key = keys.public_key()
    current_ok = current is None or signing.signature_is_valid(current.signed(), public_key)
    statuses = []
    for pin in PinnedHead.objects.filter(stream=stream).select_related("stream").order_by("size", "id"):
        statuses.append(_check_pin(stream, pin, current, public_key))
    report = WitnessReport(stream, current, current_ok, statuses)
    for failure in report.failures:
        log.error("audit witness FAILED for %s: %s", stream.key, failure)
    return report


def _check_pin(stream: AuditStream, pin: PinnedHead, current: TreeHead | None, public_key: Any) -> PinStatus:
    if not signing.signature_is_valid(pin.signed(), public_key):
        return PinStatus(
            pin, False, _("記録済みツリーヘッド（{size}件）の署名を確認できません。").format(size=pin.size)
        )
    if pin.size > stream.size:
        return PinStatus(
            pin,
            False,
            _(
                "監査ログが記録済みツリーヘッド（{size}件）より短くなっています（現在{current}件）。"
                "イベントが削除されたか、古い状態に戻された可能性があります。"
            ).format(size=pin.size, current=stream.size),
        )
    if current is not None and current.size >= pin.size:
        to_size, to_root = current.size, bytes.fromhex(current.root_hash)
    else:
        to_size, to_root = stream.size, current_root(stream)
    try:
        proof = merkle.consistency_proof(pin.size, to_size, node_source(stream))
        merkle.verify_consistency(pin.size, to_size, bytes.fromhex(pin.root_hash), to_root, proof)
    except (merkle.ProofError, IncompleteTree):
        return PinStatus(
            pin,
            False,
            _(
                "記録済みツリーヘッド（{size}件）と現在の監査ログが一致しません。"
                "記録後に履歴が書き換えられた可能性があります。"
            ).format(size=pin.size),
            to_size,
        )
    return PinStatus(pin, True, _("整合しています。"), to_size, proof)


# --- Full check ----------------------------------------------------------------------------------------------


def check_stream(stream: AuditStream) -> list[str]:
    """Re-hash the whole stream from its events and compare with everything stored: chain, compact range,
    stored nodes and every signed head. Returns the problems found (empty when all holds)."""
    problems: list[str] = []
    frontier: list[bytes] = []
    size = 0
    prev = ""
    computed: dict[tuple[int, int], bytes] = {}
    heads = list(TreeHead.objects.filter(stream=stream).order_by("size"))
    head_at = defaultdict(list)
    for head in heads:
        head_at[head.size].append(head)
    public_key = keys.public_key()
    for head in head_at.get(0, []):
        _compare_head(head, merkle.EMPTY_ROOT, "", public_key, problems)
    rows = (
        AuditEvent.objects.filter(stream=stream)
        .order_by("index")
        .values_list("hash", *CANONICAL_COLUMNS)
        .iterator(chunk_size=5000)
    )
    for row in rows:
        stored_hash, values = row[0], row[1:]
        body = canonical_json(canonical_of(*values))
        index, prev_hash = values[0], values[-1]
        if index != size:
            problems.append(
                _("連番{size}のイベントがありません（次は連番{index}）。").format(size=size, index=index)
            )
            break
        if prev_hash != prev or hashlib.sha256(body).hexdigest() != stored_hash:
            problems.append(_("連番{index}のイベントのハッシュ連鎖が切れています。").format(index=index))
        prev = stored_hash
        size, completed = merkle.append_subtree(frontier, size, 0, merkle.leaf_hash(body))
        for level, node_index, h in completed:
            if level >= STORED_MIN_LEVEL:
                computed[(level, node_index)] = h
        for head in head_at.get(size, []):
            _compare_head(head, merkle.frontier_root(frontier), prev, public_key, problems)
    if size != stream.size:
        problems.append(
            _("ストリームは{stored}件としていますが、イベントは{size}件です。").format(
                stored=stream.size, size=size
            )
        )
    for head in heads:
        if head.size > size:
            problems.append(
                _("ツリーヘッド#{pk}は{head}件を署名していますが、イベントは{size}件です。").format(
                    pk=head.pk, head=head.size, size=size
                )
            )
    if merkle.pack_frontier(frontier) != bytes(stream.frontier):
        problems.append(_("保存されたコンパクトレンジがイベントと一致しません。"))
    stored = {
        (level, index): bytes(h)
        for level, index, h in MerkleNode.objects.filter(stream=stream).values_list("level", "index", "hash")
    }
    if stored != computed:
        bad = sorted(k for k in stored.keys() | computed.keys() if stored.get(k) != computed.get(k))
        problems.append(
            _(
                "保存されたMerkleノード{count}件がイベントと一致しません（最初は level {level}, index {index}）。"
            ).format(count=len(bad), level=bad[0][0], index=bad[0][1])
        )
    return problems


def _compare_head(head: TreeHead, root: bytes, last_hash: str, public_key: Any, problems: list[str]) -> None:
    if head.root_hash != root.hex() or head.head_hash != last_hash:
        problems.append(
            _("ツリーヘッド#{pk}（{size}件）がイベントと一致しません。").format(pk=head.pk, size=head.size)
        )
    if not signing.signature_is_valid(head.signed(), public_key):
        problems.append(
            _("ツリーヘッド#{pk}（{size}件）の署名が正しくありません。").format(pk=head.pk, size=head.size)
        )
