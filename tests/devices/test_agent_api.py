"""The agent's endpoints: enrolment with a one-time code, signed reports and status, the browser binding.

Requests are signed exactly as the agent signs them (sekisho.agent.signing)."""

from __future__ import annotations

import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client
from django.utils import timezone

from sekisho.agent.signing import ENROLL_PREFIX, fingerprint, public_key_text
from sekisho.audit.models import AuditEvent
from sekisho.devices import services
from sekisho.devices.models import Device, DeviceLoginLink, PostureReport, UsedNonce
from sekisho.devices.policy import SESSION_KEY, require_device

from ..conftest import verified_client
from .conftest import approve, healthy_facts, register, signed

pytestmark = pytest.mark.django_db

ENROLL = "/api/v1/agent/enroll"
REPORT = "/api/v1/agent/report"
STATUS = "/api/v1/agent/status"
LINK = "/api/v1/agent/login-link"


def enroll_body(code: str, key: Ed25519PrivateKey) -> dict:
    return {"code": code, "public_key": public_key_text(key.public_key()), "hostname": "KURA-PC-017"}


def enroll_with(client: Client, code: str, key: Ed25519PrivateKey, signer: Ed25519PrivateKey | None = None):
    public = public_key_text(key.public_key())
    return signed(
        client, signer or key, ENROLL_PREFIX + fingerprint(public), "POST", ENROLL, enroll_body(code, key)
    )


def report_body(**overrides) -> dict:
    return {
        "collected_at": timezone.now().isoformat(),
        "agent_version": "0.1.0",
        "facts": healthy_facts(**overrides),
    }


def send_report(pc, body=None, **kwargs):
    return signed(Client(), pc.key, str(pc.device.uid), "POST", REPORT, body or report_body(), **kwargs)


def assert_error(response, status: int, error: str | None = None, clause: str | None = "unset"):
    assert response.status_code == status, response.content
    payload = response.json()
    assert set(payload) >= {"error", "clause", "message"}
    if error:
        assert payload["error"] == error
    if clause != "unset":
        assert payload["clause"] == clause
    return payload


# --- enrolment ------------------------------------------------------------------------------------------------


def test_enrolment_with_a_one_time_code_registers_the_key(world):
    device = approve(world, register(world))
    _device, code = services.issue_enrollment_code(device, acting_user=world.manager)
    key = Ed25519PrivateKey.generate()
    response = enroll_with(Client(), code, key)
    assert response.status_code == 201, response.content
    assert response.json()["device"] == str(device.uid)
    assert response.json()["contract_number"] == "T-001"
    device.refresh_from_db()
    assert device.public_key == public_key_text(key.public_key())
    assert device.enrollment_code_hash == ""
    assert AuditEvent.objects.filter(action="device.enroll", contract=world.contract).count() == 1
    # One time only.
    again = enroll_with(Client(), code, Ed25519PrivateKey.generate())
    assert_error(again, 422, "bad_enrollment_code")


def test_enrolment_with_a_wrong_code_is_422_and_changes_nothing(world):
    device = approve(world, register(world))
    services.issue_enrollment_code(device, acting_user=world.manager)
    response = enroll_with(Client(), "AAAA-BBBB-CCCC-DDDD", Ed25519PrivateKey.generate())
    assert_error(response, 422, "bad_enrollment_code")
    device.refresh_from_db()
    assert device.public_key == ""


def test_enrolment_of_a_device_whose_approval_expired_is_refused_with_r27a(world):
    device = approve(world, register(world))
    _device, code = services.issue_enrollment_code(device, acting_user=world.manager)
    Device.objects.filter(pk=device.pk).update(approved_until=timezone.now())
    assert_error(enroll_with(Client(), code, Ed25519PrivateKey.generate()), 403, "device_refused", "R2.7ア")


def test_enrolment_must_be_signed_by_the_key_it_registers(world):
    device = approve(world, register(world))
    _device, code = services.issue_enrollment_code(device, acting_user=world.manager)
    response = enroll_with(Client(), code, Ed25519PrivateKey.generate(), signer=Ed25519PrivateKey.generate())
    assert_error(response, 401, "bad_signature", "R2.7ア")
    device.refresh_from_db()
    assert device.public_key == "" and device.enrollment_code_hash != ""


def test_enrolment_code_is_only_issued_for_an_approved_device(world):
    device = register(world)
    with pytest.raises(Exception) as info:
        services.issue_enrollment_code(device, acting_user=world.manager)
    assert getattr(info.value, "clause", None) == "R2.7ア"


