from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from sekisho.incidents.services import IncidentData, report_incident
from sekisho.ledger.models import LocationKind, Medium, Origin, PersonalCategory
from sekisho.ledger.services import AssetData, register_asset

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A moment on *day*, Japan time."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TOKYO)


def lost_usb(**over) -> IncidentData:
    """The standard case: a USB memory with names and addresses of 150 people, not encrypted, lost today."""
    values = dict(
        kind="loss",
        title="USBメモリの紛失",
        description="現地調査の帰りにUSBメモリを紛失した。",
        detected_at=timezone.now() - dt.timedelta(hours=1),
        has_personal_info=True,
        personal_categories=[PersonalCategory.NAME, PersonalCategory.ADDRESS],
        personal_count=150,
    )
    values.update(over)
    return IncidentData(**values)


def no_personal(**over) -> IncidentData:
    values = dict(
        kind="misdelivery",
        title="図面の誤送付",
        description="別の事業者に管渠図面を誤って送付した。",
        detected_at=timezone.now() - dt.timedelta(hours=1),
    )
    values.update(over)
    return IncidentData(**values)


@pytest.fixture
def incident(world):
    """Reported by staff: the orderer has been notified."""
    return report_incident(world.contract, acting_user=world.staff, data=lost_usb())


@pytest.fixture
def roster(world):
    """A ledger asset with personal information (the sewer-use customer roster)."""
    return register_asset(
        world.contract,
        acting_user=world.manager,
        data=AssetData(
            title="下水道使用者名簿",
            medium=Medium.ELECTRONIC,
            origin=Origin.PROVIDED,
            received_on=dt.date(2026, 7, 1),
            custodian=world.staff,
            location_kind=LocationKind.VAULT,
            has_personal_info=True,
            personal_categories=[PersonalCategory.NAME, PersonalCategory.ADDRESS],
            personal_count=150,
            personal_purpose="管渠調査の立入り連絡",
            personal_necessity="調査対象の使用者へ事前連絡するため",
        ),
    )
