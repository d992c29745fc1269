"""Read queries of the close-out. Each costs a fixed number of queries, whatever the size of the ledger."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from sekisho.core import policy
from sekisho.core.models import Contract
from sekisho.ledger.models import Asset
from sekisho.permits.models import Permit, PermitKind, PermitState
from sekisho.vault.models import VaultObject

from .models import AWAITING_ORDERER, RESOLVED_STATES, CloseOut, CloseOutItem

BATCH = 500


def unresolved_items(contract: Contract) -> QuerySet[CloseOutItem]:
    """The checklist items of *contract* not yet returned (receipt confirmed), destroyed or retained
    (acknowledged). The contract-close guard and the compliance rules read this."""
    return CloseOutItem.objects.filter(contract_id=contract.pk).exclude(state__in=RESOLVED_STATES)


def assets_missing_from_checklist(contract: Contract) -> QuerySet[Asset]:
    """Assets of the contract that have no checklist item (registered after the close-out was opened)."""
    return Asset.objects.filter(contract_id=contract.pk, closeout_item__isnull=True)


def closeout_of(contract: Contract) -> CloseOut | None:
    return (
        CloseOut.objects.filter(contract_id=contract.pk)
        .select_related("opened_by", "issued_by", "confirmed_by")
        .first()
    )


def visible_closeout(user: Any, contract: Contract) -> CloseOut | None:
    return (
        policy.visible(user, CloseOut)
        .filter(contract_id=contract.pk)
        .select_related("opened_by", "issued_by", "confirmed_by")
        .first()
    )


@dataclass(frozen=True)
class ItemFilters:
    q: str = ""
    state: str = ""
    medium: str = ""
    personal: bool | None = None
    awaiting_orderer: bool = False

    @property
    def is_filtered(self) -> bool:
        return bool(self.q or self.state or self.medium or self.personal is not None or self.awaiting_orderer)


def checklist(user: Any, contract: Contract, filters: ItemFilters | None = None) -> QuerySet[CloseOutItem]:
    """The contract's checklist as *user* may read it, filtered, in ledger order."""
    f = filters or ItemFilters()
    qs = policy.visible(user, CloseOutItem).filter(contract_id=contract.pk)
    if f.q.strip():
        term = f.q.strip()
        qs = qs.filter(Q(asset__title__icontains=term) | Q(asset__ref__iexact=term))
    if f.state:
        qs = qs.filter(state=f.state)
    if f.awaiting_orderer:
        qs = qs.filter(state__in=AWAITING_ORDERER)
    if f.medium:
        qs = qs.filter(asset__medium=f.medium)
    if f.personal is not None:
        qs = qs.filter(asset__has_personal_info=f.personal)
    return qs.select_related(
        "asset",
        "asset__parent",
        "instruction",
        "shredding",
        "handed_over_by",
        "confirmed_by",
        "resolved_by",
    ).order_by("asset_id")


def with_vault_content(items: QuerySet[CloseOutItem]) -> QuerySet[CloseOutItem]:
    """Annotate ``in_vault``: the asset has content sealed in the vault (destroyed only by crypto-shredding)."""
    return items.annotate(in_vault=Exists(VaultObject.objects.filter(asset_id=OuterRef("asset_id"))))


def in_vault(items: QuerySet[CloseOutItem]) -> QuerySet[CloseOutItem]:
    """Only the items whose asset has content sealed in the vault."""
    return items.filter(Exists(VaultObject.objects.filter(asset_id=OuterRef("asset_id"))))


@dataclass
class Summary:
    total: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_medium: dict[str, int] = field(default_factory=dict)
    open_personal: int = 0
    missing: int = 0

    @property
    def resolved(self) -> int:
        return sum(self.by_state.get(s, 0) for s in RESOLVED_STATES)

    @property
    def unresolved(self) -> int:
        return self.total - self.resolved

    @property
    def awaiting_orderer(self) -> int:
        return sum(self.by_state.get(s, 0) for s in AWAITING_ORDERER)

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(self.resolved * 100 / self.total)

    def count(self, state: str) -> int:
        return self.by_state.get(state, 0)


