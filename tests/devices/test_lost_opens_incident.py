from __future__ import annotations

import pytest

from sekisho.audit.models import AuditEvent
from sekisho.incidents.models import Incident

pytestmark = pytest.mark.django_db


def _device(world):
    from .conftest import register

    return register(world, name="調査用ノートPC", asset_tag="KC-0042")


def test_marking_a_device_lost_opens_an_incident_for_the_orderer(world):
    from sekisho.devices import services

    device = _device(world)
    services.mark_device_lost(device, acting_user=world.staff, note="電車内で置き忘れ")
    incident = Incident.objects.get(contract=world.contract)
    assert incident.kind == "device_loss"
    assert "KC-0042" in incident.title
    assert AuditEvent.objects.filter(contract=world.contract, action="device.lost").exists()


def test_a_refused_loss_report_opens_no_incident(world):
    from sekisho.core.errors import Invalid
    from sekisho.devices import services

    device = _device(world)
    with pytest.raises(Invalid):
        services.mark_device_lost(device, acting_user=world.staff, note=" ")
    assert not Incident.objects.exists()
