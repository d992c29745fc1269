from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_tick_runs_every_job_and_is_idempotent(world):
    out = io.StringIO()
    call_command("tick", stdout=out)
    text = out.getvalue()
    assert "permits.expire: 0 permit(s) expired" in text
    assert "incidents.remind_overdue:" in text
    assert "audit.sign_due: " in text
    again = io.StringIO()
    call_command("tick", stdout=again)
    # Nothing new to do the second time: no permit, no reminder, no new tree head.
    assert "0 permit(s) expired" in again.getvalue()
    assert "audit.sign_due: 0 tree head(s) signed" in again.getvalue()


def test_tick_expires_an_approved_permit_past_its_end(world, monkeypatch):
    from django.utils import timezone

    from sekisho.ledger.models import LocationKind, Medium, Origin
    from sekisho.ledger.services import AssetData, register_asset
    from sekisho.permits import services as permits

    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: dt.date(2026, 8, 3))
    asset = register_asset(
        world.contract,
        acting_user=world.manager,
        data=AssetData(
            title="図面",
            medium=Medium.PAPER,
            origin=Origin.PROVIDED,
            received_on=dt.date(2026, 7, 1),
            custodian=world.staff,
            location_kind=LocationKind.CABINET,
            quantity=1,
        ),
    )
    permit = permits.request_permit(
        world.contract,
        acting_user=world.staff,
        kind="copy",
        assets=[asset],
        reason="r",
        copies=1,
        valid_from=dt.date(2026, 7, 1),
        valid_until=dt.date(2026, 8, 31),
    )
    permits.decide_permit(permit, acting_user=world.orderer, approve=True)
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: dt.date(2026, 9, 1))
    out = io.StringIO()
    call_command("tick", "--only", "permits.expire", stdout=out)
    assert "1 permit(s) expired" in out.getvalue()


def test_unknown_job_is_refused():
    with pytest.raises(CommandError, match="unknown job"):
        call_command("tick", "--only", "nope")