# --- reports ----------------------------------------------------------------------------------------------------


def test_signed_report_is_stored_with_its_verdict(world, make_pc):
    pc = make_pc(reported=False)
    response = send_report(pc)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["passed"] is True and body["access"] is True and body["failures"] == []
    pc.refresh()
    assert pc.device.latest_report.passed
    assert require_device_ok(world, pc.device)


def require_device_ok(world, device):
    from sekisho.devices.policy import DeviceBinding

    return require_device(DeviceBinding(str(device.uid)), world.staff, world.contract) == device


def test_failing_report_is_accepted_and_lists_the_failing_controls(world, make_pc):
    pc = make_pc(reported=False)
    response = send_report(pc, report_body(disk_encryption=False, screen_lock_enabled=False))
    assert response.status_code == 201
    body = response.json()
    assert body["passed"] is False and body["access"] is False and body["clause"] == "R2.7イ"
    assert [f["control"] for f in body["failures"]] == ["disk_encryption", "screen_lock"]
    assert "ディスク暗号化が有効になっていません" in body["message"]


def test_report_with_a_bad_signature_is_rejected_and_stores_nothing(world, make_pc):
    pc = make_pc(reported=False)
    other = Ed25519PrivateKey.generate()
    response = signed(Client(), other, str(pc.device.uid), "POST", REPORT, report_body())
    assert_error(response, 401, "bad_signature", "R2.7ア")
    assert not PostureReport.objects.exists()


def test_report_whose_body_was_altered_after_signing_is_rejected(world, make_pc):
    pc = make_pc(reported=False)
    from sekisho.agent.signing import sign_request

    good = json.dumps(report_body(disk_encryption=False)).encode()
    headers = sign_request(pc.key, method="POST", path=REPORT, body=good, key_id=str(pc.device.uid)).as_dict()
    tampered = good.replace(b'"disk_encryption": false', b'"disk_encryption": true')
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    response = Client().post(REPORT, data=tampered, content_type="application/json", **extra)
    assert_error(response, 401, "bad_signature")
    assert not PostureReport.objects.exists()


def test_replayed_nonce_is_rejected(world, make_pc):
    pc = make_pc(reported=False)
    body = report_body()
    first = send_report(pc, body, nonce="replay-me-0123456789")
    assert first.status_code == 201
    replay = send_report(pc, body, nonce="replay-me-0123456789")
    assert_error(replay, 401, "replayed_nonce", "R2.7ア")
    assert PostureReport.objects.filter(device=pc.device).count() == 1


def test_request_outside_the_time_window_is_rejected(world, make_pc):
    pc = make_pc(reported=False)
    response = send_report(pc, timestamp=int(time.time()) - 3600)
    assert_error(response, 401, "stale_timestamp")
    assert not PostureReport.objects.exists()


def test_unsigned_and_unknown_device_requests_are_rejected(world, make_pc):
    pc = make_pc(reported=False)
    unsigned = Client().post(REPORT, data=json.dumps(report_body()), content_type="application/json")
    assert_error(unsigned, 401, "unsigned", "R2.7ア")
    ghost = signed(Client(), pc.key, "8d2f6f0e-0000-4000-8000-000000000000", "POST", REPORT, report_body())
    assert_error(ghost, 401, "unknown_device")
    assert not PostureReport.objects.exists()


def test_revoked_device_can_no_longer_sign_anything(world, make_pc):
    pc = make_pc()
    services.revoke_device(pc.device, acting_user=world.manager, reason="返却")
    assert_error(send_report(pc), 401, "unknown_device")
    assert_error(signed(Client(), pc.key, str(pc.device.uid), "GET", STATUS), 401, "unknown_device")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b"[]", id="array"),
        pytest.param(json.dumps({"agent_version": "x"}).encode(), id="no-facts"),
    ],
)
def test_malformed_report_is_422_with_the_error_contract_and_changes_nothing(world, make_pc, body):
    pc = make_pc(reported=False)
    events = AuditEvent.objects.count()
    response = send_report(pc, raw=body)
    payload = assert_error(response, 422, "invalid", None)
    assert "入力内容が正しくありません" in payload["message"] or "JSON" in payload["message"]
    assert not PostureReport.objects.exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"screen_lock_minutes": -5}, id="negative-minutes"),
        pytest.param({"screen_lock_minutes": 10_000_000}, id="absurd-minutes"),
        pytest.param({"platform": "amiga"}, id="unknown-platform"),
        pytest.param({"os_updated": "1970-01-01T00:00:00+00:00"}, id="epoch-date"),
        pytest.param({"os_updated": "2026-11-20T10:00:00"}, id="naive-date"),
        pytest.param({"disk_encryption": "maybe"}, id="not-a-boolean"),
        pytest.param({"colour": "blue"}, id="unknown-field"),
        pytest.param({"hostname": "x" * 1000}, id="huge-string"),
    ],
)
def test_absurd_facts_are_422_and_change_nothing(world, make_pc, overrides):
    pc = make_pc(reported=False)
    response = send_report(pc, report_body(**overrides))
    assert_error(response, 422, "invalid", None)
    assert not PostureReport.objects.exists()


