"""Read queries of permits. Each costs a fixed number of queries, whatever the number of permits."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from sekisho.core import policy
from sekisho.core.models import Contract
from sekisho.ledger.models import Asset

from .models import DECIDER_ROLE, Permit, PermitState


def permits(user: Any, contract: Contract, *, state: str = "", kind: str = "") -> QuerySet[Permit]:
    """The contract's permits the user may read, newest request first, with what a list shows."""
    qs = policy.visible(user, Permit).filter(contract=contract)
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    return (
        qs.select_related("requester", "decided_by")
        .prefetch_related("assets")
        .order_by("-requested_at", "-id")
    )


def kinds_decided_by(role: str | None) -> list[str]:
    return [kind for kind, decider in DECIDER_ROLE.items() if decider == role]


def awaiting_decision(user: Any, contract: Contract, role: str | None) -> QuerySet[Permit]:
    """Requests the user could decide now: their role decides the kind, and nobody decides their own."""
    return (
        permits(user, contract, state=PermitState.REQUESTED)
        .filter(kind__in=kinds_decided_by(role))
        .exclude(requester_id=getattr(user, "pk", None))
        .order_by("requested_at", "id")
    )


def naming_asset(user: Any, asset: Asset) -> QuerySet[Permit]:
    """The permits whose subject includes *asset*."""
    return (
        policy.visible(user, Permit)
        .filter(contract_id=asset.contract_id, assets=asset)
        .select_related("requester", "decided_by")
        .order_by("-requested_at", "-id")
    )
