from __future__ import annotations

import pytest

from sekisho.audit.models import AuditEvent
from sekisho.core import services
from sekisho.core.errors import Conflict, Forbidden, Invalid, NotFound
from sekisho.core.models import Contract, Membership, Role

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

S = Contract.Status


def _events(contract, action):
    return list(AuditEvent.objects.filter(contract=contract, action=action).order_by("index"))


def test_manager_activates_a_draft_contract_and_the_change_is_audited(world):
    services.transition_contract(world.contract, acting_user=world.manager, to_status=S.ACTIVE, note="着手")
    world.contract.refresh_from_db()
    assert world.contract.status == S.ACTIVE
    [event] = _events(world.contract, "contract.transition")
    assert event.summary == {"from": "draft", "to": "active", "note": "着手"}
    assert event.actor == world.manager


@pytest.mark.parametrize("persona", ["staff", "sub_staff", "auditor", "orderer"])
def test_only_the_information_manager_may_activate(world, persona):
    with pytest.raises(Forbidden):
        services.transition_contract(world.contract, acting_user=getattr(world, persona), to_status=S.ACTIVE)
    world.contract.refresh_from_db()
    assert world.contract.status == S.DRAFT


def test_outsider_cannot_transition_and_learns_nothing(world):
    with pytest.raises(NotFound):
        services.transition_contract(world.contract, acting_user=world.outsider, to_status=S.ACTIVE)


def test_transition_outside_the_table_is_a_conflict(world):
    with pytest.raises(Conflict) as exc:
        services.transition_contract(world.contract, acting_user=world.manager, to_status=S.CLOSED)
    assert exc.value.code == "invalid_transition"
    assert _events(world.contract, "contract.transition") == []


def test_full_lifecycle_each_step_by_its_role(world):
    services.transition_contract(world.contract, acting_user=world.manager, to_status=S.ACTIVE)
    services.transition_contract(world.contract, acting_user=world.orderer, to_status=S.CLOSING)
    services.transition_contract(world.contract, acting_user=world.orderer, to_status=S.ACTIVE)
    services.transition_contract(world.contract, acting_user=world.manager, to_status=S.CLOSING)
    with pytest.raises(Forbidden):
        services.transition_contract(world.contract, acting_user=world.manager, to_status=S.CLOSED)
    services.transition_contract(world.contract, acting_user=world.orderer, to_status=S.CLOSED)
    with pytest.raises(Conflict):
        services.transition_contract(world.contract, acting_user=world.orderer, to_status=S.ACTIVE)
    steps = [(e.summary["from"], e.summary["to"]) for e in _events(world.contract, "contract.transition")]
    assert steps == [
        ("draft", "active"),
        ("active", "closing"),
        ("closing", "active"),
        ("active", "closing"),
        ("closing", "closed"),
    ]


def test_service_that_fails_after_writing_leaves_neither_change_nor_event(world, monkeypatch):
    from sekisho.audit import services as audit_services

    real_record = audit_services.record
    before = AuditEvent.objects.count()

    def record_then_fail(**kwargs):
        real_record(**kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "record", record_then_fail)
    with pytest.raises(RuntimeError):
        services.transition_contract(world.contract, acting_user=world.manager, to_status=S.ACTIVE)
    world.contract.refresh_from_db()
    assert world.contract.status == S.DRAFT
    assert AuditEvent.objects.count() == before


