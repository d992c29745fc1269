"""R2.4.1 / P3: no information before the training is acknowledged — one gate in policy.require, for every
information action, whatever the way in."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sekisho.audit.models import AuditEvent
from sekisho.core import policy
from sekisho.core.auth import issue_api_token
from sekisho.core.errors import Conflict, Forbidden, Invalid
from sekisho.core.models import Role
from sekisho.ledger import selectors
from sekisho.people import gates, services
from sekisho.people.models import AckMethod, Acknowledgement, StaffCategory

pytestmark = pytest.mark.django_db


def test_member_not_on_the_roster_is_refused_the_ledger_with_the_clause(world, newcomer):
    user = newcomer()
    with pytest.raises(Forbidden) as exc:
        policy.require(user, "asset.view", world.contract)
    assert (exc.value.code, exc.value.clause) == ("training_required", "R2.4.1")
    assert "名簿に登録されていません" in exc.value.message


@pytest.mark.parametrize(
    "action", sorted(policy.INFORMATION_ACTIONS & {"asset.view", "asset.register", "permit.use"})
)
def test_every_information_action_is_refused_before_acknowledgement(world, listed, programme, action):
    user, _entry = listed()
    with pytest.raises(Forbidden) as exc:
        policy.require(user, action, world.contract)
    assert exc.value.clause == "R2.4.1"
    assert programme.title in exc.value.message, "the refusal names the programme to take"


def test_acknowledging_the_current_version_opens_the_information(world, listed, programme):
    user, entry = listed()
    ack = services.acknowledge(programme, acting_user=user, typed_name=f" {entry.name.replace(' ', '　')} ")
    assert policy.require(user, "asset.view", world.contract) == Role.STAFF
    assert ack.entry == entry and ack.user == user and ack.method == AckMethod.SELF
    assert ack.content_sha256 == programme.current_version.content_sha256
    assert ack.expires_at is not None and ack.expires_at.year == ack.acknowledged_at.year + 1
    event = AuditEvent.objects.filter(contract=world.contract, action="training.acknowledge").last()
    assert event.summary["sha256"] == ack.content_sha256
    assert event.summary["typed_name"] == ack.typed_name


def test_a_typed_name_that_is_not_the_persons_is_refused(world, listed, programme):
    user, _entry = listed()
    with pytest.raises(Invalid) as exc:
        services.acknowledge(programme, acting_user=user, typed_name="別人 太郎")
    assert exc.value.clause == "R2.4.1"
    assert not Acknowledgement.objects.filter(user=user).exists()


def test_a_new_version_must_be_acknowledged_again(world, programme):
    services.publish_version(
        programme, acting_user=world.manager, content="第2版: 端末の持出しを禁止します。"
    )
    with pytest.raises(Forbidden) as exc:
        policy.require(world.staff, "asset.view", world.contract)
    assert exc.value.clause == "R2.4.1"
    programme.refresh_from_db()
    services.acknowledge(
        programme,
        acting_user=world.staff,
        typed_name=world.staff.display_name,
        version_id=programme.current_version_id,
    )
    policy.require(world.staff, "asset.view", world.contract)


def test_acknowledging_a_page_that_showed_an_older_version_is_refused(world, programme):
    old = programme.current_version_id
    services.publish_version(programme, acting_user=world.manager, content="第2版")
    with pytest.raises(Conflict) as exc:
        services.acknowledge(
            programme, acting_user=world.staff, typed_name=world.staff.display_name, version_id=old
        )
    assert exc.value.code == "stale_version"


def test_an_acknowledgement_lapses_at_its_exact_expiry(world, listed, programme, clock):
    user, entry = listed()
    ack = services.acknowledge(programme, acting_user=user, typed_name=entry.name)
    clock(ack.expires_at - dt.timedelta(microseconds=1))
    policy.require(user, "asset.view", world.contract)
    clock(ack.expires_at)
    with pytest.raises(Forbidden) as exc:
        policy.require(user, "asset.view", world.contract)
    assert exc.value.clause == "R2.4.1"


def test_people_who_never_log_in_are_trained_in_a_recorded_session(world, programme):
    director = services.add_to_roster(
        world.contract,
        acting_user=world.manager,
        organisation=world.contractor_org,
        name="倉敷 太郎",
        category=StaffCategory.DIRECTOR,
        started_on=dt.date(2026, 7, 1),
    )
    held = dt.datetime(2026, 7, 1, 10, tzinfo=dt.UTC)
    session = services.record_session(
        programme,
        acting_user=world.manager,
        held_at=held,
        method="classroom",
        instructor="情報管理責任者",
        attendees=[(director, "倉敷　太郎")],
    )
    ack = Acknowledgement.objects.get(entry=director)
    assert (ack.session, ack.method, ack.acknowledged_at, ack.user) == (
        session,
        AckMethod.SESSION,
        held,
        None,
    )
    with pytest.raises(Invalid):
        services.record_session(
            programme,
            acting_user=world.manager,
            held_at=held,
            method="classroom",
            instructor="講師",
            attendees=[(director, "違う 名前")],
        )


def test_orderer_and_auditor_are_not_gated_unless_a_programme_names_their_role(world, programme):
    assert policy.require(world.orderer, "asset.view", world.contract) == Role.ORDERER
    services.configure_programme(
        programme,
        acting_user=world.manager,
        required_roles=[Role.MANAGER, Role.STAFF, Role.ORDERER],
        recurrence_months=12,
        reminder_days=30,
        active=True,
    )
    with pytest.raises(Forbidden):
        policy.require(world.orderer, "asset.view", world.contract)
    policy.require(world.auditor, "asset.view", world.contract)
    services.acknowledge(programme, acting_user=world.orderer, typed_name=world.orderer.display_name)
    policy.require(world.orderer, "asset.view", world.contract)


def test_contractor_staff_without_any_programme_are_refused(world, programme):
    services.configure_programme(
        programme,
        acting_user=world.manager,
        required_roles=[Role.MANAGER],
        recurrence_months=12,
        reminder_days=30,
        active=False,
    )
    with pytest.raises(Forbidden) as exc:
        policy.require(world.staff, "asset.view", world.contract)
    assert exc.value.clause == "R2.4.1"
    assert "研修が設定されていません" in exc.value.message


def test_non_information_actions_are_not_gated(world, newcomer):
    user = newcomer()
    assert policy.require(user, "contract.view", world.contract) == Role.STAFF
    assert policy.require(user, "training.acknowledge", world.contract) == Role.STAFF


def test_the_gate_costs_one_query_for_a_cleared_member(world):
    policy.require(world.staff, "asset.view", world.contract)  # warm
    with CaptureQueriesContext(connection) as ctx:
        policy.require(world.staff, "asset.view", world.contract)
    assert len(ctx.captured_queries) == 2  # the role (policy) and the gate


def test_the_ledger_api_refuses_with_the_clause_in_the_json_body(world, newcomer):
    user = newcomer()
    _token, text = issue_api_token(user, acting_user=user, name="t")
    response = Client(headers={"Authorization": f"Bearer {text}"}).get(
        f"/api/v1/contracts/{world.contract.pk}/assets"
    )
    assert response.status_code == 403
    assert response.json()["clause"] == "R2.4.1"
    assert response.json()["error"] == "training_required"


def test_clearance_lists_what_is_missing(world, listed, programme):
    user, _entry = listed()
    status = gates.clearance(user, world.contract, Role.STAFF)
    assert not status.cleared
    assert [p.id for p in status.missing] == [programme.pk]
    assert gates.clearance(world.staff, world.contract, Role.STAFF).cleared


def test_ledger_selector_still_lists_for_cleared_members(world):
    assert list(selectors.ledger(world.staff, world.contract)) == []
