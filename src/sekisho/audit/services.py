"""Appending to the audit trail, and the workflow steps of the tamper-evident log (R2.9, R3, P11).

Every service function that changes state calls ``record`` inside its own transaction, so the change and its
event commit or roll back together. ``record`` also extends the stream's Merkle tree: the compact range on the
stream row, plus a stored node for each completed perfect subtree of 16 leaves or more.

Signed tree heads cover exactly the events before them. A head requested by someone (export, inspection,
request) is recorded by an event appended first, in the same transaction, so the head covers its own record
and is valid without any later event. Periodic heads are recorded the same way in the deployment stream.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from sekisho.core import policy
from sekisho.core.context import current_request_id
from sekisho.core.errors import Invalid
from sekisho.core.models import Contract

from . import keys, merkle, signing
from .models import (
    STORED_MIN_LEVEL,
    AuditEvent,
    AuditStream,
    MerkleNode,
    PinnedHead,
    TreeHead,
    TreeHeadReason,
    stream_key_for,
)

log = logging.getLogger("sekisho.audit")

CLAUSE = "R2.9"


def _jsonable(summary: dict[str, Any]) -> dict[str, Any]:
    # Dates, decimals and lazy strings become plain JSON values once, before hashing, so the stored value
    # and the hashed value are the same.
    return json.loads(json.dumps(summary, cls=DjangoJSONEncoder, ensure_ascii=False))


def _locked_stream(contract_id: int | None) -> AuditStream:
    """The stream's row, locked: concurrent appends to one chain queue here instead of forking it."""
    key = stream_key_for(contract_id)
    stream = AuditStream.objects.select_for_update().filter(key=key).first()
    if stream is None:  # the first event of this stream (get_or_create settles a race between two firsts)
        AuditStream.objects.get_or_create(key=key, defaults={"contract_id": contract_id})
        stream = AuditStream.objects.select_for_update().get(key=key)
    return stream


