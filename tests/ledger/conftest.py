from __future__ import annotations

import datetime as dt

import pytest

from sekisho.ledger.models import LocationKind, Medium, Origin
from sekisho.ledger.services import AssetData, register_asset
from sekisho.permits import services as permits

DAY = dt.date(2026, 7, 1)


def paper(world, **over) -> AssetData:
    values = dict(
        title="下水道台帳図（紙）",
        medium=Medium.PAPER,
        origin=Origin.PROVIDED,
        received_on=DAY,
        custodian=world.staff,
        location_kind=LocationKind.CABINET,
        location="3階書庫A-2",
        quantity=1,
    )
    values.update(over)
    return AssetData(**values)


def electronic(world, **over) -> AssetData:
    values = dict(
        title="管渠調査結果（CSV）",
        medium=Medium.ELECTRONIC,
        origin=Origin.PROVIDED,
        received_on=DAY,
        custodian=world.staff,
        location_kind=LocationKind.VAULT,
    )
    values.update(over)
    return AssetData(**values)


@pytest.fixture
def drawing(world):
    """A paper drawing the orderer lent: copying it needs a permit (R2.3)."""
    return register_asset(world.contract, acting_user=world.manager, data=paper(world))


@pytest.fixture
def copy_permit(world, drawing, freeze_today):
    permit = permits.request_permit(
        world.contract,
        acting_user=world.staff,
        kind="copy",
        assets=[drawing],
        reason="現地調査用に1部スキャン",
        copies=1,
        valid_from=DAY,
        valid_until=dt.date(2026, 12, 28),
    )
    return permits.decide_permit(permit, acting_user=world.orderer, approve=True, note="承諾します")


@pytest.fixture
def freeze_today(monkeypatch):
    """Pin "today" inside the contract period, so validity windows do not depend on the day the suite runs."""
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: dt.date(2026, 8, 3))
    return dt.date(2026, 8, 3)
