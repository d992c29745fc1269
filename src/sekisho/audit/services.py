"""Appending to the audit trail. Every service function that changes state calls ``record`` inside its own
transaction, so the change and its event commit or roll back together."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction

from sekisho.core.context import current_request_id

from .models import AuditEvent, AuditStream, stream_key_for


def _jsonable(summary: dict[str, Any]) -> dict[str, Any]:
    # Dates, decimals and lazy strings become plain JSON values once, before hashing, so the stored value
    # and the hashed value are the same.
    return json.loads(json.dumps(summary, cls=DjangoJSONEncoder, ensure_ascii=False))


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
    key = stream_key_for(contract_id)
    stream, _ = AuditStream.objects.get_or_create(key=key, defaults={"contract_id": contract_id})
    # Lock the head: concurrent appends to one chain queue here instead of forking it.
    stream = AuditStream.objects.select_for_update().get(pk=stream.pk)
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
    event.hash = event.compute_hash()
    event.save(force_insert=True)
    stream.size += 1
    stream.head_hash = event.hash
    stream.save(update_fields=["size", "head_hash"])
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