def test_report_collected_in_the_future_is_422(world, make_pc):
    pc = make_pc(reported=False)
    body = report_body()
    body["collected_at"] = (timezone.now() + timezone.timedelta(hours=2)).isoformat()
    assert_error(send_report(pc, body), 422, "bad_report")
    assert not PostureReport.objects.exists()


def test_status_tells_the_agent_why_access_is_refused(world, make_pc):
    pc = make_pc(facts=healthy_facts(firewall_enabled=False))
    response = signed(Client(), pc.key, str(pc.device.uid), "GET", STATUS)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["access"] is False and body["clause"] == "R2.7イ"
    assert body["failures"] == [
        {"control": "firewall", "message": "ファイアウォールが有効になっていません。"}
    ]
    assert body["policy"]["max_report_age_hours"] == 24


def test_status_of_a_healthy_device(world, make_pc):
    pc = make_pc()
    body = signed(Client(), pc.key, str(pc.device.uid), "GET", STATUS).json()
    assert body["access"] is True and body["status"] == "approved" and body["failures"] == []


def test_used_nonces_expire(world, make_pc):
    pc = make_pc(reported=False)
    send_report(pc)
    UsedNonce.objects.update(expires_at=timezone.now() - timezone.timedelta(seconds=1))
    send_report(pc)
    assert UsedNonce.objects.count() == 1


# --- binding a browser session ----------------------------------------------------------------------------------


def login_link(pc) -> str:
    response = signed(Client(), pc.key, str(pc.device.uid), "POST", LINK, {})
    assert response.status_code == 201, response.content
    return response.json()["path"]


def test_agent_open_link_binds_the_browser_session_once(world, make_pc):
    pc = make_pc()
    path = login_link(pc)
    browser = verified_client(world.staff)
    response = browser.get(path)
    assert response.status_code == 302
    assert browser.session[SESSION_KEY] == {str(world.contract.pk): str(pc.device.uid)}
    assert DeviceLoginLink.objects.get().used_by == world.staff
    # The link is one-time.
    second = verified_client(world.sub_staff).get(path)
    assert second.status_code == 422
    assert SESSION_KEY not in verified_client(world.sub_staff).session


def test_bound_session_passes_require_device_and_dies_with_logout(world, make_pc):
    pc = make_pc()
    browser = verified_client(world.staff)
    browser.get(login_link(pc))
    page = browser.get(f"/contracts/{world.contract.pk}/devices/")
    assert "に結び付けられています" in page.content.decode()
    browser.post("/logout/")
    assert SESSION_KEY not in browser.session


def test_login_link_for_an_outsider_is_404(world, make_pc):
    pc = make_pc()
    response = verified_client(world.outsider).get(login_link(pc))
    assert response.status_code == 404
    assert DeviceLoginLink.objects.get().used_at is None


def test_login_link_is_refused_for_an_expired_device(world, make_pc):
    pc = make_pc()
    Device.objects.filter(pk=pc.device.pk).update(approved_until=timezone.now())
    response = signed(Client(), pc.key, str(pc.device.uid), "POST", LINK, {})
    assert_error(response, 403, None, "R2.7ア")


def test_expired_login_link_is_refused(world, make_pc):
    pc = make_pc()
    path = login_link(pc)
    DeviceLoginLink.objects.update(expires_at=timezone.now())
    browser = verified_client(world.staff)
    assert browser.get(path).status_code == 422
    assert SESSION_KEY not in browser.session


def test_agent_endpoints_are_in_the_openapi_schema_without_session_auth(db):
    from sekisho.api.main import api

    schema = api.get_openapi_schema()
    for path in (ENROLL, REPORT, STATUS, LINK):
        assert path in schema["paths"]
        operation = next(iter(schema["paths"][path].values()))
        assert not operation.get("security")
    body = schema["paths"][REPORT]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "screen_lock_minutes" in body["properties"]["facts"]["properties"]
