"""Read queries of the ledger. Each costs a fixed number of queries, whatever the size of the ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

from sekisho.core import policy
from sekisho.core.models import Contract
from sekisho.people.gates import hide_unconsented_personal_info

from .models import Asset


@dataclass(frozen=True)
class LedgerFilters:
    q: str = ""
    important: bool | None = None
    personal: bool | None = None
    state: str = ""
    medium: str = ""
    confidentiality: int | None = None


def ledger(user: Any, contract: Contract, filters: LedgerFilters | None = None) -> QuerySet[Asset]:
    """The contract's assets the user may read, filtered, newest ledger number last."""
    f = filters or LedgerFilters()
    qs = policy.visible(user, Asset).filter(contract=contract)
    qs = hide_unconsented_personal_info(user, contract, qs)  # P8: subcontractor staff without consent
    if f.q.strip():
        term = f.q.strip()
        qs = qs.filter(
            Q(title__icontains=term)
            | Q(ref__iexact=term)
            | Q(description__icontains=term)
            | Q(location__icontains=term)
        )
    if f.important is not None:
        qs = qs.filter(important=f.important)
    if f.personal is not None:
        qs = qs.filter(has_personal_info=f.personal)
    if f.state:
        qs = qs.filter(state=f.state)
    if f.medium:
        qs = qs.filter(medium=f.medium)
    if f.confidentiality is not None:
        qs = qs.filter(confidentiality=f.confidentiality)
    return qs.select_related("custodian", "parent").order_by("id")


@dataclass
class LineageNode:
    asset: Asset
    children: list[LineageNode] = field(default_factory=list)
    current: bool = False


def lineage(asset: Asset) -> LineageNode:
    """The whole lineage tree *asset* belongs to (original → copies/scans → derivatives), in one query."""
    root_id = asset.root_id or asset.pk
    members = list(
        Asset.objects.filter(Q(pk=root_id) | Q(root_id=root_id)).select_related("permit").order_by("id")
    )
    nodes = {a.pk: LineageNode(a, current=a.pk == asset.pk) for a in members}
    root = nodes[root_id]
    for a in members:
        if a.parent_id is not None and a.parent_id in nodes:
            nodes[a.parent_id].children.append(nodes[a.pk])
    return root
