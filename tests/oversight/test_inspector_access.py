"""Time-limited inspectors (R3): the orderer officer grants a person of the orderer the auditor role until a set
time (Membership.expires_at). Until then they read the contract (ledger, audit trail, oversight) and change
nothing; at that instant every page and API call answers 404, with or without the tick, which then ends the
membership for the record."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sekisho.audit.models import AuditEvent
from sekisho.core import policy
from sekisho.core import services as core
from sekisho.core.auth import issue_api_token
from sekisho.core.errors import Conflict, Forbidden, Invalid, NotFound
from sekisho.core.models import Contract, Membership, Role
from sekisho.ledger.models import LocationKind, Medium, Origin
from sekisho.ledger.services import AssetData, register_asset
from sekisho.notifications.models import Notification
from sekisho.oversight import inspectors

from ..conftest import verified_client
from ..factories import UserFactory
from .conftest import in_days

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def asset(world):
    return register_asset(
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


@pytest.fixture
def grant(world, inspector_user):
    # Ten minutes: the tests step past the end time without outliving the browser session's idle limit.
    expires_at = timezone.now() + dt.timedelta(minutes=10)
    membership = inspectors.grant_inspector(
        world.contract, acting_user=world.orderer, user=inspector_user, expires_at=expires_at
    )
    return membership


def token_client(user) -> Client:
    _token, text = issue_api_token(user, acting_user=user, name="inspection")
    return Client(headers={"Authorization": f"Bearer {text}"})


def at(monkeypatch, moment: dt.datetime) -> None:
    monkeypatch.setattr(timezone, "now", lambda: moment)


def pages(world, asset) -> list[str]:
    c = world.contract.pk
    return [
        reverse("web:contract-detail", args=[c]),
        reverse("web:contract-audit", args=[c]),
        reverse("ledger:list", args=[c]),
        reverse("ledger:detail", args=[c, asset.pk]),
        reverse("incidents:list", args=[c]),
        reverse("permits:list", args=[c]),
        reverse("oversight:index", args=[c]),
        reverse("oversight:inspectors", args=[c]),
    ]


def api_reads(world, asset) -> list[str]:
    c = world.contract.pk
    return [
        f"/api/v1/contracts/{c}",
        f"/api/v1/contracts/{c}/memberships",
        f"/api/v1/contracts/{c}/audit",
        f"/api/v1/contracts/{c}/assets",
        f"/api/v1/contracts/{c}/assets/{asset.pk}",
        f"/api/v1/contracts/{c}/report-requests",
        f"/api/v1/contracts/{c}/inspections",
    ]


# --- granting ----------------------------------------------------------------------------------------------------


def test_the_orderer_grants_read_only_access_until_a_set_time(world, grant, inspector_user):
    assert grant.role == Role.AUDITOR and grant.expires_at is not None and grant.ended_at is None
    event = AuditEvent.objects.filter(action="membership.add", object_id=str(grant.pk)).get()
    assert event.actor == world.orderer and event.summary["expires_at"]
    assert Notification.objects.filter(user=inspector_user, subject__contains="検査員").exists()
    assert policy.role_in(inspector_user, world.contract) == Role.AUDITOR


@pytest.mark.parametrize("persona", ["manager", "staff", "sub_staff", "auditor"])
def test_only_the_orderer_grants(world, inspector_user, persona):
    with pytest.raises(Forbidden) as refused:
        inspectors.grant_inspector(
            world.contract,
            acting_user=getattr(world, persona),
            user=inspector_user,
            expires_at=timezone.now() + HOUR,
        )
    assert refused.value.status == 403
    assert not Membership.objects.filter(user=inspector_user).exists()


def test_an_outsider_cannot_grant(world, inspector_user):
    with pytest.raises(NotFound):
        inspectors.grant_inspector(
            world.contract, acting_user=world.outsider, user=inspector_user, expires_at=timezone.now() + HOUR
        )


@pytest.mark.parametrize(
    ("delta", "code"),
    [
        (-HOUR, "expiry_in_past"),
        (dt.timedelta(minutes=1), "expiry_in_past"),
        (dt.timedelta(days=91), "expiry_too_far"),
    ],
)
def test_the_end_time_must_be_ahead_and_within_90_days(world, inspector_user, delta, code):
    with pytest.raises(Invalid) as refused:
        inspectors.grant_inspector(
            world.contract, acting_user=world.orderer, user=inspector_user, expires_at=timezone.now() + delta
        )
    assert refused.value.code == code and refused.value.status == 422


def test_an_inspector_comes_from_the_orderer(world):
    contractor_person = UserFactory(username="contractor-person", organisation=world.contractor_org)
    with pytest.raises(Forbidden):
        inspectors.grant_inspector(
            world.contract,
            acting_user=world.orderer,
            user=contractor_person,
            expires_at=timezone.now() + HOUR,
        )


def test_a_member_cannot_be_granted_again(world, grant, inspector_user):
    with pytest.raises(Conflict) as refused:
        inspectors.grant_inspector(
            world.contract, acting_user=world.orderer, user=inspector_user, expires_at=timezone.now() + HOUR
        )
    assert refused.value.code == "duplicate"


def test_only_auditors_may_have_an_end_time(world):
    newcomer = UserFactory(username="newcomer", organisation=world.contractor_org)
    with pytest.raises(Invalid) as refused:
        core.add_member(
            world.contract,
            acting_user=world.manager,
            user=newcomer,
            role=Role.STAFF,
            expires_at=timezone.now() + HOUR,
        )
    assert refused.value.code == "expiry_not_allowed"


# --- reading, not changing ----------------------------------------------------------------------------------------


def test_the_inspector_reads_every_page_and_the_api(world, grant, inspector_user, asset):
    browser = verified_client(inspector_user)
    for url in pages(world, asset):
        assert browser.get(url).status_code == 200, url
    api = token_client(inspector_user)
    for url in api_reads(world, asset):
        assert api.get(url).status_code == 200, url
    audit = api.get(f"/api/v1/contracts/{world.contract.pk}/audit").json()
    assert audit["count"] > 0


def test_the_inspector_changes_nothing(world, grant, inspector_user, asset):
    api = token_client(inspector_user)
    c = world.contract.pk
    refused = [
        api.post(f"/api/v1/contracts/{c}/transition", {"to": "active"}, content_type="application/json"),
        api.post(
            f"/api/v1/contracts/{c}/assets",
            {
                "title": "x",
                "medium": "paper",
                "origin": "provided",
                "received_on": "2026-08-01",
                "custodian": "staff",
                "location_kind": "cabinet",
            },
            content_type="application/json",
        ),
        api.post(
            f"/api/v1/contracts/{c}/assets/{asset.pk}/state",
            {"to": "in_transit"},
            content_type="application/json",
        ),
        api.post(
            f"/api/v1/contracts/{c}/report-requests",
            {"subject": "s", "detail": "d", "due_on": in_days(3).isoformat()},
            content_type="application/json",
        ),
        api.post(
            f"/api/v1/contracts/{c}/inspections",
            {"title": "t", "scheduled_on": timezone.localdate().isoformat()},
            content_type="application/json",
        ),
        api.post(
            f"/api/v1/contracts/{c}/inspectors",
            {"username": "auditor", "expires_at": (timezone.now() + HOUR).isoformat()},
            content_type="application/json",
        ),
        api.post(
            f"/api/v1/contracts/{c}/memberships",
            {"username": "staff", "role": "staff"},
            content_type="application/json",
        ),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert all(r.json()["error"] == "forbidden" for r in refused)
    browser = verified_client(inspector_user)
    response = browser.post(reverse("oversight:request-new", args=[c]), {"subject": "s", "detail": "d"})
    assert response.status_code == 403


# --- the end time ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("after", [dt.timedelta(0), dt.timedelta(seconds=1)], ids=["at", "after"])
def test_at_the_end_time_every_page_and_api_call_is_404(
    world, grant, inspector_user, asset, monkeypatch, after
):
    browser = verified_client(inspector_user)
    api = token_client(inspector_user)
    at(monkeypatch, grant.expires_at + after)
    for url in pages(world, asset):
        assert browser.get(url).status_code == 404, url
    for url in api_reads(world, asset):
        response = api.get(url)
        assert response.status_code == 404, url
        assert response.json() == {"error": "not_found", "clause": None, "message": "見つかりません。"}
    assert browser.get(reverse("web:contract-list")).status_code == 200
    assert world.contract.number not in browser.get(reverse("web:contract-list")).content.decode()
    assert not policy.visible(inspector_user, Contract).exists()
    # Nothing has run: the row is not ended, only past its time.
    grant.refresh_from_db()
    assert grant.ended_at is None


def test_a_second_before_the_end_time_the_inspector_still_reads(world, grant, inspector_user, monkeypatch):
    at(monkeypatch, grant.expires_at - dt.timedelta(seconds=1))
    assert token_client(inspector_user).get(f"/api/v1/contracts/{world.contract.pk}").status_code == 200


def test_the_policy_decides_membership_in_one_query(world, grant, inspector_user, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert policy.role_in(inspector_user, world.contract) == Role.AUDITOR
    with django_assert_num_queries(1):
        assert list(policy.visible(inspector_user, Contract)) == [world.contract]


def test_the_lapsed_inspector_is_no_longer_listed_as_a_member(
    world, grant, inspector_user, monkeypatch, client_for
):
    at(monkeypatch, grant.expires_at + dt.timedelta(seconds=1))
    html = (
        client_for("orderer").get(reverse("web:contract-detail", args=[world.contract.pk])).content.decode()
    )
    members = html.split('id="member-table"')[1].split("</table>")[0]
    assert "auditor" in members and "inspector" not in members


def test_the_tick_ends_lapsed_memberships_for_the_record(world, grant, inspector_user, monkeypatch):
    out = io.StringIO()
    call_command("tick", "--only", "memberships.end_lapsed", stdout=out)
    assert "0 lapsed membership(s) ended" in out.getvalue()
    at(monkeypatch, grant.expires_at + dt.timedelta(minutes=3))
    out = io.StringIO()
    call_command("tick", "--only", "memberships.end_lapsed", stdout=out)
    assert "1 lapsed membership(s) ended" in out.getvalue()
    grant.refresh_from_db()
    assert grant.ended_at == grant.expires_at
    event = AuditEvent.objects.get(action="membership.expire")
    assert event.actor is None and event.actor_label == "system" and event.object_id == str(grant.pk)
    again = io.StringIO()
    call_command("tick", "--only", "memberships.end_lapsed", stdout=again)
    assert "0 lapsed membership(s) ended" in again.getvalue()


def test_a_lapsed_inspector_may_be_granted_again(world, grant, inspector_user, monkeypatch):
    at(monkeypatch, grant.expires_at + dt.timedelta(minutes=1))
    renewed = inspectors.grant_inspector(
        world.contract, acting_user=world.orderer, user=inspector_user, expires_at=timezone.now() + HOUR
    )
    grant.refresh_from_db()
    assert grant.ended_at == grant.expires_at and renewed.pk != grant.pk
    assert AuditEvent.objects.filter(action="membership.expire", object_id=str(grant.pk)).exists()
    assert policy.role_in(inspector_user, world.contract) == Role.AUDITOR


def test_the_orderer_ends_an_inspectors_access_early_in_the_browser(world, grant, inspector_user, client_for):
    response = client_for("orderer").post(
        reverse("oversight:inspector-end", args=[world.contract.pk, grant.pk])
    )
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.ended_at is not None
    with pytest.raises(NotFound):
        policy.require(inspector_user, "contract.view", world.contract)


def test_the_orderer_grants_in_the_browser(world, inspector_user, client_for):
    client = client_for("orderer")
    page = client.get(reverse("oversight:inspectors", args=[world.contract.pk])).content.decode()
    assert "検査員に期限付きの閲覧権限を与える" in page and "inspector" in page
    until = timezone.localtime(timezone.now() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("oversight:inspectors", args=[world.contract.pk]),
        {"user": inspector_user.pk, "expires_at": until},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=inspector_user, contract=world.contract)
    assert timezone.localtime(membership.expires_at).strftime("%Y-%m-%dT%H:%M") == until


def test_the_manager_sees_the_inspectors_but_cannot_grant(world, grant, inspector_user, client_for):
    client = client_for("manager")
    page = client.get(reverse("oversight:inspectors", args=[world.contract.pk])).content.decode()
    assert "inspector" in page and "閲覧権限を与える" not in page
    until = timezone.localtime(timezone.now() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert (
        client.post(
            reverse("oversight:inspectors", args=[world.contract.pk]),
            {"user": inspector_user.pk, "expires_at": until},
        ).status_code
        == 403
    )
