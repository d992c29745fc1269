"""Evaluation: the upsert of findings (kept, resolved, reopened), its audit event, the daily snapshot, the
scheduled run, who may run it — and its cost: the same number of queries for 5 rows as for 50."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sekisho.audit.models import AuditEvent
from sekisho.compliance.models import ComplianceSnapshot, Finding
from sekisho.compliance.services import evaluate_all, evaluate_contract
from sekisho.core import services as core
from sekisho.core.errors import Forbidden, NotFound
from sekisho.core.models import Contract, Role
from sekisho.ledger.models import Asset, LocationKind
from tests.factories import UserFactory
from tests.people.clearing import clear_contract

from .conftest import electronic, evaluate, one_open, open_findings
from .populate import Sizes, populate

pytestmark = pytest.mark.django_db


def _misplace(asset: Asset) -> None:
    Asset.objects.filter(pk=asset.pk).update(location_kind=LocationKind.DEVICE, location="PC")


def _restore(asset: Asset) -> None:
    Asset.objects.filter(pk=asset.pk).update(location_kind=LocationKind.VAULT, location="")


def test_a_finding_still_present_keeps_its_first_seen_time(world):
    asset = electronic(world, important=True)
    _misplace(asset)
    first = timezone.now()
    evaluate(world, now=first)
    finding = one_open(world, "important_outside_vault")
    second = first + dt.timedelta(hours=6)
    result = evaluate(world, now=second)
    finding.refresh_from_db()
    assert finding.first_seen_at == first and finding.last_seen_at == second
    assert result.opened == [] and result.resolved == [] and result.open_count == 1
    assert Finding.objects.filter(contract=world.contract).count() == 1


def test_a_recurrence_opens_a_new_finding_and_keeps_the_resolved_one(world):
    asset = electronic(world, important=True)
    _misplace(asset)
    evaluate(world)
    first = one_open(world, "important_outside_vault")
    _restore(asset)
    result = evaluate(world)
    assert [f.pk for f in result.resolved] == [first.pk]
    _misplace(asset)
    evaluate(world)
    second = one_open(world, "important_outside_vault")
    first.refresh_from_db()
    assert second.pk != first.pk and first.resolved_at is not None
    assert second.first_seen_at > first.first_seen_at


def test_a_changed_breach_updates_the_open_finding_in_place(world):
    asset = electronic(world, important=True)
    _misplace(asset)
    evaluate(world)
    finding = one_open(world, "important_outside_vault")
    Asset.objects.filter(pk=asset.pk).update(location="外付けディスク")
    evaluate(world)
    finding.refresh_from_db()
    assert finding.resolved_at is None and finding.evidence["location"] == "外付けディスク"


def test_an_evaluation_that_changes_findings_is_audited_and_one_that_does_not_is_not(world):
    asset = electronic(world, important=True)
    _misplace(asset)
    before = AuditEvent.objects.filter(contract=world.contract, action="compliance.evaluate").count()
    evaluate(world)
    events = AuditEvent.objects.filter(contract=world.contract, action="compliance.evaluate")
    assert events.count() == before + 1
    event = events.latest("index")
    assert event.actor.username == "sekisho-admin"  # the scheduled run acts as the system account
    assert event.summary["opened"] == 1 and event.summary["scheduled"] is True
    assert event.summary["opened_findings"][0]["clause"] == "R2.7ウ"
    evaluate(world)
    assert events.count() == before + 1
    _restore(asset)
    evaluate_contract(world.contract, acting_user=world.orderer)
    event = events.latest("index")
    assert (event.actor, event.summary["resolved"], event.summary["scheduled"]) == (world.orderer, 1, False)


def test_the_daily_snapshot_is_one_row_per_day_with_the_latest_figures(world):
    asset = electronic(world, important=True)
    evaluate(world)
    _misplace(asset)
    evaluate(world)
    snapshots = ComplianceSnapshot.objects.filter(contract=world.contract)
    assert snapshots.count() == 1
    snap = snapshots.get()
    assert (snap.open_high, snap.open_medium, snap.open_low, snap.open_incidents) == (1, 0, 0, 0)
    assert float(snap.training_coverage) == 100.0
    evaluate(world, now=timezone.now() + dt.timedelta(days=1))
    assert snapshots.count() == 2


def test_the_scheduled_run_evaluates_every_contract_not_closed(world):
    assert evaluate_all() == 2
    assert ComplianceSnapshot.objects.filter(contract__in=[world.contract, world.other_contract]).count() == 2
    Contract.objects.filter(pk=world.other_contract.pk).update(status=Contract.Status.CLOSED)
    assert evaluate_all() == 1


@pytest.mark.parametrize("persona", ["orderer", "manager"])
def test_orderer_and_manager_may_evaluate_on_demand(world, persona):
    result = evaluate_contract(world.contract, acting_user=getattr(world, persona))
    assert result.contract_id == world.contract.pk


@pytest.mark.parametrize("persona", ["staff", "sub_staff", "auditor"])
def test_others_of_the_contract_may_not_evaluate(world, persona):
    with pytest.raises(Forbidden) as exc:
        evaluate_contract(world.contract, acting_user=getattr(world, persona))
    assert exc.value.status == 403 and exc.value.clause == "R3"
    assert not ComplianceSnapshot.objects.filter(contract=world.contract).exists()


def test_an_outsider_is_told_nothing_exists(world):
    with pytest.raises(NotFound):
        evaluate_contract(world.contract, acting_user=world.outsider)


# --- the cost ----------------------------------------------------------------------------------------------


def _contract_of_size(world, number: str, n: int) -> Contract:
    admin = world.admin
    contract = core.create_contract(
        acting_user=admin,
        number=number,
        title=f"件数{n}の業務",
        orderer=world.orderer_org,
        contractor=world.contractor_org,
        period_start=world.contract.period_start,
        period_end=world.contract.period_end,
    )
    manager = UserFactory(username=f"m{number}", organisation=world.contractor_org)
    staff = UserFactory(username=f"s{number}", organisation=world.contractor_org)
    core.appoint_lead(contract, acting_user=admin, user=world.orderer, role=Role.ORDERER)
    core.appoint_lead(contract, acting_user=admin, user=manager, role=Role.MANAGER)
    core.add_member(contract, acting_user=manager, user=staff, role=Role.STAFF)
    clear_contract(contract, manager, [staff])
    populate(contract, manager, staff, Sizes.scaled(n), tag=number)
    return contract


def _queries(contract: Contract) -> int:
    with CaptureQueriesContext(connection) as captured:
        evaluate_contract(contract)
    return len(captured.captured_queries)


def test_a_full_evaluation_costs_the_same_queries_for_5_or_50_of_everything(world):
    small = _contract_of_size(world, "Q-5", 5)
    large = _contract_of_size(world, "Q-50", 50)
    first_small, first_large = _queries(small), _queries(large)
    assert first_small == first_large
    # Every rule found something, and the large contract ten times as much of most.
    rules = set(Finding.objects.filter(contract=large).values_list("rule", flat=True))
    assert {
        "important_outside_vault",
        "personal_without_purpose",
        "copy_permit_lapsed",
        "device_approval_expired",
        "device_posture_failing",
        "training_missing",
        "leaver_exit_ack",
        "subcontract_flowdown",
        "incident_deadline_passed",
    } <= rules
    assert Finding.objects.filter(contract=large).count() > 5 * Finding.objects.filter(contract=small).count()
    # Again, with nothing new: a run that only keeps its findings costs the same for both as well.
    assert _queries(small) == _queries(large)


def test_the_populated_contract_breaks_each_clause_the_expected_number_of_times(world):
    contract = _contract_of_size(world, "Q-20", 20)
    evaluate_contract(contract)
    by_rule = dict(
        Finding.objects.filter(contract=contract, resolved_at__isnull=True)
        .values_list("rule")
        .annotate(n=Count("pk"))
    )
    assert by_rule["important_outside_vault"] == 2  # n % 10 == 1
    assert by_rule["copy_permit_lapsed"] == 2  # n % 10 == 3
    assert by_rule["personal_without_purpose"] == 2  # n % 10 == 2
    assert by_rule["subcontract_flowdown"] == 10
    assert by_rule["incident_deadline_passed"] == 20  # each incident's 速報
    assert open_findings(world, "training_missing") == []  # the world's own contract is untouched