def test_audit_failure_undoes_the_change(world, monkeypatch):
    def failing_record(**kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(services, "record", failing_record)
    newcomer = UserFactory(organisation=world.contractor_org)
    with pytest.raises(RuntimeError):
        services.add_member(world.contract, acting_user=world.manager, user=newcomer, role=Role.STAFF)
    assert not Membership.objects.filter(user=newcomer).exists()


def test_manager_adds_contractor_and_subcontractor_staff(world):
    newcomer = UserFactory(organisation=world.sub_org)
    membership = services.add_member(
        world.contract, acting_user=world.manager, user=newcomer, role=Role.STAFF
    )
    assert membership.organisation == world.sub_org
    [event] = [e for e in _events(world.contract, "membership.add") if e.object_id == str(membership.pk)]
    assert event.summary["user"] == newcomer.username


def test_orderer_cannot_add_contractor_staff(world):
    newcomer = UserFactory(organisation=world.contractor_org)
    with pytest.raises(Forbidden):
        services.add_member(world.contract, acting_user=world.orderer, user=newcomer, role=Role.STAFF)


def test_manager_cannot_appoint_an_orderer_officer(world):
    newcomer = UserFactory(organisation=world.orderer_org)
    with pytest.raises(Forbidden):
        services.add_member(world.contract, acting_user=world.manager, user=newcomer, role=Role.ORDERER)


def test_staff_cannot_add_members(world):
    newcomer = UserFactory(organisation=world.contractor_org)
    with pytest.raises(Forbidden):
        services.add_member(world.contract, acting_user=world.staff, user=newcomer, role=Role.STAFF)


def test_information_manager_must_come_from_the_contractor(world):
    newcomer = UserFactory(organisation=world.sub_org)
    with pytest.raises(Invalid) as exc:
        services.add_member(world.contract, acting_user=world.manager, user=newcomer, role=Role.MANAGER)
    assert exc.value.clause == "R2.6.1"


def test_adding_a_current_member_twice_is_a_conflict(world):
    with pytest.raises(Conflict):
        services.add_member(world.contract, acting_user=world.manager, user=world.staff, role=Role.STAFF)


def test_closed_contract_takes_no_new_members(world):
    for actor, to in ((world.manager, S.ACTIVE), (world.orderer, S.CLOSING), (world.orderer, S.CLOSED)):
        services.transition_contract(world.contract, acting_user=actor, to_status=to)
    newcomer = UserFactory(organisation=world.contractor_org)
    with pytest.raises(Conflict):
        services.add_member(world.contract, acting_user=world.manager, user=newcomer, role=Role.STAFF)


def test_ending_a_membership_keeps_the_row_and_allows_a_later_return(world):
    membership = Membership.objects.get(user=world.staff, contract=world.contract)
    services.end_membership(membership, acting_user=world.manager, reason="退職")
    membership.refresh_from_db()
    assert membership.ended_at is not None
    with pytest.raises(Conflict):
        services.end_membership(membership, acting_user=world.manager)
    again = services.add_member(world.contract, acting_user=world.manager, user=world.staff, role=Role.STAFF)
    assert again.pk != membership.pk


def test_nobody_ends_their_own_membership(world):
    membership = Membership.objects.get(user=world.manager, contract=world.contract)
    with pytest.raises(Conflict):
        services.end_membership(membership, acting_user=world.manager)


def test_orderer_cannot_end_contractor_memberships(world):
    membership = Membership.objects.get(user=world.staff, contract=world.contract)
    with pytest.raises(Forbidden):
        services.end_membership(membership, acting_user=world.orderer)


def test_only_the_system_administrator_creates_contracts(world):
    with pytest.raises(Forbidden):
        services.create_contract(
            acting_user=world.manager,
            number="X-1",
            title="x",
            orderer=world.orderer_org,
            contractor=world.contractor_org,
            period_start=world.contract.period_start,
            period_end=world.contract.period_end,
        )


def test_contract_period_must_be_ordered_and_number_unique(world):
    kwargs = dict(
        acting_user=world.admin, title="x", orderer=world.orderer_org, contractor=world.contractor_org
    )
    with pytest.raises(Invalid):
        services.create_contract(
            number="X-2",
            period_start=world.contract.period_end,
            period_end=world.contract.period_start,
            **kwargs,
        )
    with pytest.raises(Conflict):
        services.create_contract(
            number="T-001",
            period_start=world.contract.period_start,
            period_end=world.contract.period_end,
            **kwargs,
        )
    with pytest.raises(Invalid):
        services.create_contract(
            number="X-3",
            period_start=world.contract.period_start,
            period_end=world.contract.period_end,
            **{**kwargs, "orderer": world.contractor_org},
        )


def test_weak_password_is_refused_and_no_user_is_created(world):
    from sekisho.core.models import User

    with pytest.raises(Invalid) as exc:
        services.create_user(acting_user=world.admin, username="weak", password="12345678")
    assert exc.value.code == "weak_password"
    assert not User.objects.filter(username="weak").exists()


def test_appoint_lead_requires_the_right_organisation(world):
    stranger = UserFactory(organisation=world.other_org)
    with pytest.raises(Invalid):
        services.appoint_lead(world.contract, acting_user=world.admin, user=stranger, role=Role.MANAGER)
    with pytest.raises(Invalid):
        services.appoint_lead(world.contract, acting_user=world.admin, user=stranger, role=Role.STAFF)
    with pytest.raises(Forbidden):
        services.appoint_lead(world.contract, acting_user=world.manager, user=stranger, role=Role.MANAGER)
