"""R2.4.2 with R2.7ア: leaving revokes the leaver's PCs with the rest of their access — the agent's key is
forgotten (it can sign nothing more) and the approval withdrawn (no link binds a session to it)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from sekisho.audit.models import AuditEvent
from sekisho.core import services as core
from sekisho.core.models import Contract, Role
from sekisho.devices import services as devices
from sekisho.devices.models import Device, DeviceKind, DeviceLoginLink
from sekisho.devices.policy import SESSION_KEY, DeviceBinding, DeviceRefused, require_device
from sekisho.people import services
from sekisho.people.models import LeavingKind, RosterEntry

from ..conftest import verified_client
from ..factories import PERIOD
from .conftest import enroll, healthy_facts, report, signed

pytestmark = pytest.mark.django_db

REPORT = "/api/v1/agent/report"
LINK = "/api/v1/agent/login-link"


def _entry(world, user) -> RosterEntry:
    return RosterEntry.objects.get(contract=world.contract, user=user)


def _leave(world, user, kind: str, left_at: dt.datetime | None = None) -> RosterEntry:
    return services.record_leaving(
        _entry(world, user),
        acting_user=world.manager,
        left_at=left_at or timezone.now(),
        kind=kind,
    )


def _report(pc):
    body = {"collected_at": timezone.now().isoformat(), "agent_version": "0.1.0", "facts": healthy_facts()}
    return signed(Client(), pc.key, str(pc.device.uid), "POST", REPORT, body)


def _second_contract(world) -> Contract:
    """Another contract of the same contractor, where staff works too."""
    contract = core.create_contract(
        acting_user=world.admin,
        number="T-003",
        title="処理場設備点検業務",
        orderer=world.orderer_org,
        contractor=world.contractor_org,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
    )
    core.appoint_lead(contract, acting_user=world.admin, user=world.manager, role=Role.MANAGER)
    core.add_member(contract, acting_user=world.manager, user=world.staff, role=Role.STAFF)
    return contract


def _pc_in(contract: Contract, world, *, tag: str) -> Device:
    device = devices.register_device(
        contract,
        acting_user=world.staff,
        name=f"PC-{tag}",
        kind=DeviceKind.LAPTOP,
        os="windows",
        asset_tag=tag,
    )
    device = devices.approve_device(
        device, acting_user=world.manager, approved_until=timezone.now() + dt.timedelta(days=90)
    )
    return device


def test_a_leavers_pc_can_no_longer_sign_agent_requests(world, make_pc):
    pc = make_pc(owner=world.staff)
    assert _report(pc).status_code == 201
    _leave(world, world.staff, LeavingKind.REASSIGNED)
    response = _report(pc)
    assert response.status_code == 401
    assert (response.json()["error"], response.json()["clause"]) == ("unknown_device", "R2.7ア")
    device = pc.refresh()
    assert device.status == Device.Status.REVOKED and not device.public_key and not device.key_fingerprint
    assert "離任" in device.status_reason
    with pytest.raises(DeviceRefused) as info:
        require_device(DeviceBinding(str(device.uid)), world.manager, world.contract)
    assert info.value.clause == "R2.7ア"


def test_a_link_asked_for_before_leaving_no_longer_binds_a_session(world, make_pc):
    pc = make_pc(owner=world.staff)
    response = signed(Client(), pc.key, str(pc.device.uid), "POST", LINK, {})
    path = response.json()["path"]
    # Another contract keeps the person a user (a 離任 from this one only), so they can still log in.
    _second_contract(world)
    _leave(world, world.staff, LeavingKind.REASSIGNED)
    browser = verified_client(world.staff)
    assert browser.get(path).status_code == 404  # no longer a member: nothing of this contract to see
    # Back on this work later, the old PC still needs approving and enrolling again.
    core.add_member(world.contract, acting_user=world.manager, user=world.staff, role=Role.STAFF)
    answer = browser.get(path)
    assert answer.status_code == 403
    assert "R2.7ア" in answer.content.decode() and "承認は取り消されています" in answer.content.decode()
    assert SESSION_KEY not in browser.session
    assert DeviceLoginLink.objects.get().used_at is None
    # Nor can its agent ask for a new link.
    again = signed(Client(), pc.key, str(pc.device.uid), "POST", LINK, {})
    assert again.status_code == 401


def test_a_leaving_is_audited_with_each_device_it_revoked(world, make_pc):
    pc = make_pc(owner=world.staff)
    _leave(world, world.staff, LeavingKind.REASSIGNED)
    event = AuditEvent.objects.filter(contract=world.contract, action="device.enrollment_revoked").get()
    assert event.summary["uid"] == str(pc.device.uid)
    assert (event.summary["from"], event.summary["to"]) == ("approved", "revoked")
    assert event.summary["key_fingerprint"] == pc.device.key_fingerprint
    assert (event.actor_id, event.summary["owner"]) == (world.manager.pk, "staff")
    revoked = AuditEvent.objects.filter(contract=world.contract, action="people.access_revoked").get()
    assert revoked.summary["devices_revoked"] == [str(pc.device.uid)]


def test_a_reassignment_keeps_the_pcs_of_the_persons_other_contracts(world, make_pc):
    here = make_pc(owner=world.staff)
    elsewhere = _pc_in(_second_contract(world), world, tag="B-001")
    enroll(world, elsewhere)
    _leave(world, world.staff, LeavingKind.REASSIGNED)
    assert here.refresh().status == Device.Status.REVOKED
    elsewhere.refresh_from_db()
    assert elsewhere.status == Device.Status.APPROVED and elsewhere.public_key


def test_a_retirement_revokes_the_persons_pcs_in_every_contract(world, make_pc):
    here = make_pc(owner=world.staff)
    other = _second_contract(world)
    elsewhere = _pc_in(other, world, tag="B-002")
    enroll(world, elsewhere)
    _leave(world, world.staff, LeavingKind.RETIRED)
    assert here.refresh().status == Device.Status.REVOKED
    elsewhere.refresh_from_db()
    assert elsewhere.status == Device.Status.REVOKED and not elsewhere.public_key
    assert AuditEvent.objects.filter(contract=other, action="device.enrollment_revoked").exists()


def test_other_peoples_pcs_are_untouched(world, make_pc):
    mine = make_pc(owner=world.staff)
    theirs = make_pc(owner=world.manager, name="MGR-PC", asset_tag="M-001")
    _leave(world, world.staff, LeavingKind.RETIRED)
    assert mine.refresh().status == Device.Status.REVOKED
    assert theirs.refresh().status == Device.Status.APPROVED and theirs.device.public_key
    report(theirs.device)  # its agent still reports


def test_a_future_leaving_revokes_the_pcs_when_the_tick_carries_it_out(world, make_pc, monkeypatch):
    pc = make_pc(owner=world.staff)
    when = timezone.now().replace(microsecond=0) + dt.timedelta(minutes=10)
    _leave(world, world.staff, LeavingKind.REASSIGNED, left_at=when)
    assert pc.refresh().status == Device.Status.APPROVED, "not before the time"
    monkeypatch.setattr(timezone, "now", lambda: when)
    assert services.process_due_leavers() == 1
    assert pc.refresh().status == Device.Status.REVOKED and not pc.device.public_key
    event = AuditEvent.objects.filter(contract=world.contract, action="device.enrollment_revoked").get()
    assert (event.actor_id, event.summary["to"]) == (None, "revoked")  # the system carried it out


def test_a_lost_pc_stays_lost(world, make_pc):
    pc = make_pc(owner=world.staff)
    devices.mark_device_lost(pc.device, acting_user=world.staff, note="電車内に置き忘れ")
    _leave(world, world.staff, LeavingKind.RETIRED)
    assert pc.refresh().status == Device.Status.LOST
    assert not AuditEvent.objects.filter(action="device.enrollment_revoked").exists()
