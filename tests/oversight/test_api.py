"""The oversight API (R3): the same services as the pages, with the error contract {error, clause, message}."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from sekisho.core.auth import issue_api_token
from sekisho.oversight.models import ReportAttachment

from .conftest import in_days

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(world):
    def make(persona: str) -> Client:
        user = getattr(world, persona)
        _token, text = issue_api_token(user, acting_user=user, name="api-test")
        return Client(headers={"Authorization": f"Bearer {text}"})

    return make


def base(world) -> str:
    return f"/api/v1/contracts/{world.contract.pk}"


def post(client: Client, url: str, body: dict) -> object:
    return client.post(url, body, content_type="application/json")


def test_the_report_request_round_trip(world, api, vault_dirs):
    created = post(
        api("orderer"),
        f"{base(world)}/report-requests",
        {"subject": "端末の管理状況", "detail": "承認済み端末の一覧を", "due_on": in_days(7).isoformat()},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["ref"] == "RR-1" and body["state"] == "requested" and body["answers"] == []
    url = f"{base(world)}/report-requests/{body['id']}"
    pdf = SimpleUploadedFile("端末一覧.pdf", b"%PDF-1.4 devices", content_type="application/pdf")
    answered = api("manager").post(f"{url}/answer", {"text": "一覧を添付します。", "files": [pdf]})
    assert answered.status_code == 200, answered.content
    (answer,) = answered.json()["answers"]
    (attachment,) = answer["attachments"]
    assert attachment["filename"] == "端末一覧.pdf"
    assert attachment["sha256"] == hashlib.sha256(b"%PDF-1.4 devices").hexdigest()
    download = api("auditor").get(f"{base(world)}/report-attachments/{attachment['id']}")
    assert download.status_code == 200 and download["Content-Type"] == "application/octet-stream"
    assert b"".join(download.streaming_content) == b"%PDF-1.4 devices"
    more = post(api("orderer"), f"{url}/more", {"note": "型番も", "due_on": in_days(5).isoformat()})
    assert more.status_code == 200 and more.json()["state"] == "more_requested"
    again = api("manager").post(f"{url}/answer", {"text": "型番を追記しました。"})
    assert again.status_code == 200 and len(again.json()["answers"]) == 2
    accepted = post(api("orderer"), f"{url}/accept", {"note": "確認しました"})
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    assert accepted.json()["allowed_next"] == []


def test_refusals_carry_the_clause(world, api, report_request):
    url = f"{base(world)}/report-requests/{report_request.pk}"
    wrong_role = post(api("manager"), f"{url}/accept", {})
    assert wrong_role.status_code == 403 and wrong_role.json()["clause"] == "R3"
    wrong_state = post(api("orderer"), f"{url}/accept", {})
    assert wrong_state.status_code == 409
    assert wrong_state.json()["error"] == "invalid_transition" and wrong_state.json()["clause"] == "R3"
    no_text = api("manager").post(f"{url}/answer", {"text": ""})
    assert no_text.status_code == 422 and no_text.json()["error"] == "invalid"
    staff = api("staff").get(url)
    assert staff.status_code == 403


def test_an_oversized_attachment_is_413(world, api, report_request, settings, vault_dirs):
    settings.SEKISHO_REPORT_ATTACHMENT_MAX_BYTES = 2048
    big = SimpleUploadedFile("big.bin", b"z" * 5000, content_type="application/octet-stream")
    response = api("manager").post(
        f"{base(world)}/report-requests/{report_request.pk}/answer", {"text": "報告", "files": [big]}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large" and response.json()["clause"] == "R3"
    assert "big.bin" in response.json()["message"]
    assert not ReportAttachment.objects.exists()
    assert not any(p.is_file() for p in (vault_dirs / "vault").rglob("*"))


def test_uploads_are_kept_in_memory_never_in_a_temporary_file(
    world, api, report_request, settings, monkeypatch
):
    from django.core.files import uploadhandler

    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10  # Django's own handlers would spool this upload to disk

    def spooled(*args, **kwargs):
        raise AssertionError("an upload went to a temporary file")

    monkeypatch.setattr(uploadhandler.TemporaryFileUploadHandler, "new_file", spooled)
    secret = b"CONFIDENTIAL-PLAINTEXT" * 100
    response = api("manager").post(
        f"{base(world)}/report-requests/{report_request.pk}/answer",
        {"text": "報告", "files": [SimpleUploadedFile("a.txt", secret)]},
    )
    assert response.status_code == 200, response.content
    assert ReportAttachment.objects.get().size == len(secret)


def test_outsiders_get_the_plain_404(world, api, answered, started):
    attachment = ReportAttachment.objects.first()
    for url in (
        f"{base(world)}/report-requests",
        f"{base(world)}/report-requests/{answered.pk}",
        f"{base(world)}/report-attachments/{attachment.pk}",
        f"{base(world)}/inspections/{started.pk}",
        f"{base(world)}/inspectors",
    ):
        response = api("outsider").get(url)
        assert response.status_code == 404, url
        assert response.json() == {"error": "not_found", "clause": None, "message": "見つかりません。"}


def test_the_inspection_round_trip(world, api):
    created = post(
        api("orderer"),
        f"{base(world)}/inspections",
        {"title": "第1回検査", "scheduled_on": timezone.localdate().isoformat(), "place": "事務所"},
    )
    assert created.status_code == 201, created.content
    inspection = created.json()
    assert inspection["state"] == "planned" and len(inspection["items"]) > 30
    url = f"{base(world)}/inspections/{inspection['id']}"
    early = post(api("orderer"), f"{url}/complete", {})
    assert early.status_code == 409 and early.json()["clause"] == "R3"
    assert post(api("orderer"), f"{url}/start", {}).status_code == 200
    items = {i["clause_id"]: i for i in inspection["items"]}
    for clause, item in items.items():
        result = "nonconforming" if clause == "R2.7イ" else "conforming"
        recorded = post(api("orderer"), f"{url}/items/{item['id']}", {"result": result, "note": "確認"})
        assert recorded.status_code == 200
    blocked = post(api("orderer"), f"{url}/complete", {})
    assert blocked.status_code == 409 and blocked.json()["error"] == "findings_missing"
    finding = post(
        api("orderer"),
        f"{url}/items/{items['R2.7イ']['id']}/findings",
        {
            "description": "ウイルス対策の定義が古い",
            "corrective_request": "更新すること",
            "due_on": in_days(10).isoformat(),
        },
    )
    assert finding.status_code == 201 and finding.json()["ref"] == "INS-1-1"
    completed = post(api("orderer"), f"{url}/complete", {"summary": "概ね良好"})
    assert completed.status_code == 200 and completed.json()["state"] == "completed"
    frozen = post(api("orderer"), f"{url}/items/{items['R1.1']['id']}", {"result": "not_applicable"})
    assert frozen.status_code == 409
    furl = f"{url}/findings/{finding.json()['id']}"
    assert post(api("staff"), f"{furl}/response", {"response": "更新した"}).status_code == 403
    assert post(api("manager"), f"{furl}/response", {"response": "更新した"}).json()["state"] == "answered"
    assert post(api("orderer"), f"{furl}/close", {}).json()["state"] == "closed"
    pdf = api("auditor").get(f"{url}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    docx = api("manager").get(f"{url}/report.docx")
    assert docx.status_code == 200 and docx.content.startswith(b"PK")
    listed = api("auditor").get(f"{base(world)}/inspections").json()
    assert listed["count"] == 1 and listed["items"][0]["finding_count"] == 1
    assert listed["items"][0]["open_finding_count"] == 0


def test_the_inspectors_list_shows_end_times(world, api, inspector_user):
    until = (timezone.now() + timezone.timedelta(days=3)).isoformat()
    granted = post(
        api("orderer"), f"{base(world)}/inspectors", {"username": "inspector", "expires_at": until}
    )
    assert granted.status_code == 201, granted.content
    assert granted.json()["active"] is True and granted.json()["expires_at"]
    listed = api("manager").get(f"{base(world)}/inspectors").json()
    assert {r["username"] for r in listed} == {"auditor", "inspector"}
    assert (
        post(
            api("manager"), f"{base(world)}/inspectors", {"username": "inspector", "expires_at": until}
        ).status_code
        == 403
    )
    unknown = post(api("orderer"), f"{base(world)}/inspectors", {"username": "nobody", "expires_at": until})
    assert unknown.status_code == 422 and unknown.json()["error"] == "unknown_user"
