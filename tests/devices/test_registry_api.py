"""The device and media registries through the API: who may do what, the state table, the error contract."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from sekisho.audit.models import AuditEvent
from sekisho.core.auth import issue_api_token
from sekisho.core.errors import Forbidden
from sekisho.devices import services
from sekisho.devices.models import CustodyRecord, Device, Medium, PosturePolicy
from sekisho.devices.policy import require_transfer_medium

from .conftest import approve, healthy_facts, register

pytestmark = pytest.mark.django_db


def api(user) -> Client:
    _token, text = issue_api_token(user, acting_user=user, name="test")
    return Client(headers={"Authorization": f"Bearer {text}"})


def post(client: Client, url: str, body: dict):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def device_body(world, **overrides) -> dict:
    return {
        "contract_id": world.contract.pk,
        "name": "KURA-PC-021",
        "kind": "laptop",
        "os": "windows",
        **overrides,
    }


def test_staff_registers_their_own_pc_and_it_waits_for_approval(world):
    response = post(api(world.staff), "/api/v1/devices", device_body(world, asset_tag="A-021"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "registered" and body["owner"] == "staff" and body["access"] is False
    assert body["access_clause"] == "R2.7ア"
    assert AuditEvent.objects.filter(action="device.register", contract=world.contract).count() == 1


def test_staff_cannot_register_a_pc_for_someone_else(world):
    response = post(api(world.staff), "/api/v1/devices", device_body(world, owner="sub_staff"))
    assert response.status_code == 403
    assert not Device.objects.exists()


def test_manager_registers_for_a_subcontractor_member_with_their_organisation(world):
    response = post(api(world.manager), "/api/v1/devices", device_body(world, owner="sub_staff"))
    assert response.status_code == 201
    assert response.json()["organisation"] == world.sub_org.name


def test_orderer_and_auditor_cannot_register_but_read(world):
    register(world)
    for persona in ("orderer", "auditor"):
        client = api(getattr(world, persona))
        assert post(client, "/api/v1/devices", device_body(world)).status_code == 403
        listed = client.get(f"/api/v1/devices?contract_id={world.contract.pk}")
        assert listed.status_code == 200 and len(listed.json()) == 1


def test_outsider_gets_404_on_every_device_endpoint(world, make_pc):
    pc = make_pc()
    uid = pc.device.uid
    client = api(world.outsider)
    assert client.get(f"/api/v1/devices/{uid}").status_code == 404
    assert client.get(f"/api/v1/devices/{uid}/posture").status_code == 404
    assert client.get(f"/api/v1/devices?contract_id={world.contract.pk}").status_code == 404
    assert client.get(f"/api/v1/devices/posture-policy/{world.contract.pk}").status_code == 404
    assert post(client, f"/api/v1/devices/{uid}/approve", {}).status_code == 404
    assert post(client, f"/api/v1/devices/{uid}/revoke", {"reason": "x"}).status_code == 404
    assert post(client, f"/api/v1/devices/{uid}/lost", {"note": "x"}).status_code == 404
    assert post(client, f"/api/v1/devices/{uid}/enrollment-code", {}).status_code == 404
    assert post(client, "/api/v1/devices", device_body(world)).status_code == 404
    assert client.get("/api/v1/devices").json() == []


def test_only_the_information_manager_approves(world):
    device = register(world)
    for persona in ("staff", "sub_staff", "orderer", "auditor"):
        response = post(
            api(getattr(world, persona)), f"/api/v1/devices/{device.uid}/approve", {"valid_days": 30}
        )
        assert response.status_code == 403, persona
    response = post(api(world.manager), f"/api/v1/devices/{device.uid}/approve", {"valid_days": 30})
    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    assert response.json()["access_clause"] == "R2.7ア"  # approved but not enrolled yet


def test_enrollment_code_is_shown_once_with_the_command(world):
    device = approve(world, register(world))
    response = post(api(world.manager), f"/api/v1/devices/{device.uid}/enrollment-code", {})
    assert response.status_code == 201
    body = response.json()
    assert body["command"].startswith("sekisho agent enroll --server http://testserver --code ")
    device.refresh_from_db()
    assert body["code"] not in device.enrollment_code_hash


def test_lost_device_cannot_be_reapproved(world, make_pc):
    pc = make_pc()
    client = api(world.manager)
    assert post(client, f"/api/v1/devices/{pc.device.uid}/lost", {"note": "盗難届提出済"}).status_code == 200
    response = post(client, f"/api/v1/devices/{pc.device.uid}/approve", {"valid_days": 30})
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_transition"
    assert pc.refresh().status == Device.Status.LOST


def test_staff_may_report_only_their_own_device_lost(world, make_pc):
    pc = make_pc(owner=world.sub_staff)
    response = post(api(world.staff), f"/api/v1/devices/{pc.device.uid}/lost", {"note": "x"})
    assert response.status_code == 403
    response = post(api(world.sub_staff), f"/api/v1/devices/{pc.device.uid}/lost", {"note": "駅で紛失"})
    assert response.status_code == 200 and response.json()["status"] == "lost"


def test_revoked_device_is_reapproved_but_needs_a_new_enrolment(world, make_pc):
    pc = make_pc()
    client = api(world.manager)
    revoked = post(client, f"/api/v1/devices/{pc.device.uid}/revoke", {"reason": "点検"})
    assert revoked.json()["enrolled"] is False
    again = post(client, f"/api/v1/devices/{pc.device.uid}/approve", {"valid_days": 90}).json()
    assert again["status"] == "approved" and again["enrolled"] is False and again["access"] is False


def test_bad_registration_input_is_422_and_writes_nothing(world):
    client = api(world.staff)
    for body in (
        device_body(world, kind="toaster"),
        device_body(world, name=""),
        device_body(world, name="x" * 500),
        {"name": "no contract"},
    ):
        response = post(client, "/api/v1/devices", body)
        assert response.status_code == 422, body
        assert set(response.json()) >= {"error", "clause", "message"}
    assert not Device.objects.exists()


def test_duplicate_asset_tag_is_409(world):
    register(world, asset_tag="A-1")
    response = post(api(world.staff), "/api/v1/devices", device_body(world, asset_tag="A-1"))
    assert response.status_code == 409 and response.json()["error"] == "duplicate"


def test_approval_beyond_two_years_or_in_the_past_is_422(world):
    device = register(world)
    client = api(world.manager)
    assert post(client, f"/api/v1/devices/{device.uid}/approve", {"valid_days": 5000}).status_code == 422
    past = {"approved_until": "2020-01-01T00:00:00+09:00"}
    assert post(client, f"/api/v1/devices/{device.uid}/approve", past).status_code == 422
    device.refresh_from_db()
    assert device.status == Device.Status.REGISTERED


def test_posture_policy_is_read_by_members_and_set_by_the_manager(world):
    url = f"/api/v1/devices/posture-policy/{world.contract.pk}"
    assert api(world.auditor).get(url).json()["max_screen_lock_minutes"] == 15
    body = {"max_screen_lock_minutes": 10}
    assert (
        api(world.staff).put(url, data=json.dumps(body), content_type="application/json").status_code == 403
    )
    response = api(world.manager).put(url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200 and response.json()["max_screen_lock_minutes"] == 10
    bad = api(world.manager).put(
        url, data=json.dumps({"max_screen_lock_minutes": 0}), content_type="application/json"
    )
    assert bad.status_code == 422
    assert PosturePolicy.objects.get().max_screen_lock_minutes == 10


def test_posture_history_lists_reports_newest_first(world, make_pc):
    pc = make_pc()
    services.record_posture_report(
        pc.device,
        collected_at=pc.device.latest_report.received_at,
        facts=healthy_facts(disk_encryption=False),
    )
    history = api(world.auditor).get(f"/api/v1/devices/{pc.device.uid}/posture").json()
    assert [r["passed"] for r in history] == [False, True]
    assert history[0]["failures"][0]["control"] == "disk_encryption"


def test_device_list_costs_a_fixed_number_of_queries(world, make_pc, django_assert_max_num_queries):
    for i in range(8):
        make_pc(name=f"PC-{i}", asset_tag=f"A-{i}")
    client = api(world.auditor)
    with django_assert_max_num_queries(12):
        response = client.get(f"/api/v1/devices?contract_id={world.contract.pk}")
    assert len(response.json()) == 8


# --- media ------------------------------------------------------------------------------------------------------


def medium_body(world, **overrides) -> dict:
    return {
        "contract_id": world.contract.pk,
        "label": "暗号化USB-03",
        "kind": "usb",
        "security_function": "hardware_encryption",
        "serial_number": "IK-D300S-77812",
        **overrides,
    }


def test_encrypted_medium_is_registered_approved_and_usable_for_transfer(world):
    client = api(world.staff)
    response = post(client, "/api/v1/media", medium_body(world))
    assert response.status_code == 201, response.content
    medium_id = response.json()["id"]
    assert response.json()["custodian"] == "staff" and response.json()["usable_for_transfer"] is False
    assert post(client, f"/api/v1/media/{medium_id}/approve", {}).status_code == 403
    approved = post(api(world.manager), f"/api/v1/media/{medium_id}/approve", {"note": "IronKey"})
    assert approved.status_code == 200 and approved.json()["usable_for_transfer"] is True
    medium = Medium.objects.get(pk=medium_id)
    assert require_transfer_medium(world.staff, medium, world.contract) == medium


def test_medium_without_security_function_cannot_be_approved_or_named_in_a_transfer(world):
    medium = services.register_medium(
        world.contract,
        acting_user=world.staff,
        label="普通のUSB",
        kind="usb",
        security_function="none",
        serial_number="SN-PLAIN-1",
    )
    response = post(api(world.manager), f"/api/v1/media/{medium.pk}/approve", {})
    assert response.status_code == 409
    assert response.json()["clause"] == "R2.7エ"
    with pytest.raises(Forbidden) as info:
        require_transfer_medium(world.staff, medium, world.contract)
    assert info.value.clause == "R2.7エ"


def test_unapproved_revoked_or_lost_media_cannot_be_named_in_a_transfer(world):
    medium = services.register_medium(
        world.contract,
        acting_user=world.staff,
        label="USB-9",
        kind="usb",
        security_function="software_encryption",
        serial_number="SN-9",
    )
    with pytest.raises(Forbidden) as info:
        require_transfer_medium(world.staff, medium.pk, world.contract)
    assert info.value.clause == "R2.7エ" and "承認を受けていない" in info.value.message
    services.approve_medium(medium, acting_user=world.manager)
    services.mark_medium_lost(medium, acting_user=world.staff, note="紛失")
    with pytest.raises(Forbidden):
        require_transfer_medium(world.staff, medium.pk, world.contract)


def test_custody_hand_over_is_recorded_with_dates(world):
    response = post(api(world.staff), "/api/v1/media", medium_body(world))
    medium_id = response.json()["id"]
    manager = api(world.manager)
    assert post(manager, f"/api/v1/media/{medium_id}/custody", {"username": "outsider"}).status_code == 422
    handed = post(
        manager, f"/api/v1/media/{medium_id}/custody", {"username": "sub_staff", "note": "現地調査"}
    )
    assert handed.status_code == 200 and handed.json()["custodian"] == "sub_staff"
    history = manager.get(f"/api/v1/media/{medium_id}/custody").json()
    assert [h["custodian"] for h in history] == ["sub_staff", "staff"]
    assert history[1]["until"] is not None and history[0]["until"] is None
    assert CustodyRecord.objects.filter(until__isnull=True).count() == 1


def test_outsider_gets_404_on_media(world):
    medium_id = post(api(world.staff), "/api/v1/media", medium_body(world)).json()["id"]
    client = api(world.outsider)
    assert client.get(f"/api/v1/media/{medium_id}").status_code == 404
    assert post(client, f"/api/v1/media/{medium_id}/approve", {}).status_code == 404
    assert client.get(f"/api/v1/media?contract_id={world.contract.pk}").status_code == 404
    assert client.get("/api/v1/media").json() == []


def test_bad_medium_input_is_422_and_duplicate_serial_409(world):
    client = api(world.staff)
    assert post(client, "/api/v1/media", medium_body(world, security_function="magic")).status_code == 422
    assert post(client, "/api/v1/media", medium_body(world, capacity_gb=-1)).status_code == 422
    assert post(client, "/api/v1/media", medium_body(world)).status_code == 201
    assert post(client, "/api/v1/media", medium_body(world)).status_code == 409
    assert Medium.objects.count() == 1
