from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from sekisho.core.errors import NotFound
from sekisho.core.models import Contract

from .models import AuditEvent, AuditStream, PinnedHead, TreeHead, stream_key_for


def contract_events(contract: Contract) -> QuerySet[AuditEvent]:
    """The contract's events in append order. Callers have already checked ``audit.view``."""
    return AuditEvent.objects.filter(contract=contract).order_by("index")


def contract_stream(contract: Contract) -> AuditStream:
    """The contract's log. Every contract has one from its creation (``contract.create`` is its event 0)."""
    stream = AuditStream.objects.filter(key=stream_key_for(contract.pk)).first()
    if stream is None:
        raise NotFound(_("この契約の監査ログはまだありません。"))
    return stream


def tree_heads(contract: Contract) -> QuerySet[TreeHead]:
    """Signed tree heads of the contract's log, newest first. Callers have already checked ``audit.view``."""
    return (
        TreeHead.objects.filter(stream__key=stream_key_for(contract.pk))
        .select_related("stream")
        .order_by("-size", "-timestamp_ms", "-id")
    )


def pins(contract: Contract) -> QuerySet[PinnedHead]:
    return (
        PinnedHead.objects.filter(stream__key=stream_key_for(contract.pk))
        .select_related("stream", "pinned_by")
        .order_by("size", "id")
    )