def record(
    *,
    actor: Any,
    action: str,
    contract: Any = None,
    obj: models.Model | None = None,
    summary: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the contract's chain (or the deployment chain when *contract* is None).

    Must run inside the caller's transaction: an event without its change, or a change without its event,
    is what this trail exists to rule out.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record must be called inside the service's transaction")
    contract_id = contract.pk if contract is not None else None
    stream = _locked_stream(contract_id)
    actor_obj = actor if getattr(actor, "pk", None) is not None else None
    event = AuditEvent(
        stream=stream,
        index=stream.size,
        contract_id=contract_id,
        actor=actor_obj,
        actor_label=(actor_obj.get_username() if actor_obj is not None else str(actor or "system")),
        action=action,
        object_type=(obj._meta.label_lower if obj is not None else ""),
        object_id=(str(obj.pk) if obj is not None else ""),
        summary=_jsonable(summary or {}),
        occurred_at=dt.datetime.now(tz=dt.UTC),
        request_id=current_request_id() or "",
        prev_hash=stream.head_hash,
    )
    body = event.canonical_bytes()
    event.hash = hashlib.sha256(body).hexdigest()
    event.save(force_insert=True)
    frontier = merkle.unpack_frontier(stream.frontier, stream.size)
    size, completed = merkle.append_subtree(frontier, stream.size, 0, merkle.leaf_hash(body))
    stored = [
        MerkleNode(stream=stream, level=level, index=index, hash=h)
        for level, index, h in completed
        if level >= STORED_MIN_LEVEL
    ]
    if stored:
        MerkleNode.objects.bulk_create(stored)
    stream.size = size
    stream.head_hash = event.hash
    stream.frontier = merkle.pack_frontier(frontier)
    stream.save(update_fields=["size", "head_hash", "frontier"])
    return event


def verify_chain(stream_key: str) -> int | None:
    """Return the index of the first event whose hash or link is wrong, or None if the chain holds."""
    prev = ""
    events = AuditEvent.objects.filter(stream__key=stream_key).order_by("index")
    for expected_index, event in enumerate(events.iterator(chunk_size=2000)):
        if event.index != expected_index or event.prev_hash != prev or event.compute_hash() != event.hash:
            return event.index
        prev = event.hash
    return None


# --- Signed tree heads ---------------------------------------------------------------------------------------


def _sign(stream: AuditStream, *, reason: str, requested_by: Any = None) -> TreeHead:
    """Sign the stream's current tree. The caller holds the stream's lock (``_locked_stream``)."""
    frontier = merkle.unpack_frontier(stream.frontier, stream.size)
    now_ms = signing.ms_of(dt.datetime.now(tz=dt.UTC))
    head = signing.sign(
        signing.TreeHead(
            stream=stream.key,
            size=stream.size,
            root_hash=merkle.frontier_root(frontier).hex(),
            head_hash=stream.head_hash,
            timestamp_ms=now_ms,
        ),
        keys.signing_key(),
    )
    return TreeHead.objects.create(
        stream=stream,
        size=head.size,
        root_hash=head.root_hash,
        head_hash=head.head_hash,
        timestamp_ms=head.timestamp_ms,
        key_id=head.key_id,
        signature=head.signature,
        reason=reason,
        requested_by=requested_by if getattr(requested_by, "pk", None) is not None else None,
    )


@transaction.atomic
def sign_tree_head(
    contract: Contract, *, acting_user: Any, reason: str = TreeHeadReason.REQUEST, note: str = ""
) -> TreeHead:
    """Sign the contract's log now (on request, or for an inspection). Enforces R2.9 / P11: evidence the
    orderer can check offline. The request is itself an event, appended first, so the head covers it."""
    policy.require(acting_user, "audit.sign", contract)
    if reason not in (TreeHeadReason.REQUEST, TreeHeadReason.INSPECTION):
        raise Invalid(_("署名の理由が正しくありません。"))
    record(
        actor=acting_user,
        action="audit.sign_tree_head",
        contract=contract,
        obj=contract,
        summary={"reason": reason, "note": note},
    )
    return _sign(_locked_stream(contract.pk), reason=reason, requested_by=acting_user)


def _latest_heads() -> dict[int, tuple[int, int]]:
    """stream id -> (size, timestamp_ms) of its latest tree head."""
    latest: dict[int, tuple[int, int]] = {}
    rows = TreeHead.objects.order_by().values("stream_id").annotate(size=Max("size"), at=Max("timestamp_ms"))
    for row in rows:
        latest[row["stream_id"]] = (row["size"], row["at"])
    return latest


@transaction.atomic
def sign_due_tree_heads(*, now: dt.datetime | None = None) -> list[TreeHead]:
    """The periodic job (``sekisho audit sign --due``): sign every log that grew since its last head, once
    that head is older than SEKISHO_STH_INTERVAL_MINUTES.

    The job's own record goes into the deployment stream before signing, and the deployment stream is then
    signed too, so a quiet deployment gets no new events and no new heads."""
    now = now or dt.datetime.now(tz=dt.UTC)
    cutoff_ms = signing.ms_of(now - dt.timedelta(minutes=settings.SEKISHO_STH_INTERVAL_MINUTES))
    latest = _latest_heads()
    due = [
        stream
        for stream in AuditStream.objects.filter(size__gt=0).order_by("key")
        if stream.pk not in latest
        or (latest[stream.pk][0] < stream.size and latest[stream.pk][1] <= cutoff_ms)
    ]
    if not due:
        return []
    sizes = {stream.key: stream.size for stream in due if stream.key != stream_key_for(None)}
    system = _system_account()
    record(actor=system, action="audit.sign_due", summary={"streams": sizes})
    heads = []
    keys_due = sorted({*sizes, stream_key_for(None)})
    for key in keys_due:  # one lock order for every signer, so two jobs cannot deadlock
        stream = AuditStream.objects.select_for_update().get(key=key)
        heads.append(_sign(stream, reason=TreeHeadReason.INTERVAL))
    return heads


def _system_account() -> Any:
    from sekisho.core.services import system_account

    return system_account()


# --- Witness: pinned tree heads --------------------------------------------------------------------------------


@transaction.atomic
def pin_tree_head(
    contract: Contract, *, acting_user: Any, head: signing.TreeHead, note: str = ""
) -> PinnedHead:
    """Record a tree head the orderer has seen (the witness). Enforces R2.9 / P11: from now on Sekisho must
    prove that its log extends this head; ``witness`` shows loudly when it cannot.

    Only heads signed by this deployment's key are evidence; anything else is refused."""
    policy.require(acting_user, "audit.pin", contract, clause=CLAUSE)
    if head.stream != stream_key_for(contract.pk):
        raise Invalid(
            _("この契約の監査ログのツリーヘッドではありません。"), code="wrong_stream", clause=CLAUSE
        )
    if not signing.signature_is_valid(head, keys.public_key()):
        raise Invalid(
            _("このシステムの鍵で署名されたツリーヘッドではありません。"), code="bad_signature", clause=CLAUSE
        )
    record(
        actor=acting_user,
        action="audit.pin",
        contract=contract,
        obj=contract,
        summary={
            "size": head.size,
            "root_hash": head.root_hash,
            "timestamp_ms": head.timestamp_ms,
            "note": note,
        },
    )
    stream = _locked_stream(contract.pk)
    return PinnedHead.objects.create(
        stream=stream,
        size=head.size,
        root_hash=head.root_hash,
        head_hash=head.head_hash,
        timestamp_ms=head.timestamp_ms,
        key_id=head.key_id,
        signature=head.signature,
        pinned_by=acting_user,
        pinned_at=dt.datetime.now(tz=dt.UTC),
        note=note,
    )


# --- Export for inspections ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    contract: Contract
    tree_head: TreeHead
    exported_by: str

    @property
    def filename(self) -> str:
        return f"sekisho-audit-contract-{self.contract.pk}-{self.tree_head.size}.jsonl"


@transaction.atomic
def export_contract(contract: Contract, *, acting_user: Any) -> Export:
    """Export the contract's log for an inspection or a claim (R2.9, R3, P11): its events as JSON Lines, a
    tree head signed now, and the public key, in one file (``export.export_lines`` writes it).

    The export is itself an event, appended first, so the file ends with its own record."""
    policy.require(acting_user, "audit.export", contract, clause=CLAUSE)
    record(actor=acting_user, action="audit.export", contract=contract, obj=contract, summary={})
    head = _sign(_locked_stream(contract.pk), reason=TreeHeadReason.EXPORT, requested_by=acting_user)
    return Export(contract=contract, tree_head=head, exported_by=acting_user.get_username())
