"""Read queries of the oversight pages and API, scoped by the access policy. Lists cost a bounded number of
queries whatever the row count."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.core import policy
from sekisho.core.errors import NotFound
from sekisho.core.models import Contract, Membership, Role

from . import duedates
from .models import (
    FindingState,
    Inspection,
    InspectionFinding,
    InspectionItem,
    ReportAnswer,
    ReportAttachment,
    ReportRequest,
)


def _not_found() -> NotFound:
    return NotFound(_("見つかりません。"))


# --- report requests ---------------------------------------------------------------------------------------------


def report_requests(user: Any, contract: Contract) -> QuerySet[ReportRequest]:
    return (
        policy.visible(user, ReportRequest)
        .filter(contract=contract)
        .select_related("requested_by")
        .order_by("-requested_at", "-id")
    )


def report_request(user: Any, contract: Contract, request_id: int) -> ReportRequest:
    found = (
        policy.visible(user, ReportRequest)
        .filter(pk=request_id, contract=contract)
        .select_related("contract", "requested_by", "closed_by")
        .prefetch_related(
            Prefetch(
                "answers",
                queryset=ReportAnswer.objects.select_related("answered_by", "reviewed_by")
                .prefetch_related("attachments")
                .order_by("round"),
            )
        )
        .first()
    )
    if found is None:
        raise _not_found()
    return found


def attachment(user: Any, contract: Contract, attachment_id: int) -> ReportAttachment:
    found = (
        policy.visible(user, ReportAttachment)
        .filter(pk=attachment_id, contract=contract)
        .select_related("answer__request")
        .first()
    )
    if found is None:
        raise _not_found()
    return found


@dataclass
class DueRow:
    """A request or a finding with its due date as it runs today."""

    obj: Any
    due: duedates.Due
    today: dt.date
    awaiting: bool

    @property
    def overdue(self) -> bool:
        return self.awaiting and self.today > self.due.effective

    @property
    def days_left(self) -> int:
        return self.due.days_left(self.today)


def request_rows(requests: list[ReportRequest], today: dt.date | None = None) -> list[DueRow]:
    today = today or timezone.localdate()
    return [DueRow(r, duedates.due(r.due_on), today, r.awaiting_answer) for r in requests]


# --- inspections -------------------------------------------------------------------------------------------------


def inspections(user: Any, contract: Contract) -> QuerySet[Inspection]:
    return (
        policy.visible(user, Inspection)
        .filter(contract=contract)
        .select_related("created_by")
        .annotate(
            finding_count=Count("findings", distinct=True),
            open_finding_count=Count(
                "findings", filter=~Q(findings__state=FindingState.CLOSED), distinct=True
            ),
        )
        .order_by("-scheduled_on", "-id")
    )


def inspection(user: Any, contract: Contract, inspection_id: int) -> Inspection:
    found = (
        policy.visible(user, Inspection)
        .filter(pk=inspection_id, contract=contract)
        .select_related("contract", "contract__orderer", "contract__contractor", "created_by", "completed_by")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=InspectionItem.objects.select_related("recorded_by")
                .prefetch_related(Prefetch("findings", queryset=InspectionFinding.objects.order_by("number")))
                .order_by("position"),
            ),
            Prefetch(
                "findings",
                queryset=InspectionFinding.objects.select_related(
                    "item", "responded_by", "closed_by", "created_by"
                ).order_by("number"),
            ),
        )
        .first()
    )
    if found is None:
        raise _not_found()
    return found


def item(user: Any, inspection: Inspection, item_id: int) -> InspectionItem:
    found = policy.visible(user, InspectionItem).filter(pk=item_id, inspection=inspection).first()
    if found is None:
        raise _not_found()
    return found


def finding(user: Any, inspection: Inspection, finding_id: int) -> InspectionFinding:
    found = (
        policy.visible(user, InspectionFinding)
        .filter(pk=finding_id, inspection=inspection)
        .select_related("inspection", "item")
        .first()
    )
    if found is None:
        raise _not_found()
    return found


def finding_rows(findings: list[InspectionFinding], today: dt.date | None = None) -> list[DueRow]:
    today = today or timezone.localdate()
    return [DueRow(f, duedates.due(f.due_on), today, f.awaiting_response) for f in findings]


# --- inspectors --------------------------------------------------------------------------------------------------


def inspector_memberships(user: Any, contract: Contract) -> QuerySet[Membership]:
    """The contract's auditor memberships, current and past, newest first (time-limited ones show their end)."""
    return (
        policy.visible(user, Membership)
        .filter(contract=contract, role=Role.AUDITOR)
        .select_related("user", "organisation")
        .order_by("-started_at", "-id")
    )
