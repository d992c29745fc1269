"""The gate's hand-written query (people.gates._status) answers exactly as the same question put through the
ORM, in every state a member can be in: on the roster or not, trained or not, leaving now, later or
elsewhere, subcontracted with or without permits, flow-down and P8 consent."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from sekisho.core.models import Contract, Membership, Role
from sekisho.people import gates, services, subcontracts
from sekisho.people.models import LeavingKind, RosterEntry, Subcontract
from sekisho.permits import services as permits
from sekisho.permits.models import PermitState

from ..factories import PERIOD
from .clearing import permit_subcontract

pytestmark = pytest.mark.django_db

REAL_LOCALDATE = timezone.localdate  # before any test pins "today"


def _in_force(prefix: str, today: dt.date) -> Q:
    return Q(
        **{
            f"{prefix}__state": PermitState.APPROVED,
            f"{prefix}__valid_from__lte": today,
            f"{prefix}__valid_until__gte": today,
        }
    )


def orm_status(user: Any, contract: Contract, role: str, now: dt.datetime) -> dict[str, Any] | None:
    """The gate's question through the ORM: the reference the SQL must agree with."""
    today = timezone.localdate(now)
    entry = RosterEntry.objects.filter(contract_id=contract.pk, user_id=user.pk)
    required = gates.required_programmes(contract, role)
    subs = Subcontract.objects.filter(contract_id=contract.pk, organisation_id=OuterRef("organisation_id"))
    row = (
        Membership.objects.current(now)
        .filter(user_id=user.pk, contract_id=contract.pk)
        .annotate(
            entry_id=Subquery(entry.values("pk")[:1]),
            has_left=Exists(entry.filter(left_at__lte=now)),
            retired=Exists(
                RosterEntry.objects.filter(
                    user_id=user.pk, leaving_kind=LeavingKind.RETIRED, left_at__lte=now
                )
            ),
            any_required=Exists(required),
            any_missing=Exists(required.exclude(Exists(gates.current_acknowledgements(user, contract, now)))),
            sub_exists=Exists(subs),
            sub_permitted=Exists(subs.filter(_in_force("permit", today))),
            sub_flowed_down=Exists(subs.filter(flowdown_at__isnull=False)),
            pi_consent=Exists(subs.filter(_in_force("pi_permit", today))),
        )
        .values("organisation_id", "organisation__kind", *gates._STATUS_KEYS[2:])
        .first()
    )
    return row


def assert_same(user, contract, role, now=None) -> dict[str, Any] | None:
    now = now or timezone.now()
    sql = gates._status(user, contract, role, now)
    assert sql == orm_status(user, contract, role, now)
    return sql


ROLES = (Role.ORDERER, Role.MANAGER, Role.STAFF, Role.AUDITOR)


def test_the_worlds_members_as_they_are(world):
    for name in ("orderer", "manager", "staff", "sub_staff", "auditor"):
        user = getattr(world, name)
        for role in ROLES:
            assert_same(user, world.contract, role)
    row = assert_same(world.sub_staff, world.contract, Role.STAFF)
    assert row is not None and row["sub_permitted"] and row["sub_flowed_down"] and not row["pi_consent"]


def test_non_members_have_no_row(world):
    assert assert_same(world.outsider, world.contract, Role.STAFF) is None
    assert assert_same(world.staff, world.other_contract, Role.STAFF) is None


def test_not_on_the_roster_and_not_trained(world, newcomer, listed):
    assert assert_same(newcomer(), world.contract, Role.STAFF)["entry_id"] is None
    user, _entry = listed()
    row = assert_same(user, world.contract, Role.STAFF)
    assert row["entry_id"] is not None and row["any_required"] and row["any_missing"]


def test_leaving_at_its_exact_time_and_retirement_elsewhere(world, freeze_today):
    entry = RosterEntry.objects.get(contract=world.contract, user=world.staff)
    when = timezone.now().replace(microsecond=0) + dt.timedelta(minutes=5)
    services.record_leaving(entry, acting_user=world.manager, left_at=when, kind=LeavingKind.RETIRED)
    before = assert_same(world.staff, world.contract, Role.STAFF, when - dt.timedelta(microseconds=1))
    at = assert_same(world.staff, world.contract, Role.STAFF, when)
    assert (before["has_left"], before["retired"]) == (False, False)
    assert (at["has_left"], at["retired"]) == (True, True)


