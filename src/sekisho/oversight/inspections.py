"""Inspections (検査, R3). Each step checks the access policy, enforces the state tables, writes the rows and
appends the audit event in one transaction.

The flow
    - an orderer officer schedules an inspection: the checklist is made from the clauses of the contract's
      active profile (the regulation as the orderer loaded it), each item carrying the compliance findings
      open for its clause; starting the inspection refreshes those findings to the day;
    - the orderer officer conducting it records a result per item (適合 / 指摘 / 該当なし) and a note, and for
      an item found wanting, a finding with a corrective-action request (是正要求) and its due date;
    - completing the inspection freezes the checklist and the findings (every item needs a result, every
      指摘 a finding); the corrective actions go on: the information manager reports the correction, the
      orderer closes it or asks again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from sekisho.audit.services import record
from sekisho.core import policy
from sekisho.core.errors import Conflict, Invalid
from sekisho.core.models import Contract, Role
from sekisho.notifications.services import notify

from . import duedates
from .common import MAX_DAYS_AHEAD, due_date, invalid_transition, members, require_not_closed
from .common import text as _text
from .models import (
    CLAUSE,
    FindingState,
    Inspection,
    InspectionFinding,
    InspectionItem,
    InspectionState,
    ItemResult,
)

# How many open compliance findings an item keeps (the total is kept too): enough to inspect, bounded.
FINDINGS_PER_ITEM = 50


def inspection_url(inspection: Inspection) -> str:
    return reverse("oversight:inspection-detail", args=[inspection.contract_id, inspection.pk])


def _locked(inspection: Inspection) -> Inspection:
    return Inspection.objects.select_for_update().select_related("contract").get(pk=inspection.pk)


def _move(inspection: Inspection, to: str) -> None:
    if to not in inspection.allowed_next():
        raise invalid_transition(
            pgettext("oversight", "検査"),
            str(InspectionState(inspection.state).label),
            str(InspectionState(to).label),
        )


def _require_recording(inspection: Inspection) -> None:
    """Results and findings are recorded while the inspection is in progress; completing it freezes them."""
    if inspection.state != InspectionState.IN_PROGRESS:
        raise Conflict(
            _("検査結果は「実施中」の検査にのみ記録できます（現在: {state}）。").format(
                state=InspectionState(inspection.state).label
            ),
            code="inspection_not_in_progress",
            clause=CLAUSE,
        )


def _open_findings(contract: Contract) -> dict[str, list[dict[str, Any]]]:
    """The compliance findings open now, per clause, as the checklist keeps them (a copy: the record of the
    inspection does not change when a finding is resolved later)."""
    from sekisho.compliance.selectors import open_findings_by_clause

    return {
        clause: [
            {
                "rule": f.rule,
                "severity": f.severity,
                "subject": f.subject_label,
                "message": getattr(f, "message", ""),
                "first_seen_at": f.first_seen_at,
            }
            for f in found
        ]
        for clause, found in open_findings_by_clause(contract).items()
    }


def _snapshot(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**f, "first_seen_at": f["first_seen_at"].isoformat() if f["first_seen_at"] else None}
        for f in found[:FINDINGS_PER_ITEM]
    ]


@transaction.atomic
def schedule_inspection(
    contract: Contract,
    *,
    acting_user: Any,
    title: str,
    scheduled_on: dt.date,
    place: str = "",
    scope: str = "",
) -> Inspection:
    """The orderer schedules an inspection of the contract's information management (R3); its checklist is
    made from the clauses of the contract's active profile."""
    from sekisho.compliance.profile import active_profile

    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, "inspection.manage", contract, clause=CLAUSE)
    require_not_closed(contract)
    title = _text(title, _("検査名"), max_length=200)
    place = _text(place, _("実施場所"), required=False, max_length=200)
    scope = _text(scope, _("検査の範囲・方法"), required=False)
    if not isinstance(scheduled_on, dt.date) or isinstance(scheduled_on, dt.datetime):
        raise Invalid(_("実施予定日を日付で指定してください。"))
    if scheduled_on < contract.period_start:
        raise Invalid(_("実施予定日は履行期間の始期以降にしてください。"), code="before_contract")
    if scheduled_on > timezone.localdate() + dt.timedelta(days=MAX_DAYS_AHEAD):
        raise Invalid(_("実施予定日は1年以内の日付にしてください。"), code="too_far")
    profile = active_profile(contract)
    last = Inspection.objects.filter(contract=contract).aggregate(n=Max("number"))["n"] or 0
    inspection = Inspection.objects.create(
        contract=contract,
        number=last + 1,
        title=title,
        scheduled_on=scheduled_on,
        place=place,
        scope=scope,
        profile_key=profile.key,
        profile_name=profile.name_ja,
        created_by=acting_user,
    )
    found = _open_findings(contract)
    InspectionItem.objects.bulk_create(
        [
            InspectionItem(
                inspection=inspection,
                position=position,
                clause_id=clause.id,
                clause_title=clause.title_ja[:200],
                clause_text=clause.text_ja,
                open_findings=_snapshot(found.get(clause.id, [])),
                open_findings_total=len(found.get(clause.id, [])),
            )
            for position, clause in enumerate(profile.clauses, 1)
        ]
    )
    managers = members(contract, Role.MANAGER)
    record(
        actor=acting_user,
        action="inspection.schedule",
        contract=contract,
        obj=inspection,
        summary={
            "ref": inspection.ref,
            "title": title,
            "scheduled_on": scheduled_on,
            "profile": profile.key,
            "items": len(profile.clauses),
            "open_findings": sum(len(v) for v in found.values()),
        },
    )
    notify(
        managers,
        contract=contract,
        subject=_("検査の予定: {contract} {ref} {title}").format(
            contract=contract.number, ref=inspection.ref, title=title
        ),
        body=_("発注者が検査を予定しました（実施予定日: {day}）。").format(
            day=duedates.wareki_with_weekday(scheduled_on)
        ),
        url=inspection_url(inspection),
    )
    return inspection


