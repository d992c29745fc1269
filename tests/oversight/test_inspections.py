"""Inspections (検査, R3) through the services: the checklist from the active profile's clauses, pre-filled with
the open compliance findings; results per item; findings with corrective-action requests that the contractor
answers and the orderer closes; completing freezes the inspection."""

from __future__ import annotations

import pytest
from django.utils import timezone

from sekisho.audit.models import AuditEvent
from sekisho.compliance.models import Finding, Severity
from sekisho.compliance.profile import active_profile
from sekisho.core.errors import Conflict, Forbidden, Invalid, NotFound
from sekisho.notifications.models import Notification
from sekisho.oversight import inspections
from sekisho.oversight.models import FindingState, InspectionState, ItemResult

from .conftest import in_days

pytestmark = pytest.mark.django_db


def open_finding(contract, clause: str, subject: str, *, severity: str = Severity.HIGH) -> Finding:
    """A compliance finding as the compliance rules leave one (the rules are that app's to test)."""
    now = timezone.now()
    return Finding.objects.create(
        contract=contract,
        rule=f"test.{clause}.{subject}",
        clause=clause,
        severity=severity,
        subject_type="test",
        subject_id=subject,
        subject_label=subject,
        message="テストの検出事項",
        evidence={},
        first_seen_at=now,
        last_seen_at=now,
    )


def item_of(inspection, clause: str):
    return inspection.items.get(clause_id=clause)


def record_all(inspection, user, result=ItemResult.CONFORMING) -> None:
    for item in inspection.items.all():
        inspections.record_item(item, acting_user=user, result=result, note="確認した")


def test_the_checklist_has_one_item_per_clause_of_the_active_profile(world, inspection):
    profile = active_profile(world.contract)
    assert [i.clause_id for i in inspection.items.order_by("position")] == [c.id for c in profile.clauses]
    first = inspection.items.order_by("position").first()
    assert (
        first.clause_title == profile.clauses[0].title_ja and first.clause_text == profile.clauses[0].text_ja
    )
    assert inspection.profile_key == profile.key and inspection.state == InspectionState.PLANNED
    (event,) = AuditEvent.objects.filter(action="inspection.schedule")
    assert event.summary["items"] == len(profile.clauses)
    assert Notification.objects.filter(user=world.manager, subject__contains="検査の予定").exists()


def test_items_carry_the_open_compliance_findings_of_their_clause(world):
    open_finding(world.contract, "R2.7ア", "PC-001 未承認")
    resolved = open_finding(world.contract, "R2.7ア", "PC-002 解消済")
    resolved.resolved_at = timezone.now()
    resolved.save()
    open_finding(world.other_contract, "R2.7ア", "他契約の端末")
    inspection = inspections.schedule_inspection(
        world.contract, acting_user=world.orderer, title="検査", scheduled_on=timezone.localdate()
    )
    item = item_of(inspection, "R2.7ア")
    assert item.open_findings_total == 1
    assert [f["subject"] for f in item.open_findings] == ["PC-001 未承認"]
    assert item.open_findings[0]["severity"] == "high"
    assert item_of(inspection, "R1.1").open_findings == []


def test_starting_brings_the_findings_up_to_the_day(world, inspection):
    assert item_of(inspection, "R2.4.1").open_findings_total == 0
    open_finding(world.contract, "R2.4.1", "未受講の社員")
    inspections.start_inspection(inspection, acting_user=world.orderer)
    inspection.refresh_from_db()
    assert inspection.state == InspectionState.IN_PROGRESS and inspection.started_at is not None
    assert [f["subject"] for f in item_of(inspection, "R2.4.1").open_findings] == ["未受講の社員"]


@pytest.mark.parametrize("persona", ["manager", "staff", "sub_staff", "auditor"])
def test_only_the_orderer_schedules_and_conducts(world, inspection, persona):
    user = getattr(world, persona)
    with pytest.raises(Forbidden) as refused:
        inspections.schedule_inspection(
            world.contract, acting_user=user, title="検査", scheduled_on=timezone.localdate()
        )
    assert refused.value.clause == "R3"
    with pytest.raises(Forbidden):
        inspections.start_inspection(inspection, acting_user=user)


def test_an_outsider_gets_not_found(world, inspection):
    with pytest.raises(NotFound):
        inspections.start_inspection(inspection, acting_user=world.outsider)
    with pytest.raises(NotFound):
        inspections.schedule_inspection(
            world.contract, acting_user=world.outsider, title="検査", scheduled_on=timezone.localdate()
        )


