"""Reminders of overdue report requests and corrective actions (R3), run by ``sekisho tick`` as
``oversight.remind_overdue``: once per due date crossed, to the contract's information managers and orderer
officers. A due date on a closed day runs to the next business day (``duedates``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core.models import Membership, Role, User
from sekisho.notifications.services import notify

from . import duedates
from .inspections import inspection_url
from .models import (
    AWAITING_ANSWER,
    FindingState,
    InspectionFinding,
    OverdueReminder,
    ReportRequest,
)
from .services import request_url


@transaction.atomic
def remind_overdue(now: dt.datetime | None = None) -> list[OverdueReminder]:
    """Notify once per due date crossed. Idempotent: a reminder row per (request or finding, due date) is the
    memory. A bounded number of queries whatever the number of requests."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    # An effective due date is at most a couple of weeks after the date set (the year-end closure plus a
    # weekend), so only rows due before today can be overdue: the database narrows, the calendar decides.
    requests = list(
        ReportRequest.objects.select_for_update(of=("self",))
        .filter(state__in=AWAITING_ANSWER, due_on__lt=today)
        .exclude(Exists(OverdueReminder.objects.filter(request=OuterRef("pk"), due_on=OuterRef("due_on"))))
        .select_related("contract")
        .order_by("contract_id", "id")
    )
    findings = list(
        InspectionFinding.objects.select_for_update(of=("self",))
        .filter(state=FindingState.OPEN, due_on__lt=today)
        .exclude(Exists(OverdueReminder.objects.filter(finding=OuterRef("pk"), due_on=OuterRef("due_on"))))
        .select_related("inspection__contract")
        .order_by("inspection__contract_id", "id")
    )
    requests = [r for r in requests if duedates.is_overdue(r.due_on, today)]
    findings = [f for f in findings if duedates.is_overdue(f.due_on, today)]
    if not requests and not findings:
        return []
    contract_ids = {r.contract_id for r in requests} | {f.inspection.contract_id for f in findings}
    people = _people_by_contract(contract_ids, (Role.ORDERER, Role.MANAGER))
    rows = [
        OverdueReminder(contract_id=r.contract_id, request=r, due_on=r.due_on, sent_at=now) for r in requests
    ]
    rows += [
        OverdueReminder(contract_id=f.inspection.contract_id, finding=f, due_on=f.due_on, sent_at=now)
        for f in findings
    ]
    made = OverdueReminder.objects.bulk_create(rows)
    for request in requests:
        due = duedates.due(request.due_on)
        record(
            actor="system",
            action="report_request.reminder",
            contract=request.contract,
            obj=request,
            summary={"ref": request.ref, "due_on": request.due_on, "effective_due": due.effective},
        )
        notify(
            people.get(request.contract_id, []),
            contract=request.contract,
            subject=_("報告期限超過: {contract} {ref} {subject}").format(
                contract=request.contract.number, ref=request.ref, subject=request.subject
            ),
            body=_("報告の求め{ref}の期限（{due}）を過ぎています。").format(ref=request.ref, due=due.text()),
            url=request_url(request),
        )
    for finding in findings:
        contract = finding.inspection.contract
        due = duedates.due(finding.due_on)
        record(
            actor="system",
            action="inspection.finding_reminder",
            contract=contract,
            obj=finding,
            summary={"ref": finding.ref, "due_on": finding.due_on, "effective_due": due.effective},
        )
        notify(
            people.get(contract.pk, []),
            contract=contract,
            subject=_("是正期限超過: {contract} {ref}").format(contract=contract.number, ref=finding.ref),
            body=_("是正要求{ref}の期限（{due}）を過ぎています。").format(ref=finding.ref, due=due.text()),
            url=inspection_url(finding.inspection),
        )
    return made


def _people_by_contract(contract_ids: Iterable[int], roles: Iterable[str]) -> dict[int, list[User]]:
    found: dict[int, list[User]] = {}
    memberships = (
        Membership.objects.current()
        .filter(contract_id__in=list(contract_ids), role__in=list(roles), user__is_active=True)
        .select_related("user")
        .order_by("contract_id", "user__username")
    )
    for membership in memberships:
        found.setdefault(membership.contract_id, []).append(membership.user)
    return found