@transaction.atomic
def start_inspection(inspection: Inspection, *, acting_user: Any) -> Inspection:
    """Begin the inspection; the open compliance findings of each item are brought up to the day."""
    inspection = _locked(inspection)
    policy.require(acting_user, "inspection.manage", inspection, clause=CLAUSE)
    require_not_closed(inspection.contract)
    _move(inspection, InspectionState.IN_PROGRESS)
    found = _open_findings(inspection.contract)
    items = list(InspectionItem.objects.select_for_update().filter(inspection=inspection))
    for item in items:
        item.open_findings = _snapshot(found.get(item.clause_id, []))
        item.open_findings_total = len(found.get(item.clause_id, []))
    InspectionItem.objects.bulk_update(items, ["open_findings", "open_findings_total"])
    now = timezone.now()
    inspection.state = InspectionState.IN_PROGRESS
    inspection.started_at = inspection.updated_at = now
    inspection.save(update_fields=["state", "started_at", "updated_at"])
    record(
        actor=acting_user,
        action="inspection.start",
        contract=inspection.contract,
        obj=inspection,
        summary={"ref": inspection.ref, "open_findings": sum(i.open_findings_total for i in items)},
    )
    return inspection


@transaction.atomic
def record_item(item: InspectionItem, *, acting_user: Any, result: str, note: str = "") -> InspectionItem:
    """The inspector's result for one clause: 適合, 指摘 or 該当なし, with a note (required for 指摘)."""
    item = InspectionItem.objects.select_for_update().select_related("inspection__contract").get(pk=item.pk)
    inspection = Inspection.objects.select_for_update().get(pk=item.inspection_id)
    policy.require(acting_user, "inspection.manage", inspection, clause=CLAUSE)
    require_not_closed(item.inspection.contract)
    _require_recording(inspection)
    if result not in ItemResult.values:
        raise Invalid(_("結果は「適合」「指摘」「該当なし」から選んでください。"), code="bad_result")
    note = _text(note, _("所見"), required=result == ItemResult.NONCONFORMING)
    before = item.result
    if before == ItemResult.NONCONFORMING and result != before and item.findings.exists():
        raise Conflict(
            _("指摘事項が登録されている項目の結果は「指摘」から変更できません。"),
            code="item_has_findings",
            clause=CLAUSE,
        )
    item.result, item.note = result, note
    item.recorded_by, item.recorded_at = acting_user, timezone.now()
    item.save(update_fields=["result", "note", "recorded_by", "recorded_at"])
    record(
        actor=acting_user,
        action="inspection.record_item",
        contract=item.inspection.contract,
        obj=item,
        summary={
            "ref": inspection.ref,
            "clause": item.clause_id,
            "result": result,
            "before": before,
            "note": note,
        },
    )
    return item


