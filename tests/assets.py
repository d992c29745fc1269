"""Ledger assets that tests of several apps start from (the fixtures ``drawing``, ``copy_permit`` and
``freeze_today`` in tests/conftest.py are built from these)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sekisho.ledger.models import LocationKind, Medium, Origin
from sekisho.ledger.services import AssetData

DAY = dt.date(2026, 7, 1)
# "Today" inside the contract period, so that validity windows do not depend on the day the suite runs.
TODAY = dt.date(2026, 8, 3)


def paper(world: Any, **over: Any) -> AssetData:
    values: dict[str, Any] = dict(
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


def electronic(world: Any, **over: Any) -> AssetData:
    values: dict[str, Any] = dict(
        title="管渠調査結果（CSV）",
        medium=Medium.ELECTRONIC,
        origin=Origin.PROVIDED,
        received_on=DAY,
        custodian=world.staff,
        location_kind=LocationKind.VAULT,
    )
    values.update(over)
    return AssetData(**values)