def summary(contract: Contract) -> Summary:
    """Counts of the checklist by state and medium: two aggregate queries and one count."""
    result = Summary()
    rows = (
        CloseOutItem.objects.filter(contract_id=contract.pk)
        .order_by()
        .values("state", "asset__medium")
        .annotate(n=Count("id"), personal=Count("id", filter=Q(asset__has_personal_info=True)))
    )
    for row in rows:
        n = row["n"]
        result.total += n
        result.by_state[row["state"]] = result.by_state.get(row["state"], 0) + n
        result.by_medium[row["asset__medium"]] = result.by_medium.get(row["asset__medium"], 0) + n
        if row["state"] not in RESOLVED_STATES:
            result.open_personal += row["personal"]
    result.missing = assets_missing_from_checklist(contract).count()
    return result


def in_batches(ids: list[int], size: int = BATCH) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def instructions(
    contract: Contract, asset_ids: Iterable[int], kind: str, *, today: dt.date | None = None
) -> dict[int, Permit]:
    """The orderer's instruction of *kind* (a destruction or retention permit the orderer decided) in force for
    each of *asset_ids*: asset id -> permit. One query per 500 assets.

    A destruction instruction that crypto-shredding has used still instructs the destruction of the other
    things it names (paper copies of the same information, for instance)."""
    today = today or timezone.localdate()
    states = [PermitState.APPROVED] + ([PermitState.USED] if kind == PermitKind.DESTRUCTION else [])
    through = Permit.assets.through
    found: dict[int, Permit] = {}
    ids = sorted(set(asset_ids))
    for batch in in_batches(ids):
        rows = (
            through.objects.filter(
                asset_id__in=batch,
                permit__contract_id=contract.pk,
                permit__kind=kind,
                permit__state__in=states,
            )
            .filter(
                Q(permit__state=PermitState.USED)
                | Q(permit__valid_from__lte=today, permit__valid_until__gte=today)
            )
            .select_related("permit")
            .order_by("permit__valid_until", "permit_id")
        )
        for row in rows:
            found.setdefault(row.asset_id, row.permit)
    return found


def awaiting_orderer(user: Any, contract: Contract) -> QuerySet[CloseOutItem]:
    """The orderer's confirmation inbox: returns to confirm, retentions to acknowledge."""
    return checklist(user, contract, ItemFilters(awaiting_orderer=True))


def vault_item_states(contract: Contract) -> dict[str, int]:
    """Counts by item state of the items whose asset has content in the vault (what one shredding destroys)."""
    rows = (
        in_vault(CloseOutItem.objects.filter(contract_id=contract.pk))
        .order_by()
        .values("state")
        .annotate(n=Count("id"))
    )
    return {row["state"]: row["n"] for row in rows}


def certificate_items(closeout: CloseOut) -> QuerySet[CloseOutItem]:
    """Every item with what the certificate shows of it."""
    return (
        CloseOutItem.objects.filter(closeout=closeout)
        .select_related(
            "asset",
            "asset__parent",
            "instruction",
            "shredding",
            "handed_over_by",
            "confirmed_by",
            "resolved_by",
        )
        .order_by("asset_id")
    )


def vault_hashes(closeout: CloseOut) -> dict[int, list[tuple[int, str]]]:
    """asset id -> [(version, SHA-256 of the plaintext)] of everything the contract had in the vault."""
    hashes: dict[int, list[tuple[int, str]]] = {}
    rows = (
        VaultObject.objects.filter(contract_id=closeout.contract_id)
        .order_by("asset_id", "version")
        .values_list("asset_id", "version", "sha256")
    )
    for asset_id, version, sha in rows:
        hashes.setdefault(asset_id, []).append((version, sha))
    return hashes