def test_a_date_before_the_contract_or_a_year_ahead_is_refused(world):
    for day, code in (
        (world.contract.period_start.replace(day=1).replace(month=1), "before_contract"),
        (in_days(400), "too_far"),
    ):
        with pytest.raises(Invalid) as refused:
            inspections.schedule_inspection(
                world.contract, acting_user=world.orderer, title="検査", scheduled_on=day
            )
        assert refused.value.code == code


def test_results_are_recorded_only_while_in_progress(world, inspection):
    item = item_of(inspection, "R1.1")
    with pytest.raises(Conflict) as refused:
        inspections.record_item(item, acting_user=world.orderer, result=ItemResult.CONFORMING)
    assert refused.value.code == "inspection_not_in_progress" and refused.value.clause == "R3"


def test_recording_results_and_a_finding(world, started):
    item = item_of(started, "R2.7エ")
    inspections.record_item(
        item, acting_user=world.orderer, result=ItemResult.NONCONFORMING, note="暗号化なしのUSB"
    )
    finding = inspections.add_finding(
        item,
        acting_user=world.orderer,
        description="暗号化機能のないUSBメモリで図面を運搬していた。",
        corrective_request="暗号化USBに切り替え、記録媒体台帳を更新すること。",
        due_on=in_days(14),
    )
    assert finding.ref == "INS-1-1" and finding.state == FindingState.OPEN
    (event,) = AuditEvent.objects.filter(action="inspection.finding")
    assert event.summary["clause"] == "R2.7エ"
    assert Notification.objects.filter(user=world.manager, subject__contains="是正要求").exists()
    item_event = AuditEvent.objects.get(action="inspection.record_item")
    assert item_event.summary["result"] == "nonconforming" and item_event.summary["note"] == "暗号化なしのUSB"


def test_a_nonconforming_result_needs_a_note_and_a_bad_result_is_refused(world, started):
    item = item_of(started, "R1.1")
    with pytest.raises(Invalid):
        inspections.record_item(item, acting_user=world.orderer, result=ItemResult.NONCONFORMING, note="")
    with pytest.raises(Invalid) as refused:
        inspections.record_item(item, acting_user=world.orderer, result="perfect")
    assert refused.value.code == "bad_result"


def test_a_finding_needs_a_nonconforming_item(world, started):
    item = item_of(started, "R1.1")
    inspections.record_item(item, acting_user=world.orderer, result=ItemResult.CONFORMING)
    with pytest.raises(Conflict) as refused:
        inspections.add_finding(
            item, acting_user=world.orderer, description="指摘", corrective_request="是正", due_on=in_days(7)
        )
    assert refused.value.code == "item_not_nonconforming"


def test_an_item_with_findings_stays_nonconforming(world, started):
    item = item_of(started, "R1.1")
    inspections.record_item(item, acting_user=world.orderer, result=ItemResult.NONCONFORMING, note="不備")
    inspections.add_finding(
        item, acting_user=world.orderer, description="指摘", corrective_request="是正", due_on=in_days(7)
    )
    with pytest.raises(Conflict) as refused:
        inspections.record_item(item, acting_user=world.orderer, result=ItemResult.CONFORMING)
    assert refused.value.code == "item_has_findings"


def test_completing_needs_every_result_and_a_finding_for_each_nonconformity(world, started):
    with pytest.raises(Conflict) as refused:
        inspections.complete_inspection(started, acting_user=world.orderer)
    assert refused.value.code == "items_unrecorded" and refused.value.clause == "R3"
    record_all(started, world.orderer)
    item = item_of(started, "R2.3")
    inspections.record_item(item, acting_user=world.orderer, result=ItemResult.NONCONFORMING, note="無断複写")
    with pytest.raises(Conflict) as bare:
        inspections.complete_inspection(started, acting_user=world.orderer)
    assert bare.value.code == "findings_missing" and "R2.3" in bare.value.message
    inspections.add_finding(
        item,
        acting_user=world.orderer,
        description="無断で複写",
        corrective_request="回収",
        due_on=in_days(7),
    )
    inspections.complete_inspection(started, acting_user=world.orderer, summary="概ね適切")
    started.refresh_from_db()
    assert started.state == InspectionState.COMPLETED and started.summary == "概ね適切"
    (event,) = AuditEvent.objects.filter(action="inspection.complete")
    assert event.summary["findings"] == 1 and event.summary["results"]["nonconforming"] == 1