def test_a_lapsed_acknowledgement_and_a_new_version(world, programme):
    row = assert_same(world.staff, world.contract, Role.STAFF)
    assert not row["any_missing"]
    services.publish_version(programme, acting_user=world.manager, content="第2版")
    assert assert_same(world.staff, world.contract, Role.STAFF)["any_missing"]
    programme.refresh_from_db()
    ack = services.acknowledge(programme, acting_user=world.staff, typed_name=world.staff.display_name)
    assert not assert_same(world.staff, world.contract, Role.STAFF, ack.expires_at - dt.timedelta(seconds=1))[
        "any_missing"
    ]
    assert assert_same(world.staff, world.contract, Role.STAFF, ack.expires_at)["any_missing"]


def test_an_inactive_programme_requires_nothing(world, programme):
    services.configure_programme(
        programme,
        acting_user=world.manager,
        required_roles=[Role.MANAGER],
        recurrence_months=12,
        reminder_days=30,
        active=False,
    )
    for role in ROLES:
        assert not assert_same(world.staff, world.contract, role)["any_required"]


def test_subcontracts_through_their_permits(world, newcomer, other_sub_org, freeze_today, monkeypatch):
    user = newcomer(other_sub_org)
    row = assert_same(user, world.contract, Role.STAFF)
    assert (row["sub_exists"], row["sub_permitted"]) == (False, False)
    sub = subcontracts.request_subcontract(
        world.contract,
        acting_user=world.manager,
        organisation=other_sub_org,
        scope="清掃",
        responsible_name=user.display_name,
        reason="専門業者",
        valid_from=PERIOD[0],
        valid_until=PERIOD[1],
        personal_info=True,
    )
    row = assert_same(user, world.contract, Role.STAFF)
    assert (row["sub_exists"], row["sub_permitted"], row["pi_consent"]) == (True, False, False)
    permits.decide_permit(sub.permit, acting_user=world.orderer, approve=True)
    permits.decide_permit(sub.pi_permit, acting_user=world.orderer, approve=True)
    row = assert_same(user, world.contract, Role.STAFF)
    assert (row["sub_permitted"], row["sub_flowed_down"], row["pi_consent"]) == (True, False, True)
    # The day decides whether a permit is in force, in both: the last day of validity, and the day after.
    monkeypatch.setattr(timezone, "localdate", REAL_LOCALDATE)
    last = dt.datetime.combine(PERIOD[1], dt.time(3), tzinfo=dt.UTC)
    row = assert_same(user, world.contract, Role.STAFF, last)
    assert (row["sub_permitted"], row["pi_consent"]) == (True, True)
    late = last + dt.timedelta(days=1)
    row = assert_same(user, world.contract, Role.STAFF, late)
    assert (row["sub_permitted"], row["pi_consent"]) == (False, False)


def test_a_permitted_and_flowed_down_subcontractor(world, newcomer, other_sub_org, freeze_today):
    user = newcomer(other_sub_org)
    sub = permit_subcontract(world, other_sub_org, user)
    row = assert_same(user, world.contract, Role.STAFF)
    assert (row["sub_permitted"], row["sub_flowed_down"]) == (True, False)
    subcontracts.acknowledge_flowdown(sub, acting_user=user, typed_name=user.display_name)
    row = assert_same(user, world.contract, Role.STAFF)
    assert (row["sub_permitted"], row["sub_flowed_down"]) == (True, True)


def test_each_api_request_is_answered_with_the_clearance_of_its_moment(world, programme, monkeypatch):
    """Nothing about clearance is kept between requests: a new version, the acknowledgement and a leaving time
    count from the request after them (R2.4.1, R2.4.2)."""
    from django.test import Client

    from sekisho.core.auth import issue_api_token

    _token, text = issue_api_token(world.staff, acting_user=world.staff, name="t")
    api = Client(headers={"Authorization": f"Bearer {text}"})
    url = f"/api/v1/contracts/{world.contract.pk}/assets"
    assert api.get(url).status_code == 200
    services.publish_version(programme, acting_user=world.manager, content="第2版")
    refused = api.get(url)
    assert (refused.status_code, refused.json()["clause"]) == (403, "R2.4.1")
    programme.refresh_from_db()
    services.acknowledge(programme, acting_user=world.staff, typed_name=world.staff.display_name)
    assert api.get(url).status_code == 200
    when = timezone.now().replace(microsecond=0) + dt.timedelta(minutes=5)
    entry = RosterEntry.objects.get(contract=world.contract, user=world.staff)
    services.record_leaving(entry, acting_user=world.manager, left_at=when, kind=LeavingKind.REASSIGNED)
    assert api.get(url).status_code == 200
    monkeypatch.setattr(timezone, "now", lambda: when)
    gone = api.get(url)
    assert (gone.status_code, gone.json()["error"], gone.json()["clause"]) == (403, "left", "R2.4.2")
