"""The incidents API: report, the workflow, deadlines in the answer, the orderer's list across contracts and
contractors. (Who gets which status on each endpoint is in tests/api/test_access_matrix.py.)"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from sekisho.core import services as core
from sekisho.core.auth import issue_api_token
from sekisho.core.models import Role
from sekisho.incidents import services
from sekisho.incidents.deadlines import final_report_due, prompt_report_due

from ..factories import UserFactory
from .conftest import at, lost_usb, no_personal

pytestmark = pytest.mark.django_db


def api(user) -> Client:
    _token, text = issue_api_token(user, acting_user=user, name="test")
    return Client(headers={"Authorization": f"Bearer {text}"})


def post(client: Client, url: str, body: dict) -> dict:
    response = client.post(url, data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 201), response.content.decode()
    return response.json()


BODY = {
    "kind": "loss",
    "title": "USBメモリの紛失",
    "description": "現地調査の帰りに紛失",
    "has_personal_info": True,
    "personal_categories": ["name", "address"],
    "personal_count": 150,
}


def test_staff_reports_and_the_answer_carries_the_deadlines_and_the_triggers(world):
    detected = timezone.now() - dt.timedelta(minutes=30)
    base = f"/api/v1/contracts/{world.contract.pk}/incidents"
    found = post(api(world.staff), base, {**BODY, "detected_at": detected.isoformat()})
    aware = timezone.localdate(detected)
    assert found["state"] == "orderer_notified" and found["ref"] == "I-1"
    assert 0 <= found["seconds_to_notify"] < 5
    assert 1790 < found["seconds_to_report"] < 1900
    deadlines = {d["key"]: d for d in found["deadlines"]}
    assert deadlines["orderer_notice"]["status"] == "met"
    assert deadlines["prompt_report"]["due"] == prompt_report_due(aware).isoformat()
    assert deadlines["final_report"]["due"] == final_report_due(aware, wrongful_purpose=False).isoformat()
    assert found["triggers"]["over_100"] and not found["triggers"]["over_1000"]
    assert (
        found["triggers"]["public_body_report_required"] and not found["triggers"]["business_report_required"]
    )
    assert found["allowed_next"] == ["investigating"]


def test_the_workflow_through_the_api(world):
    incident = services.report_incident(world.contract, acting_user=world.staff, data=no_personal())
    base = f"/api/v1/contracts/{world.contract.pk}/incidents/{incident.pk}"
    manager, orderer = api(world.manager), api(world.orderer)
    post(manager, f"{base}/investigation", {"note": ""})
    post(manager, f"{base}/cause", {"cause": "宛先の確認漏れ"})
    post(manager, f"{base}/corrective-measures", {"measures": "回収済み"})
    post(manager, f"{base}/prevention", {"prevention": "送付前のダブルチェック"})
    refused = manager.post(f"{base}/close", data="{}", content_type="application/json")
    assert refused.status_code == 403 and refused.json()["clause"] == "R2.8.2"
    closed = post(orderer, f"{base}/close", {"note": "確認済み"})
    assert closed["state"] == "closed" and closed["closed_at"]
    again = orderer.post(f"{base}/close", data="{}", content_type="application/json")
    assert again.status_code == 409 and again.json()["error"] == "invalid_transition"


def test_the_orderer_sees_every_incident_of_its_contracts_across_contractors(world):
    core.appoint_lead(world.other_contract, acting_user=world.admin, user=world.orderer, role=Role.ORDERER)
    third_orderer = UserFactory(username="orderer3", organisation=world.orderer_org)
    third = core.create_contract(
        acting_user=world.admin,
        number="T-003",
        title="別の発注者担当の業務",
        orderer=world.orderer_org,
        contractor=world.other_org,
        period_start=world.contract.period_start,
        period_end=world.contract.period_end,
    )
    core.appoint_lead(third, acting_user=world.admin, user=third_orderer, role=Role.ORDERER)
    core.appoint_lead(third, acting_user=world.admin, user=world.outsider, role=Role.MANAGER)
    mine = services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    other = services.report_incident(world.other_contract, acting_user=world.outsider, data=no_personal())
    services.report_incident(third, acting_user=world.outsider, data=no_personal())

    listed = api(world.orderer).get("/api/v1/incidents").json()
    assert listed["count"] == 2
    assert {(i["contract_number"], i["id"]) for i in listed["items"]} == {
        ("T-001", mine.pk),
        ("T-002", other.pk),
    }
    assert api(world.manager).get("/api/v1/incidents").json()["count"] == 0, "only orderer officers"
    assert api(third_orderer).get("/api/v1/incidents").json()["count"] == 1
    assert api(world.orderer).get("/api/v1/incidents?open=false").json()["count"] == 0


def test_lists_cost_a_bounded_number_of_queries(world, django_assert_max_num_queries):
    for _n in range(3):
        services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    client = api(world.orderer)
    with django_assert_max_num_queries(12) as few:
        assert client.get("/api/v1/incidents").json()["count"] == 3
    for _n in range(12):
        services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    with django_assert_max_num_queries(len(few)):
        assert client.get("/api/v1/incidents").json()["count"] == 15
    with django_assert_max_num_queries(len(few) + 3):
        assert len(client.get(f"/api/v1/contracts/{world.contract.pk}/incidents").json()["items"]) == 15


def test_report_downloads(world):
    incident = services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    base = f"/api/v1/contracts/{world.contract.pk}/incidents/{incident.pk}"
    pdf = api(world.auditor).get(f"{base}/report.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    docx = api(world.auditor).get(f"{base}/report.docx")
    assert docx.status_code == 200 and docx.content.startswith(b"PK")
    assert f'filename="incident-{incident.pk}.docx"' in docx["Content-Disposition"]


def test_refusals_name_the_clause(world):
    base = f"/api/v1/contracts/{world.contract.pk}/incidents"
    refused = api(world.auditor).post(
        base,
        data=json.dumps({**BODY, "detected_at": timezone.now().isoformat()}),
        content_type="application/json",
    )
    assert refused.status_code == 403
    assert refused.json()["clause"] == "R2.8.1"
    invalid = api(world.staff).post(
        base,
        data=json.dumps({**BODY, "personal_count": None, "detected_at": timezone.now().isoformat()}),
        content_type="application/json",
    )
    assert invalid.status_code == 422 and invalid.json()["clause"] == "P10"


def test_a_time_without_a_zone_is_japan_time(world):
    found = post(
        api(world.staff),
        f"/api/v1/contracts/{world.contract.pk}/incidents",
        {**BODY, "detected_at": "2026-07-17T09:00:00"},
    )
    assert dt.datetime.fromisoformat(found["detected_at"].replace("Z", "+00:00")) == at(
        dt.date(2026, 7, 17), 9
    )
    assert {d["key"]: d["due"] for d in found["deadlines"]}["prompt_report"] == "2026-07-22"
