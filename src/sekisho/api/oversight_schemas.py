"""Request and response schemas of the oversight API (R3): report requests, inspections, inspectors."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from ninja import Schema

from sekisho.core.models import Membership
from sekisho.oversight import duedates
from sekisho.oversight.models import (
    Inspection,
    InspectionFinding,
    InspectionItem,
    ItemResult,
    ReportAnswer,
    ReportAttachment,
    ReportRequest,
)


class ReportAttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: dt.datetime


class ReportAnswerOut(Schema):
    round: int
    text: str
    answered_by: str
    answered_at: dt.datetime
    review: str
    review_note: str
    reviewed_at: dt.datetime | None
    attachments: list[ReportAttachmentOut]

    @staticmethod
    def resolve_answered_by(obj: ReportAnswer) -> str:
        return obj.answered_by.username

    @staticmethod
    def resolve_attachments(obj: ReportAnswer) -> list[ReportAttachment]:
        return list(obj.attachments.all())


class ReportRequestOut(Schema):
    id: int
    ref: str
    subject: str
    detail: str
    due_on: dt.date
    effective_due_on: dt.date
    due_closed_reason: str
    overdue: bool
    state: str
    state_label: str
    allowed_next: list[str]
    requested_by: str
    requested_at: dt.datetime
    closed_at: dt.datetime | None
    answers: list[ReportAnswerOut]

    @staticmethod
    def resolve_effective_due_on(obj: ReportRequest) -> dt.date:
        return duedates.effective_due(obj.due_on)

    @staticmethod
    def resolve_due_closed_reason(obj: ReportRequest) -> str:
        return duedates.closed_reason(obj.due_on)

    @staticmethod
    def resolve_overdue(obj: ReportRequest) -> bool:
        return obj.awaiting_answer and duedates.is_overdue(obj.due_on, timezone.localdate())

    @staticmethod
    def resolve_state_label(obj: ReportRequest) -> str:
        return str(obj.get_state_display())

    @staticmethod
    def resolve_allowed_next(obj: ReportRequest) -> list[str]:
        return sorted(obj.allowed_next())

    @staticmethod
    def resolve_requested_by(obj: ReportRequest) -> str:
        return obj.requested_by.username

    @staticmethod
    def resolve_answers(obj: ReportRequest) -> list[ReportAnswer]:
        return list(obj.answers.all())


class ReportRequestIn(Schema):
    subject: str
    detail: str
    due_on: dt.date


class ReportAcceptIn(Schema):
    note: str = ""


class ReportMoreIn(Schema):
    note: str
    due_on: dt.date


class ReportWithdrawIn(Schema):
    reason: str


class OpenFindingOut(Schema):
    rule: str = ""
    severity: str = ""
    subject: str = ""
    message: str = ""
    first_seen_at: str | None = None


class InspectionItemOut(Schema):
    id: int
    position: int
    clause_id: str
    clause_title: str
    clause_text: str
    result: str
    result_label: str
    note: str
    open_findings_total: int
    open_findings: list[OpenFindingOut]
    recorded_at: dt.datetime | None

    @staticmethod
    def resolve_result_label(obj: InspectionItem) -> str:
        return str(ItemResult(obj.result).label) if obj.result else ""


class InspectionFindingOut(Schema):
    id: int
    ref: str
    item_id: int
    clause_id: str
    description: str
    corrective_request: str
    due_on: dt.date
    effective_due_on: dt.date
    overdue: bool
    state: str
    state_label: str
    allowed_next: list[str]
    response: str
    responded_at: dt.datetime | None
    orderer_note: str
    closed_at: dt.datetime | None

    @staticmethod
    def resolve_clause_id(obj: InspectionFinding) -> str:
        return obj.item.clause_id

    @staticmethod
    def resolve_effective_due_on(obj: InspectionFinding) -> dt.date:
        return duedates.effective_due(obj.due_on)

    @staticmethod
    def resolve_overdue(obj: InspectionFinding) -> bool:
        return obj.awaiting_response and duedates.is_overdue(obj.due_on, timezone.localdate())

    @staticmethod
    def resolve_state_label(obj: InspectionFinding) -> str:
        return str(obj.get_state_display())

    @staticmethod
    def resolve_allowed_next(obj: InspectionFinding) -> list[str]:
        return sorted(obj.allowed_next())


class InspectionSummaryOut(Schema):
    id: int
    ref: str
    title: str
    scheduled_on: dt.date
    place: str
    state: str
    state_label: str
    finding_count: int
    open_finding_count: int
    completed_at: dt.datetime | None

    @staticmethod
    def resolve_state_label(obj: Inspection) -> str:
        return str(obj.get_state_display())


class InspectionOut(Schema):
    id: int
    ref: str
    title: str
    scheduled_on: dt.date
    place: str
    scope: str
    profile_key: str
    profile_name: str
    state: str
    state_label: str
    allowed_next: list[str]
    summary: str
    inspector: str
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    items: list[InspectionItemOut]
    findings: list[InspectionFindingOut]

    @staticmethod
    def resolve_state_label(obj: Inspection) -> str:
        return str(obj.get_state_display())

    @staticmethod
    def resolve_allowed_next(obj: Inspection) -> list[str]:
        return sorted(obj.allowed_next())

    @staticmethod
    def resolve_inspector(obj: Inspection) -> str:
        return obj.created_by.username

    @staticmethod
    def resolve_items(obj: Inspection) -> list[InspectionItem]:
        return list(obj.items.all())

    @staticmethod
    def resolve_findings(obj: Inspection) -> list[InspectionFinding]:
        return list(obj.findings.all())


class InspectionIn(Schema):
    title: str
    scheduled_on: dt.date
    place: str = ""
    scope: str = ""


class InspectionItemIn(Schema):
    result: str
    note: str = ""


class InspectionFindingIn(Schema):
    description: str
    corrective_request: str
    due_on: dt.date


class InspectionCompleteIn(Schema):
    summary: str = ""


class InspectionCancelIn(Schema):
    reason: str


class FindingResponseIn(Schema):
    response: str


class FindingCloseIn(Schema):
    note: str = ""


class FindingReopenIn(Schema):
    instruction: str
    due_on: dt.date


class InspectorOut(Schema):
    id: int
    username: str
    display_name: str
    organisation: str
    started_at: dt.datetime
    expires_at: dt.datetime | None
    ended_at: dt.datetime | None
    active: bool

    @staticmethod
    def resolve_username(obj: Membership) -> str:
        return obj.user.username

    @staticmethod
    def resolve_display_name(obj: Membership) -> str:
        return obj.user.display_name

    @staticmethod
    def resolve_organisation(obj: Membership) -> str:
        return obj.organisation.name

    @staticmethod
    def resolve_active(obj: Membership) -> bool:
        return obj.ended_at is None and (obj.expires_at is None or obj.expires_at > timezone.now())


class InspectorGrantIn(Schema):
    username: str
    expires_at: dt.datetime
