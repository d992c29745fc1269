"""Read queries of the vault, each a fixed number of queries."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from sekisho.core import policy
from sekisho.core.models import Contract
from sekisho.ledger.models import Asset

from .models import TransferPackage, VaultObject


def versions(user: Any, asset: Asset) -> QuerySet[VaultObject]:
    """The asset's stored versions, newest first."""
    return (
        policy.visible(user, VaultObject)
        .filter(asset=asset)
        .select_related("created_by", "device")
        .order_by("-version")
    )


def current_versions(user: Any, contract: Contract) -> dict[int, VaultObject]:
    """asset id -> its newest version, for every asset of the contract that has content in the vault."""
    latest: dict[int, VaultObject] = {}
    rows = policy.visible(user, VaultObject).filter(contract=contract).order_by("asset_id", "-version")
    for obj in rows:
        latest.setdefault(obj.asset_id, obj)
    return latest


def packages(user: Any, contract: Contract) -> QuerySet[TransferPackage]:
    return (
        policy.visible(user, TransferPackage)
        .filter(contract=contract)
        .select_related("built_by", "received_by")
        .order_by("-built_at", "-id")
    )