@transaction.atomic
def add_finding(
    item: InspectionItem, *, acting_user: Any, description: str, corrective_request: str, due_on: dt.date
) -> InspectionFinding:
    """A finding of the inspection on an item found wanting, with the corrective action the orderer asks for
    (是正要求) and its due date. The contractor's information managers are told."""
    item = InspectionItem.objects.select_for_update().select_related("inspection__contract").get(pk=item.pk)
    inspection = Inspection.objects.select_for_update().select_related("contract").get(pk=item.inspection_id)
    policy.require(acting_user, "inspection.manage", inspection, clause=CLAUSE)
    require_not_closed(inspection.contract)
    _require_recording(inspection)
    if item.result != ItemResult.NONCONFORMING:
        raise Conflict(
            _("指摘事項は、結果を「指摘」とした項目にのみ登録できます。"),
            code="item_not_nonconforming",
            clause=CLAUSE,
        )
    description = _text(description, _("指摘事項"))
    corrective_request = _text(corrective_request, _("是正要求"))
    due_on = due_date(due_on, _("是正期限"))
    last = InspectionFinding.objects.filter(inspection=inspection).aggregate(n=Max("number"))["n"] or 0
    finding = InspectionFinding.objects.create(
        inspection=inspection,
        item=item,
        number=last + 1,
        description=description,
        corrective_request=corrective_request,
        due_on=due_on,
        created_by=acting_user,
    )
    record(
        actor=acting_user,
        action="inspection.finding",
        contract=inspection.contract,
        obj=finding,
        summary={
            "ref": finding.ref,
            "clause": item.clause_id,
            "description": description,
            "corrective_request": corrective_request,
            "due_on": due_on,
        },
    )
    notify(
        members(inspection.contract, Role.MANAGER),
        contract=inspection.contract,
        subject=_("是正要求: {contract} {ref}").format(contract=inspection.contract.number, ref=finding.ref),
        body=_(
            "検査で指摘を受けました（{clause}）。是正の内容を期限（{due}）までに報告してください。"
        ).format(clause=item.clause_id, due=duedates.due(due_on).text()),
        url=inspection_url(inspection),
    )
    return finding


@transaction.atomic
def complete_inspection(inspection: Inspection, *, acting_user: Any, summary: str = "") -> Inspection:
    """Complete the inspection and freeze it: every item must have a result, every 指摘 a finding (R3)."""
    inspection = _locked(inspection)
    policy.require(acting_user, "inspection.manage", inspection, clause=CLAUSE)
    require_not_closed(inspection.contract)
    _move(inspection, InspectionState.COMPLETED)
    items = list(inspection.items.order_by("position").prefetch_related("findings"))
    unrecorded = [i.clause_id for i in items if not i.result]
    if unrecorded:
        raise Conflict(
            _("結果が記録されていない項目があります: {clauses}").format(clauses="、".join(unrecorded)),
            code="items_unrecorded",
            clause=CLAUSE,
        )
    bare = [i.clause_id for i in items if i.result == ItemResult.NONCONFORMING and not i.findings.all()]
    if bare:
        raise Conflict(
            _("「指摘」とした項目に指摘事項（是正要求）が登録されていません: {clauses}").format(
                clauses="、".join(bare)
            ),
            code="findings_missing",
            clause=CLAUSE,
        )
    now = timezone.now()
    inspection.summary = _text(summary, _("総評"), required=False)
    inspection.state = InspectionState.COMPLETED
    inspection.completed_at, inspection.completed_by, inspection.updated_at = now, acting_user, now
    inspection.save(update_fields=["summary", "state", "completed_at", "completed_by", "updated_at"])
    counts = {value: sum(1 for i in items if i.result == value) for value in ItemResult.values}
    findings = sum(len(i.findings.all()) for i in items)
    record(
        actor=acting_user,
        action="inspection.complete",
        contract=inspection.contract,
        obj=inspection,
        summary={
            "ref": inspection.ref,
            "results": counts,
            "findings": findings,
            "summary": inspection.summary,
        },
    )
    notify(
        members(inspection.contract, Role.MANAGER),
        contract=inspection.contract,
        subject=_("検査の完了: {contract} {ref}").format(
            contract=inspection.contract.number, ref=inspection.ref
        ),
        body=_("検査「{title}」が完了しました（指摘 {findings} 件）。").format(
            title=inspection.title, findings=findings
        ),
        url=inspection_url(inspection),
    )
    return inspection


@transaction.atomic
def cancel_inspection(inspection: Inspection, *, acting_user: Any, reason: str) -> Inspection:
    """Call the inspection off (before it is completed); what was recorded stays, frozen."""
    inspection = _locked(inspection)
    policy.require(acting_user, "inspection.manage", inspection, clause=CLAUSE)
    require_not_closed(inspection.contract)
    _move(inspection, InspectionState.CANCELLED)
    reason = _text(reason, _("中止の理由"))
    if inspection.findings.exists():
        raise Conflict(
            _("指摘事項（是正要求）のある検査は中止できません。検査を完了してください。"),
            code="has_findings",
            clause=CLAUSE,
        )
    before = inspection.state
    inspection.state = InspectionState.CANCELLED
    inspection.updated_at = timezone.now()
    inspection.save(update_fields=["state", "updated_at"])
    record(
        actor=acting_user,
        action="inspection.cancel",
        contract=inspection.contract,
        obj=inspection,
        summary={"ref": inspection.ref, "from": before, "reason": reason},
    )
    notify(
        members(inspection.contract, Role.MANAGER),
        contract=inspection.contract,
        subject=_("検査の中止: {contract} {ref}").format(
            contract=inspection.contract.number, ref=inspection.ref
        ),
        body=_("検査「{title}」は中止されました。理由: {reason}").format(
            title=inspection.title, reason=reason
        ),
        url=inspection_url(inspection),
    )
    return inspection


