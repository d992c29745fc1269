from __future__ import annotations

import json

import pytest
from django.test import Client

from sekisho.core.auth import issue_api_token
from sekisho.core.models import Contract, Membership

pytestmark = pytest.mark.django_db


def _call(client, method, url, body, **extra):
    if body is None:
        return getattr(client, method)(url, **extra)
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json", **extra)


def _token_client(user):
    _token, text = issue_api_token(user, acting_user=user, name="test")
    return Client(headers={"Authorization": f"Bearer {text}"})


@pytest.mark.parametrize("persona", ["orderer", "manager", "staff", "sub_staff", "auditor"])
def test_members_read_the_contract(world, persona):
    response = _token_client(getattr(world, persona)).get(f"/api/v1/contracts/{world.contract.pk}")
    assert response.status_code == 200
    assert response.json()["number"] == "T-001"


def test_contract_list_returns_only_the_callers_contracts(world):
    numbers = [c["number"] for c in _token_client(world.outsider).get("/api/v1/contracts").json()]
    assert numbers == ["T-002"]


def test_manager_activates_through_the_api(world):
    response = _call(
        _token_client(world.manager),
        "post",
        f"/api/v1/contracts/{world.contract.pk}/transition",
        {"to": "active", "note": "着手届提出済"},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "active"


def test_invalid_transition_is_409_with_the_error_contract(world):
    response = _call(
        _token_client(world.manager),
        "post",
        f"/api/v1/contracts/{world.contract.pk}/transition",
        {"to": "closed"},
    )
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_transition"
    world.contract.refresh_from_db()
    assert world.contract.status == Contract.Status.DRAFT


def test_malformed_body_is_422_and_changes_nothing(world):
    client = _token_client(world.manager)
    response = client.post(
        f"/api/v1/contracts/{world.contract.pk}/memberships",
        data="{not json",
        content_type="application/json",
    )
    assert response.status_code in (400, 422)
    response = _call(client, "post", f"/api/v1/contracts/{world.contract.pk}/memberships", {"role": "staff"})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid"


def test_manager_adds_and_ends_a_member_through_the_api(world):
    from ..factories import UserFactory

    newcomer = UserFactory(username="newcomer", organisation=world.contractor_org)
    client = _token_client(world.manager)
    added = _call(
        client,
        "post",
        f"/api/v1/contracts/{world.contract.pk}/memberships",
        {"username": newcomer.username, "role": "staff"},
    )
    assert added.status_code == 201
    ended = _call(
        client,
        "post",
        f"/api/v1/contracts/{world.contract.pk}/memberships/{added.json()['id']}/end",
        {"reason": "異動"},
    )
    assert ended.status_code == 200
    assert ended.json()["ended_at"] is not None


def test_membership_of_another_contract_is_404_even_via_own_contract_url(world):
    other_membership = Membership.objects.get(user=world.outsider).pk
    response = _call(
        _token_client(world.manager),
        "post",
        f"/api/v1/contracts/{world.contract.pk}/memberships/{other_membership}/end",
        {},
    )
    assert response.status_code == 404


def test_audit_endpoint_lists_events_in_append_order(world):
    response = _token_client(world.auditor).get(f"/api/v1/contracts/{world.contract.pk}/audit?limit=100")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [e["index"] for e in items] == list(range(len(items)))
    assert items[0]["action"] == "contract.create"


def test_openapi_schema_is_served(db):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/contracts" in response.json()["paths"]


def test_only_system_administrator_creates_contracts_via_api(world):
    body = {
        "number": "N-1",
        "title": "t",
        "orderer_id": world.orderer_org.pk,
        "contractor_id": world.contractor_org.pk,
        "period_start": "2026-06-01",
        "period_end": "2026-12-01",
    }
    assert _call(_token_client(world.manager), "post", "/api/v1/contracts", body).status_code == 403
    response = _call(_token_client(world.admin), "post", "/api/v1/contracts", body)
    assert response.status_code == 201
