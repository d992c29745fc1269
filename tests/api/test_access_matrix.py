"""One table for every contract-scoped API endpoint: who gets what.

A new endpoint under /api/v1/contracts/{contract_id} without a row here fails
``test_every_contract_endpoint_has_a_row``. Outsiders (members of another contract) always get 404, anonymous
callers 401; the table says what each member persona gets.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from sekisho.core.auth import issue_api_token
from sekisho.core.models import Membership
from sekisho.ledger.models import LocationKind, Medium, Origin
from sekisho.ledger.services import AssetData, register_asset
from sekisho.permits import services as permits

pytestmark = pytest.mark.django_db

MEMBERS = ("orderer", "manager", "staff", "sub_staff", "auditor")
OK, CREATED, FORBIDDEN, CONFLICT, INVALID = 200, 201, 403, 409, 422


def _all(status: int) -> dict[str, int]:
    return dict.fromkeys(MEMBERS, status)


def _only(status: int, allowed: tuple[str, ...], otherwise: int = FORBIDDEN) -> dict[str, int]:
    return {p: status if p in allowed else otherwise for p in MEMBERS}


class Ctx:
    """Objects the paths and bodies refer to, made fresh for each test."""

    def __init__(self, world: Any) -> None:
        self.world = world
        self.contract = world.contract
        self.membership = Membership.objects.get(user=world.staff, contract=world.contract)
        self.asset = register_asset(
            world.contract,
            acting_user=world.manager,
            data=AssetData(
                title="下水道台帳図",
                medium=Medium.PAPER,
                origin=Origin.PROVIDED,
                received_on=dt.date(2026, 7, 1),
                custodian=world.staff,
                location_kind=LocationKind.CABINET,
                quantity=1,
            ),
        )
        self.permit = permits.request_permit(
            world.contract,
            acting_user=world.manager,
            kind="other_purpose",
            assets=[self.asset],
            reason="参考",
            purpose="他業務の参考",
            valid_from=dt.date(2026, 7, 1),
            valid_until=dt.date(2027, 3, 1),
        )


Body = Callable[[Ctx], dict[str, Any] | None]

# (method, path template) -> (body, expected status per member persona)
MATRIX: dict[tuple[str, str], tuple[Body, dict[str, int]]] = {
    ("get", "/api/v1/contracts/{contract_id}"): (lambda c: None, _all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/transition"): (
        lambda c: {"to": "active"},
        _only(OK, ("manager",)),
    ),
    ("get", "/api/v1/contracts/{contract_id}/memberships"): (lambda c: None, _all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/memberships"): (
        lambda c: {"username": "staff", "role": "staff"},
        # manager/orderer pass the policy; the body is then a conflict (already a member) or not theirs to add
        {
            "orderer": FORBIDDEN,
            "manager": CONFLICT,
            "staff": FORBIDDEN,
            "sub_staff": FORBIDDEN,
            "auditor": FORBIDDEN,
        },
    ),
    ("post", "/api/v1/contracts/{contract_id}/memberships/{membership_id}/end"): (
        lambda c: {"reason": "異動"},
        {
            "orderer": FORBIDDEN,
            "manager": OK,
            "staff": FORBIDDEN,
            "sub_staff": FORBIDDEN,
            "auditor": FORBIDDEN,
        },
    ),
    ("get", "/api/v1/contracts/{contract_id}/audit"): (
        lambda c: None,
        _only(OK, ("orderer", "manager", "auditor")),
    ),
    ("get", "/api/v1/contracts/{contract_id}/assets"): (lambda c: None, _all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/assets"): (
        lambda c: {
            "title": "調査写真",
            "medium": "electronic",
            "origin": "derived",
            "received_on": "2026-08-01",
            "custodian": "staff",
            "location_kind": "vault",
        },
        _only(CREATED, ("manager", "staff", "sub_staff")),
    ),
    ("get", "/api/v1/contracts/{contract_id}/assets/{asset_id}"): (lambda c: None, _all(OK)),
    ("get", "/api/v1/contracts/{contract_id}/assets/{asset_id}/lineage"): (lambda c: None, _all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/assets/{asset_id}/state"): (
        lambda c: {"to": "in_transit"},
        _only(OK, ("manager",)),
    ),
    ("get", "/api/v1/contracts/{contract_id}/permits"): (lambda c: None, _all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/permits"): (
        lambda c: {
            "kind": "copy",
            "asset_ids": [c.asset.pk],
            "reason": "スキャン",
            "copies": 1,
            "valid_from": "2026-07-01",
            "valid_until": "2027-03-01",
        },
        _only(CREATED, ("manager", "staff", "sub_staff")),
    ),
    ("get", "/api/v1/contracts/{contract_id}/permits/{permit_id}"): (lambda c: None, _all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/permits/{permit_id}/decision"): (
        lambda c: {"approve": True},
        _only(OK, ("orderer",)),
    ),
    ("post", "/api/v1/contracts/{contract_id}/permits/{permit_id}/revoke"): (
        # only the orderer passes the policy; the permit is still requested, so revoking it is a conflict
        lambda c: {"note": "取消"},
        _only(CONFLICT, ("orderer",)),
    ),
    ("post", "/api/v1/contracts/{contract_id}/permits/{permit_id}/use"): (
        # staff may use permits; this one is not approved yet, so the clause refuses it (403 with R2.2)
        lambda c: {"kind": "other_purpose", "asset_ids": [c.asset.pk]},
        _all(FORBIDDEN),
    ),
}


def _url(template: str, ctx: Ctx) -> str:
    return template.format(
        contract_id=ctx.contract.pk,
        membership_id=ctx.membership.pk,
        asset_id=ctx.asset.pk,
        permit_id=ctx.permit.pk,
    )


def _call(client: Client, method: str, url: str, body: dict[str, Any] | None):
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


def _client(user) -> Client:
    _token, text = issue_api_token(user, acting_user=user, name="matrix")
    return Client(headers={"Authorization": f"Bearer {text}"})


def test_every_contract_endpoint_has_a_row(db):
    from sekisho.api.main import api

    schema = api.get_openapi_schema()
    endpoints = {
        (method, path)
        for path, ops in schema["paths"].items()
        if path.startswith("/api/v1/contracts/{contract_id}")
        for method in ops
    }
    assert endpoints == set(MATRIX), "add a row to MATRIX for each new contract endpoint"


ROWS = sorted(MATRIX)


@pytest.mark.parametrize(("method", "template"), ROWS)
@pytest.mark.parametrize("persona", MEMBERS)
def test_member_gets_the_expected_status(world, freeze_today, method, template, persona):
    ctx = Ctx(world)
    body_for, expected = MATRIX[(method, template)]
    response = _call(_client(getattr(world, persona)), method, _url(template, ctx), body_for(ctx))
    assert response.status_code == expected[persona], response.content.decode()
    if response.status_code >= 400:
        assert set(response.json()) >= {"error", "clause", "message"}


@pytest.mark.parametrize(("method", "template"), ROWS)
def test_outsider_always_gets_404_and_nothing_of_the_contract(world, freeze_today, method, template):
    ctx = Ctx(world)
    body_for, _expected = MATRIX[(method, template)]
    response = _call(_client(world.outsider), method, _url(template, ctx), body_for(ctx))
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "clause": None, "message": "見つかりません。"}


@pytest.mark.parametrize(("method", "template"), ROWS)
def test_anonymous_gets_401(world, freeze_today, method, template):
    ctx = Ctx(world)
    body_for, _expected = MATRIX[(method, template)]
    response = _call(Client(), method, _url(template, ctx), body_for(ctx))
    assert response.status_code == 401


@pytest.fixture
def freeze_today(monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: dt.date(2026, 8, 3))
