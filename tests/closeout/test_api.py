"""The close-out through the API, on the demo contract: the refusal to close with open items (409, R2.5 and P9
with the count), the whole close-out step by step, the certificate, and the contract closed."""

from __future__ import annotations

import hashlib
import json
import types

import pytest
from django.test import Client

from sekisho.audit.models import AuditEvent
from sekisho.closeout.models import CloseOutItem
from sekisho.core.auth import issue_api_token
from sekisho.core.demo import load_demo
from sekisho.core.models import Contract, User

from .conftest import TODAY, build_ledger, item_ids, start_closing

pytestmark = pytest.mark.django_db


def api(user: User) -> Client:
    _token, text = issue_api_token(user, acting_user=user, name="closeout-test")
    return Client(headers={"Authorization": f"Bearer {text}"})


def post(client: Client, url: str, body: object = None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def demo():
    load_demo(password="demo-password-for-the-closeout-test-42")
    users = {u.username: u for u in User.objects.all()}
    contract = Contract.objects.get(number="倉下建第2026-118号")
    return types.SimpleNamespace(
        contract=contract,
        orderer=users["orderer"],
        manager=users["manager"],
        staff=users["staff"],
        auditor=users["auditor"],
        outsider=users["outsider"],
    )


def test_the_demo_contract_is_closed_out_through_the_api_and_closes(demo):
    ledger = build_ledger(demo)  # the demo's people register the information, seal two files in the vault
    start_closing(demo)
    base = f"/api/v1/contracts/{demo.contract.pk}"
    manager, orderer, auditor = api(demo.manager), api(demo.orderer), api(demo.auditor)

    # The contract does not close before the close-out, nor with anything open.
    refused = post(orderer, f"{base}/transition", {"to": "closed"})
    assert refused.status_code == 409
    assert refused.json()["error"] == "closeout_not_opened" and refused.json()["clause"] == "R2.5"
    opened = post(manager, f"{base}/closeout", {"note": "業務完了に伴う返却"})
    assert opened.status_code == 201, opened.content
    assert opened.json()["total"] == 6 and opened.json()["unresolved"] == 6
    refused = post(orderer, f"{base}/transition", {"to": "closed"})
    body = refused.json()
    assert refused.status_code == 409
    assert (body["error"], body["clause"], body["open_items"]) == ("closeout_unresolved", "R2.5", 6)
    assert body["clauses"] == ["R2.5", "P9"] and body["personal_open_items"] == 2
    assert "6件" in body["message"] and "P9" in body["message"]

    items = manager.get(f"{base}/closeout/items", {"medium": "paper"}).json()
    assert {i["ref"] for i in items["items"]} == {
        ledger.drawing.ref,
        ledger.drawing_copy.ref,
        ledger.residents.ref,
    }

    # (a) The originals go back; only the orderer's confirmation resolves them.
    originals = item_ids(ledger.drawing, ledger.residents)
    assert post(
        manager, f"{base}/closeout/items/hand-over", {"item_ids": originals, "note": "窓口で手渡し"}
    ).json() == {"count": 2}
    forbidden = post(manager, f"{base}/closeout/items/confirm-receipt", {"item_ids": originals})
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "forbidden"
    assert post(orderer, f"{base}/closeout/items/confirm-receipt", {"item_ids": originals}).status_code == 200

    # (b) The orderer instructs destruction of the rest; paper and device copies by hand, the vault by
    # crypto-shredding.
    rest = item_ids(ledger.drawing_copy, ledger.notes, ledger.report, ledger.photos)
    instruction = post(orderer, f"{base}/closeout/instructions", {"kind": "destruction", "item_ids": rest})
    assert instruction.status_code == 201, instruction.content
    permit_id = instruction.json()["permit_id"]
    destroyed = post(
        manager,
        f"{base}/closeout/items/destroy",
        {
            "item_ids": item_ids(ledger.drawing_copy),
            "method": "shredder",
            "destroyed_on": TODAY.isoformat(),
            "witness": "総務課 倉敷 太郎",
        },
    )
    assert destroyed.status_code == 200, destroyed.content
    post(
        manager,
        f"{base}/closeout/items/destroy",
        {
            "item_ids": item_ids(ledger.notes),
            "method": "data_erasure",
            "destroyed_on": TODAY.isoformat(),
            "witness": "児島",
        },
    )
    shredded = post(manager, f"{base}/closeout/shred", {"permit_id": permit_id, "note": "指示により廃棄"})
    assert shredded.status_code == 200, shredded.content
    shredding = shredded.json()
    assert shredding["objects_count"] == 2 and len(shredding["key_ids"]) == 1

    # The certificate: issued by the information manager, confirmed by the orderer; its hash is on the trail.
    assert auditor.get(f"{base}/closeout/certificate.pdf").status_code == 409
    assert post(orderer, f"{base}/closeout/certificate").status_code == 403
    issued = post(manager, f"{base}/closeout/certificate")
    assert issued.status_code == 201, issued.content
    confirmed = post(orderer, f"{base}/closeout/certificate/confirm", {"note": "内容を確認しました"})
    assert confirmed.status_code == 200 and confirmed.json()["stage"] == "confirmed"
    pdf = auditor.get(f"{base}/closeout/certificate.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    event = AuditEvent.objects.get(contract=demo.contract, action="closeout.certificate.confirm")
    assert event.summary["pdf_sha256"] == hashlib.sha256(pdf.content).hexdigest()
    docx = manager.get(f"{base}/closeout/certificate.docx")
    assert event.summary["docx_sha256"] == hashlib.sha256(docx.content).hexdigest()

    closed = post(orderer, f"{base}/transition", {"to": "closed"})
    assert closed.status_code == 200, closed.content
    assert closed.json()["status"] == "closed"
    assert (
        not CloseOutItem.objects.filter(contract=demo.contract)
        .exclude(state__in=["returned", "destroyed", "retained"])
        .exists()
    )


def test_members_without_the_right_get_403_and_outsiders_404(demo):
    build_ledger(demo)
    start_closing(demo)
    base = f"/api/v1/contracts/{demo.contract.pk}"
    post(api(demo.manager), f"{base}/closeout")
    ids = item_ids(*CloseOutItem.objects.filter(contract=demo.contract).values_list("asset", flat=True))
    staff, outsider, auditor = api(demo.staff), api(demo.outsider), api(demo.auditor)
    for path, body in (
        ("/closeout/items/hand-over", {"item_ids": ids}),
        ("/closeout/items/confirm-receipt", {"item_ids": ids}),
        ("/closeout/instructions", {"kind": "destruction", "item_ids": ids}),
        ("/closeout/certificate", None),
    ):
        assert post(staff, base + path, body).status_code == 403
        assert post(auditor, base + path, body).status_code == 403
        response = post(outsider, base + path, body)
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "clause": None, "message": "見つかりません。"}
    assert staff.get(f"{base}/closeout/items").status_code == 403
    assert outsider.get(f"{base}/closeout/items").status_code == 404
    assert outsider.get(f"{base}/plan.pdf").status_code == 404
    assert staff.get(f"{base}/plan.docx").status_code == 403