def test_a_completed_inspection_is_frozen_but_corrective_actions_go_on(world, started):
    record_all(started, world.orderer)
    item = item_of(started, "R2.3")
    inspections.record_item(item, acting_user=world.orderer, result=ItemResult.NONCONFORMING, note="無断複写")
    finding = inspections.add_finding(
        item,
        acting_user=world.orderer,
        description="無断で複写",
        corrective_request="回収",
        due_on=in_days(7),
    )
    inspections.complete_inspection(started, acting_user=world.orderer)
    for call in (
        lambda: inspections.record_item(
            item, acting_user=world.orderer, result=ItemResult.NONCONFORMING, note="再"
        ),
        lambda: inspections.add_finding(
            item, acting_user=world.orderer, description="追加", corrective_request="是正", due_on=in_days(7)
        ),
        lambda: inspections.complete_inspection(started, acting_user=world.orderer),
        lambda: inspections.cancel_inspection(started, acting_user=world.orderer, reason="中止"),
        lambda: inspections.start_inspection(started, acting_user=world.orderer),
    ):
        with pytest.raises(Conflict) as refused:
            call()
        assert refused.value.clause == "R3"
    inspections.respond_to_finding(finding, acting_user=world.manager, response="複写物を回収し廃棄した。")
    finding.refresh_from_db()
    assert finding.state == FindingState.ANSWERED and finding.responded_by == world.manager
    assert Notification.objects.filter(user=world.orderer, subject__contains="是正の報告").exists()
    inspections.reopen_finding(
        finding, acting_user=world.orderer, instruction="廃棄証明を添えること", due_on=in_days(5)
    )
    finding.refresh_from_db()
    assert finding.state == FindingState.OPEN and finding.due_on == in_days(5)
    inspections.respond_to_finding(finding, acting_user=world.manager, response="廃棄証明を提出した。")
    inspections.close_finding(finding, acting_user=world.orderer, note="確認した")
    finding.refresh_from_db()
    assert finding.state == FindingState.CLOSED and finding.closed_by == world.orderer
    actions = [
        e.action
        for e in AuditEvent.objects.filter(object_type="oversight.inspectionfinding").order_by("index")
    ]
    assert actions == [
        "inspection.finding",
        "inspection.finding_response",
        "inspection.finding_reopen",
        "inspection.finding_response",
        "inspection.finding_close",
    ]
    with pytest.raises(Conflict):
        inspections.respond_to_finding(finding, acting_user=world.manager, response="再報告")


@pytest.fixture
def finding(world, started):
    item = item_of(started, "R2.6.2ア")
    inspections.record_item(
        item, acting_user=world.orderer, result=ItemResult.NONCONFORMING, note="OS更新なし"
    )
    return inspections.add_finding(
        item,
        acting_user=world.orderer,
        description="OS更新の未適用",
        corrective_request="更新適用",
        due_on=in_days(7),
    )


@pytest.mark.parametrize("persona", ["orderer", "staff", "sub_staff", "auditor"])
def test_only_the_manager_reports_the_correction(world, finding, persona):
    with pytest.raises(Forbidden) as refused:
        inspections.respond_to_finding(finding, acting_user=getattr(world, persona), response="対応した")
    assert refused.value.clause == "R3"


@pytest.mark.parametrize("persona", ["manager", "staff", "auditor"])
def test_only_the_orderer_closes_or_reopens(world, finding, persona):
    inspections.respond_to_finding(finding, acting_user=world.manager, response="対応した")
    with pytest.raises(Forbidden):
        inspections.close_finding(finding, acting_user=getattr(world, persona))
    with pytest.raises(Forbidden):
        inspections.reopen_finding(
            finding, acting_user=getattr(world, persona), instruction="再", due_on=in_days(3)
        )


def test_an_unanswered_finding_cannot_be_closed(world, finding):
    with pytest.raises(Conflict) as refused:
        inspections.close_finding(finding, acting_user=world.orderer)
    assert refused.value.code == "invalid_transition" and refused.value.clause == "R3"


def test_an_outsider_cannot_touch_a_finding(world, finding):
    with pytest.raises(NotFound):
        inspections.respond_to_finding(finding, acting_user=world.outsider, response="x")


def test_cancelling_a_planned_inspection(world, inspection):
    inspections.cancel_inspection(inspection, acting_user=world.orderer, reason="日程変更")
    inspection.refresh_from_db()
    assert inspection.state == InspectionState.CANCELLED
    assert AuditEvent.objects.get(action="inspection.cancel").summary["reason"] == "日程変更"
    assert Notification.objects.filter(user=world.manager, subject__contains="検査の中止").exists()
    with pytest.raises(Conflict) as again:
        inspections.start_inspection(inspection, acting_user=world.orderer)
    assert again.value.code == "invalid_transition"


def test_an_inspection_with_findings_cannot_be_cancelled(world, finding):
    with pytest.raises(Conflict) as refused:
        inspections.cancel_inspection(finding.inspection, acting_user=world.orderer, reason="中止")
    assert refused.value.code == "has_findings"
    finding.inspection.refresh_from_db()
    assert finding.inspection.state == InspectionState.IN_PROGRESS
