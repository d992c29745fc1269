"""Each rule over people and incidents: a state that breaks the clause yields the finding; putting it right
resolves it (resolved_at set)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from sekisho.compliance.selectors import open_findings_by_clause
from sekisho.core import services as core
from sekisho.core.models import Contract, Organisation, Role
from sekisho.incidents import services as incidents
from sekisho.incidents.models import Incident
from sekisho.ledger.models import PersonalCategory
from sekisho.people import pledges, subcontracts
from sekisho.people import services as people
from sekisho.people.models import AppointmentKind, LeavingKind, Programme, RosterEntry
from sekisho.permits import services as permits
from tests.factories import OrganisationFactory, UserFactory
from tests.people.clearing import on_roster

from .conftest import evaluate, one_open, open_findings, resolved

pytestmark = pytest.mark.django_db


def _programme(world) -> Programme:
    return Programme.objects.get(contract=world.contract)


# --- R2.4.1 / P3: training before access -------------------------------------------------------------------


def test_new_member_without_training_is_a_finding_until_rostered_and_acknowledged(world):
    newcomer = UserFactory(username="newcomer", display_name="新人 一郎", organisation=world.contractor_org)
    core.add_member(world.contract, acting_user=world.manager, user=newcomer, role=Role.STAFF)
    result = evaluate(world)
    unrostered = one_open(world, "training_missing")
    assert (unrostered.clause, unrostered.subject_type, unrostered.severity) == (
        "R2.4.1",
        "core.membership",
        "high",
    )
    assert unrostered in open_findings_by_clause(world.contract)["P3"]
    assert result.training_coverage < 100
    entry = on_roster(world.contract, newcomer, acting_user=world.manager)
    evaluate(world)
    resolved(unrostered)
    untrained = one_open(world, "training_missing")
    assert (untrained.subject_type, untrained.subject_id) == ("people.rosterentry", str(entry.pk))
    assert untrained.evidence["missing"] == [_programme(world).title]
    people.acknowledge(_programme(world), acting_user=newcomer, typed_name="新人 一郎")
    result = evaluate(world)
    resolved(untrained)
    assert result.training_coverage == 100.0


def test_a_new_version_of_the_training_makes_everyone_a_finding_again(world):
    evaluate(world)
    people.publish_version(_programme(world), acting_user=world.manager, content="改訂版: 端末の持出し禁止")
    result = evaluate(world)
    entries = {f.subject_id for f in open_findings(world, "training_missing")}
    assert len(entries) == 3  # manager, staff and sub_staff must acknowledge the new text
    assert result.training_coverage == 0.0
    for user in (world.manager, world.staff, world.sub_staff):
        people.acknowledge(_programme(world), acting_user=user, typed_name=user.display_name)
    evaluate(world)
    assert open_findings(world, "training_missing") == []


def test_roster_person_who_never_logs_in_still_needs_the_training(world):
    entry = people.add_to_roster(
        world.contract,
        acting_user=world.manager,
        organisation=world.contractor_org,
        name="現場 作業員",
        category="temporary",
        started_on=timezone.localdate(),
    )
    evaluate(world)
    finding = one_open(world, "training_missing")
    assert (finding.subject_id, finding.severity, finding.evidence["logs_in"]) == (
        str(entry.pk),
        "medium",
        False,
    )
    people.record_leaving(
        entry,
        acting_user=world.manager,
        left_at=timezone.now(),
        kind=LeavingKind.REASSIGNED,
        exit_ack_name="現場 作業員",
    )
    evaluate(world)
    resolved(finding)


# --- R2.4.2 / P3: leavers' continuing obligations ------------------------------------------------------------


def test_leaver_without_the_exit_acknowledgement_is_a_finding_until_it_is_recorded(world):
    entry = RosterEntry.objects.get(contract=world.contract, user=world.staff)
    people.record_leaving(entry, acting_user=world.manager, left_at=timezone.now(), kind=LeavingKind.RETIRED)
    evaluate(world)
    finding = one_open(world, "leaver_exit_ack")
    assert (finding.clause, finding.severity) == ("R2.4.2", "low")
    assert finding in open_findings_by_clause(world.contract)["P3"]
    people.acknowledge_exit_obligations(entry, acting_user=world.manager, typed_name=entry.name)
    evaluate(world)
    resolved(finding)


# --- R2.4.3: subcontractors ----------------------------------------------------------------------------------------


def _new_subcontract(world):
    org = OrganisationFactory(name="株式会社追加測量", kind=Organisation.Kind.SUBCONTRACTOR)
    today = timezone.localdate()
    sub = subcontracts.request_subcontract(
        world.contract,
        acting_user=world.manager,
        organisation=org,
        scope="追加の現地測量",
        responsible_name="測量 次郎",
        reason="専門業者に委託するため",
        valid_from=today - dt.timedelta(days=1),
        valid_until=today + dt.timedelta(days=60),
    )
    permits.decide_permit(sub.permit, acting_user=world.orderer, approve=True)
    sub.refresh_from_db()
    return sub


def test_subcontractor_without_the_flow_down_is_a_finding_until_acknowledged(world):
    sub = _new_subcontract(world)
    evaluate(world)
    finding = one_open(world, "subcontract_flowdown")
    assert (finding.clause, finding.subject_id, finding.severity) == ("R2.4.3", str(sub.pk), "medium")
    people.add_to_roster(
        world.contract,
        acting_user=world.manager,
        organisation=sub.organisation,
        name="測量 三郎",
        category="employee",
        started_on=timezone.localdate(),
    )
    evaluate(world)
    finding.refresh_from_db()
    assert finding.resolved_at is None and finding.severity == "high", "its people are at work now"
    subcontracts.acknowledge_flowdown(sub, acting_user=world.manager, typed_name="測量 次郎")
    evaluate(world)
    resolved(finding)


def test_subcontractor_working_on_after_its_permit_was_revoked_is_a_finding_until_it_leaves(world):
    sub = world.contract.subcontracts.get(organisation=world.sub_org)
    evaluate(world)
    assert open_findings(world, "subcontract_permit_lapsed") == []
    permits.revoke_permit(sub.permit, acting_user=world.orderer, note="再委託の取りやめ")
    evaluate(world)
    finding = one_open(world, "subcontract_permit_lapsed")
    assert (finding.clause, finding.severity, finding.evidence["permit_state"]) == (
        "R2.4.3",
        "high",
        "revoked",
    )
    entry = RosterEntry.objects.get(contract=world.contract, user=world.sub_staff)
    people.record_leaving(
        entry,
        acting_user=world.manager,
        left_at=timezone.now(),
        kind=LeavingKind.REASSIGNED,
        exit_ack_name=entry.name,
    )
    evaluate(world)
    resolved(finding)


# --- R2.6.1 / P4: managers and the pledge ------------------------------------------------------------------------


def _activate(world) -> None:
    core.transition_contract(world.contract, acting_user=world.manager, to_status=Contract.Status.ACTIVE)
    world.contract.refresh_from_db()


def test_active_contract_whose_pledge_went_stale_is_a_finding_until_signed_again(world):
    _activate(world)
    evaluate(world)
    assert open_findings(world, "managers_and_pledge") == []
    # A new personal-information manager supersedes the signed pledge.
    staff_entry = RosterEntry.objects.get(contract=world.contract, user=world.staff)
    pledges.appoint(
        world.contract, acting_user=world.manager, kind=AppointmentKind.PI_MANAGER, entry=staff_entry
    )
    evaluate(world)
    finding = one_open(world, "managers_and_pledge")
    assert (finding.clause, finding.subject_type, finding.severity) == ("R2.6.1", "people.pledge", "high")
    pledges.sign_pledge(
        world.contract,
        acting_user=world.manager,
        addressee="倉敷市長",
        representative="代表取締役 試験 太郎",
        typed_name=world.manager.display_name,
    )
    evaluate(world)
    resolved(finding)


def test_pi_manager_whose_leaving_time_came_is_a_p4_finding_until_replaced(world):
    _activate(world)
    staff_entry = RosterEntry.objects.get(contract=world.contract, user=world.staff)
    pledges.appoint(
        world.contract, acting_user=world.manager, kind=AppointmentKind.PI_MANAGER, entry=staff_entry
    )
    # Leaving at the end of the day: the appointment stands until the tick carries the leaving out.
    people.record_leaving(
        staff_entry,
        acting_user=world.manager,
        left_at=timezone.now() + dt.timedelta(hours=1),
        kind=LeavingKind.REASSIGNED,
        exit_ack_name=staff_entry.name,
    )
    later = timezone.now() + dt.timedelta(hours=2)
    evaluate(world, now=later)
    found = {f.subject_type: f for f in open_findings(world, "managers_and_pledge")}
    appointment = found["people.appointment"]
    assert (appointment.clause, appointment.evidence["problem"]) == ("P4", "appointee_left")
    manager_entry = RosterEntry.objects.get(contract=world.contract, user=world.manager)
    pledges.appoint(
        world.contract, acting_user=world.manager, kind=AppointmentKind.PI_MANAGER, entry=manager_entry
    )
    evaluate(world, now=later)
    resolved(appointment)


def test_missing_pi_manager_is_a_p4_finding(world):
    _activate(world)
    staff_entry = RosterEntry.objects.get(contract=world.contract, user=world.staff)
    pledges.appoint(
        world.contract, acting_user=world.manager, kind=AppointmentKind.PI_MANAGER, entry=staff_entry
    )
    people.record_leaving(
        staff_entry,
        acting_user=world.manager,
        left_at=timezone.now(),
        kind=LeavingKind.REASSIGNED,
        exit_ack_name=staff_entry.name,
    )
    evaluate(world)
    found = {f.subject_type: f for f in open_findings(world, "managers_and_pledge")}
    assert (found["people.appointment"].clause, found["people.appointment"].evidence["problem"]) == (
        "P4",
        "not_appointed",
    )
    assert found["people.pledge"].clause == "R2.6.1"


def test_a_draft_contract_is_not_held_to_the_pledge_yet(world):
    staff_entry = RosterEntry.objects.get(contract=world.contract, user=world.staff)
    pledges.appoint(
        world.contract, acting_user=world.manager, kind=AppointmentKind.PI_MANAGER, entry=staff_entry
    )
    evaluate(world)
    assert open_findings(world, "managers_and_pledge") == []


# --- R2.8.1 / R2.8.2 / P10: incidents past their deadlines -------------------------------------------------------


def _leak(world, days_ago: int) -> Incident:
    return incidents.report_incident(
        world.contract,
        acting_user=world.staff,
        data=incidents.IncidentData(
            kind="loss",
            title="USBメモリの紛失",
            description="現地調査の帰りに紛失",
            detected_at=timezone.now() - dt.timedelta(days=days_ago),
            has_personal_info=True,
            personal_categories=[PersonalCategory.NAME, PersonalCategory.ADDRESS],
            personal_count=150,
        ),
    )


def test_overdue_prompt_report_is_a_p10_finding_until_recorded(world):
    incident = _leak(world, days_ago=20)  # three business days have passed even across the year-end closure
    evaluate(world)
    finding = one_open(world, "incident_deadline_passed")
    assert (finding.clause, finding.subject_id) == ("P10", f"{incident.pk}:prompt_report")
    assert finding.evidence["deadline"] == "prompt_report"
    incidents.record_authority_report(
        incident, acting_user=world.orderer, stage="prompt", reported_on=timezone.localdate()
    )
    evaluate(world)
    resolved(finding)


def test_final_report_and_investigation_overdue_after_thirty_days(world):
    incident = _leak(world, days_ago=2)
    incidents.record_authority_report(
        incident, acting_user=world.orderer, stage="prompt", reported_on=timezone.localdate()
    )
    later = timezone.now() + dt.timedelta(days=45)
    evaluate(world, now=later)
    final = one_open(world, "incident_deadline_passed")
    assert (final.clause, final.evidence["deadline"]) == ("P10", "final_report")
    investigation = one_open(world, "incident_investigation_overdue")
    assert (investigation.clause, investigation.severity) == ("R2.8.2", "medium")
    incident = incidents.start_investigation(incident, acting_user=world.manager, note="聞き取り")
    incident = incidents.record_cause(incident, acting_user=world.manager, cause="鞄の口が開いていた")
    incident = incidents.record_corrective_measures(incident, acting_user=world.manager, measures="遺失届")
    incidents.record_prevention(incident, acting_user=world.manager, prevention="暗号化USBに限定")
    evaluate(world, now=later)
    resolved(investigation)
    assert final.resolved_at is None


def test_incident_the_orderer_was_never_told_of_is_an_r2_8_1_finding_until_notified(world):
    incident = _leak(world, days_ago=1)
    # No orderer officer was reachable when it was reported (the notification is still to be sent).
    Incident.objects.filter(pk=incident.pk).update(notified_at=None, state="reported")
    evaluate(world)
    found = {f.evidence["deadline"]: f for f in open_findings(world, "incident_deadline_passed")}
    notice = found["orderer_notice"]
    assert (notice.clause, notice.severity) == ("R2.8.1", "high")
    incidents.notify_orderer(Incident.objects.get(pk=incident.pk), acting_user=world.manager)
    evaluate(world)
    resolved(notice)