# --- corrective actions ---------------------------------------------------------------------------------------


def _locked_finding(finding: InspectionFinding) -> InspectionFinding:
    return (
        InspectionFinding.objects.select_for_update()
        .select_related("inspection__contract", "item")
        .get(pk=finding.pk)
    )


def _move_finding(finding: InspectionFinding, to: str) -> None:
    if to not in finding.allowed_next():
        raise invalid_transition(
            str(_("是正要求")), str(FindingState(finding.state).label), str(FindingState(to).label)
        )


@transaction.atomic
def respond_to_finding(finding: InspectionFinding, *, acting_user: Any, response: str) -> InspectionFinding:
    """The information manager reports the correction made (R3). The orderer officers are asked to confirm."""
    finding = _locked_finding(finding)
    policy.require(acting_user, "inspection.respond", finding, clause=CLAUSE)
    contract = finding.inspection.contract
    require_not_closed(contract)
    _move_finding(finding, FindingState.ANSWERED)
    response = _text(response, _("是正の内容"))
    now = timezone.now()
    finding.state = FindingState.ANSWERED
    finding.response, finding.responded_by, finding.responded_at = response, acting_user, now
    finding.updated_at = now
    finding.save(update_fields=["state", "response", "responded_by", "responded_at", "updated_at"])
    record(
        actor=acting_user,
        action="inspection.finding_response",
        contract=contract,
        obj=finding,
        summary={
            "ref": finding.ref,
            "response": response,
            "on_time": not duedates.is_overdue(finding.due_on, timezone.localdate(now)),
        },
    )
    notify(
        members(contract, Role.ORDERER),
        contract=contract,
        subject=_("是正の報告: {contract} {ref}").format(contract=contract.number, ref=finding.ref),
        body=_("受注者が是正の内容を報告しました。確認し、是正確認又は再度の是正要求をしてください。"),
        url=inspection_url(finding.inspection),
    )
    return finding


@transaction.atomic
def close_finding(finding: InspectionFinding, *, acting_user: Any, note: str = "") -> InspectionFinding:
    """The orderer confirms the correction and closes the finding (R3)."""
    finding = _locked_finding(finding)
    policy.require(acting_user, "inspection.manage", finding, clause=CLAUSE)
    contract = finding.inspection.contract
    require_not_closed(contract)
    _move_finding(finding, FindingState.CLOSED)
    now = timezone.now()
    finding.state = FindingState.CLOSED
    finding.orderer_note = _text(note, _("確認の所見"), required=False)
    finding.closed_by, finding.closed_at, finding.updated_at = acting_user, now, now
    finding.save(update_fields=["state", "orderer_note", "closed_by", "closed_at", "updated_at"])
    record(
        actor=acting_user,
        action="inspection.finding_close",
        contract=contract,
        obj=finding,
        summary={"ref": finding.ref, "note": finding.orderer_note},
    )
    notify(
        members(contract, Role.MANAGER),
        contract=contract,
        subject=_("是正の確認: {contract} {ref}").format(contract=contract.number, ref=finding.ref),
        body=_("発注者が是正を確認しました。"),
        url=inspection_url(finding.inspection),
    )
    return finding


@transaction.atomic
def reopen_finding(
    finding: InspectionFinding, *, acting_user: Any, instruction: str, due_on: dt.date
) -> InspectionFinding:
    """The correction is not enough: the orderer asks again, with an instruction and a new due date (R3)."""
    finding = _locked_finding(finding)
    policy.require(acting_user, "inspection.manage", finding, clause=CLAUSE)
    contract = finding.inspection.contract
    require_not_closed(contract)
    _move_finding(finding, FindingState.OPEN)
    instruction = _text(instruction, _("再度の是正要求の内容"))
    due_on = due_date(due_on, _("新しい是正期限"))
    finding.state = FindingState.OPEN
    finding.orderer_note, finding.due_on, finding.updated_at = instruction, due_on, timezone.now()
    finding.save(update_fields=["state", "orderer_note", "due_on", "updated_at"])
    record(
        actor=acting_user,
        action="inspection.finding_reopen",
        contract=contract,
        obj=finding,
        summary={"ref": finding.ref, "instruction": instruction, "due_on": due_on},
    )
    notify(
        members(contract, Role.MANAGER),
        contract=contract,
        subject=_("再度の是正要求: {contract} {ref}").format(contract=contract.number, ref=finding.ref),
        body=_("発注者が再度の是正を求めています（期限: {due}）。{instruction}").format(
            due=duedates.due(due_on).text(), instruction=instruction
        ),
        url=inspection_url(finding.inspection),
    )
    return finding
