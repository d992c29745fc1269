from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sekisho.core.auth import issue_api_token
from sekisho.ledger.models import Asset

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: dt.date(2026, 8, 3))


def _client(user) -> Client:
    _token, text = issue_api_token(user, acting_user=user, name="t")
    return Client(headers={"Authorization": f"Bearer {text}"})


def _post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


PAPER = {
    "title": "管渠台帳図 No.12",
    "medium": "paper",
    "origin": "provided",
    "received_on": "2026-07-01",
    "custodian": "staff",
    "location_kind": "cabinet",
    "location": "書庫A",
    "quantity": 3,
}


def test_scan_flow_through_the_api_with_the_clause_on_refusal(world):
    staff, orderer = _client(world.staff), _client(world.orderer)
    base = f"/api/v1/contracts/{world.contract.pk}"
    drawing = _post(staff, f"{base}/assets", PAPER).json()
    scan = {
        "title": "管渠台帳図 No.12（スキャン）",
        "medium": "electronic",
        "origin": "copy",
        "parent_id": drawing["id"],
        "received_on": "2026-08-03",
        "custodian": "staff",
        "location_kind": "vault",
    }
    refused = _post(staff, f"{base}/assets", scan)
    assert refused.status_code == 403
    assert refused.json()["clause"] == "R2.3"
    permit = _post(
        staff,
        f"{base}/permits",
        {
            "kind": "copy",
            "asset_ids": [drawing["id"]],
            "reason": "現地用",
            "copies": 1,
            "valid_from": "2026-08-01",
            "valid_until": "2026-12-01",
        },
    )
    assert permit.status_code == 201
    decided = _post(orderer, f"{base}/permits/{permit.json()['id']}/decision", {"approve": True})
    assert decided.json()["state"] == "approved"
    created = _post(staff, f"{base}/assets", scan)
    assert created.status_code == 201
    assert created.json()["parent_ref"] == drawing["ref"]
    again = _post(staff, f"{base}/assets", scan)
    assert (again.status_code, again.json()["clause"]) == (403, "R2.3")
    lineage = staff.get(f"{base}/assets/{created.json()['id']}/lineage").json()
    assert lineage["ref"] == drawing["ref"]
    assert [c["ref"] for c in lineage["children"]] == [created.json()["ref"]]
    assert lineage["children"][0]["current"] is True


def test_bad_bodies_get_422_and_write_nothing(world):
    staff = _client(world.staff)
    url = f"/api/v1/contracts/{world.contract.pk}/assets"
    before = Asset.objects.count()
    cases = [
        {**PAPER, "received_on": "2025-01-01"},
        {**PAPER, "received_on": "not a date"},
        {**PAPER, "quantity": "many"},
        {**PAPER, "origin": "copy", "parent_id": 999999},
        {**PAPER, "has_personal_info": True, "personal_categories": ["name"], "personal_count": 5},
        {**PAPER, "custodian": "nobody"},
    ]
    for body in cases:
        response = _post(staff, url, body)
        assert response.status_code == 422, (body, response.content)
        assert {"error", "clause", "message"} <= set(response.json())
    response = _post(staff, url, cases[4])
    assert response.json()["clause"] == "P5"
    assert Asset.objects.count() == before


def test_ledger_filters(world):
    staff = _client(world.staff)
    url = f"/api/v1/contracts/{world.contract.pk}/assets"
    _post(staff, url, PAPER)
    _post(
        staff,
        url,
        {
            **PAPER,
            "title": "使用者名簿",
            "has_personal_info": True,
            "personal_categories": ["name"],
            "personal_count": 10,
            "personal_purpose": "立会い連絡",
            "personal_necessity": "連絡に必要",
        },
    )
    _post(staff, url, {**PAPER, "title": "重要図面", "important": True, "confidentiality": 3})
    titles = lambda q: [a["title"] for a in staff.get(f"{url}?{q}").json()["items"]]  # noqa: E731
    assert titles("personal=true") == ["使用者名簿"]
    assert titles("important=true") == ["重要図面"]
    assert titles("q=名簿") == ["使用者名簿"]
    assert titles("confidentiality=3") == ["重要図面"]
    assert len(titles("medium=paper")) == 3
    assert titles("state=returned") == []


def _list_queries(client, url) -> int:
    client.get(url)  # warm-up: the token's last-used stamp is written at most once a minute
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_ledger_page_costs_the_same_queries_for_5_or_60_assets(world):
    from sekisho.ledger.models import LocationKind, Medium, Origin
    from sekisho.ledger.services import AssetData, register_asset

    staff = _client(world.staff)
    url = f"/api/v1/contracts/{world.contract.pk}/assets?limit=50"

    def add(n):
        for i in range(n):
            parent = Asset.objects.filter(contract=world.contract).first()
            register_asset(
                world.contract,
                acting_user=world.staff,
                data=AssetData(
                    title=f"資料{i}",
                    medium=Medium.ELECTRONIC,
                    origin=Origin.DERIVED,
                    parent=parent,
                    received_on=dt.date(2026, 7, 1),
                    custodian=world.sub_staff,
                    location_kind=LocationKind.VAULT,
                ),
            )

    add(5)
    small = _list_queries(staff, url)
    add(55)
    large = _list_queries(staff, url)
    assert small == large
