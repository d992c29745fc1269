"""Report requests (報告の求め, R3). Each step checks the access policy, enforces the state table, writes the
rows and appends the audit event in one transaction; notifications are e-mailed after it commits.

Who does what
    - an orderer officer requests a report: subject, what is to be reported, due date;
    - the information manager answers (text and attachments, sealed like vault content);
    - the orderer officer accepts the answer, or asks for more with a new due date; an unanswered request
      may be withdrawn;
    - a request not answered by its due date (moved to the next business day when the offices are closed)
      is reminded once per due date by ``sekisho tick`` (``reminders.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core import policy
from sekisho.core.models import Contract, Role
from sekisho.notifications.services import notify

from . import attachments, duedates
from .common import due_date, invalid_transition, members, require_not_closed
from .common import text as _text
from .models import (
    CLAUSE,
    ReportAnswer,
    ReportAttachment,
    ReportRequest,
    RequestState,
    Review,
)


def request_url(request: ReportRequest) -> str:
    return reverse("oversight:request-detail", args=[request.contract_id, request.pk])


def _locked(request: ReportRequest) -> ReportRequest:
    return ReportRequest.objects.select_for_update().select_related("contract").get(pk=request.pk)


def _move(request: ReportRequest, to: str) -> None:
    if to not in request.allowed_next():
        raise invalid_transition(
            str(_("報告の求め")), str(RequestState(request.state).label), str(RequestState(to).label)
        )


def _due_label(day: dt.date) -> str:
    return duedates.due(day).text()


@transaction.atomic
def create_report_request(
    contract: Contract, *, acting_user: Any, subject: str, detail: str, due_on: dt.date
) -> ReportRequest:
    """The orderer asks the contractor for a report on its information management (R3)."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, "report_request.create", contract, clause=CLAUSE)
    require_not_closed(contract)
    subject = _text(subject, _("件名"), max_length=200)
    detail = _text(detail, _("求める報告の内容"))
    due_on = due_date(due_on, _("報告期限"))
    last = ReportRequest.objects.filter(contract=contract).aggregate(n=Max("number"))["n"] or 0
    request = ReportRequest.objects.create(
        contract=contract,
        number=last + 1,
        subject=subject,
        detail=detail,
        due_on=due_on,
        requested_by=acting_user,
    )
    managers = members(contract, Role.MANAGER)
    record(
        actor=acting_user,
        action="report_request.create",
        contract=contract,
        obj=request,
        summary={
            "ref": request.ref,
            "subject": subject,
            "due_on": due_on,
            "effective_due": duedates.effective_due(due_on),
            "to": [u.username for u in managers],
        },
    )
    notify(
        managers,
        contract=contract,
        subject=_("報告の求め: {contract} {ref} {subject}").format(
            contract=contract.number, ref=request.ref, subject=subject
        ),
        body=_("発注者から報告を求められました（期限: {due}）。").format(due=_due_label(due_on)),
        url=request_url(request),
    )
    return request


def check_answerable(request: ReportRequest, *, acting_user: Any) -> ReportRequest:
    """Whether *acting_user* may answer *request* now (the checks before any attachment is sealed)."""
    request = ReportRequest.objects.select_related("contract").get(pk=request.pk)
    policy.require(acting_user, "report_request.answer", request, clause=CLAUSE)
    require_not_closed(request.contract)
    _move(request, RequestState.ANSWERED)
    return request


def answer_report_request(
    request: ReportRequest, *, acting_user: Any, text: str, files: Sequence[attachments.Upload] = ()
) -> ReportAnswer:
    """The information manager reports (R3), with attachments sealed like vault content.

    Sealing the files happens before the short transaction that records the answer (as the vault does), so a
    large attachment never holds the database's write lock; if the answer is then refused (the state changed
    meanwhile), the sealed blobs are removed."""
    request = check_answerable(request, acting_user=acting_user)
    body = _text(text, _("報告内容"))
    attachments.check_uploads(files)
    sealed: list[attachments.SealedAttachment] = []
    try:
        for upload in files:
            sealed.append(attachments.seal(request.contract_id, upload))
        return _record_answer(request, acting_user=acting_user, body=body, sealed=sealed)
    except BaseException:
        for blob in sealed:
            attachments.discard(blob)
        raise


@transaction.atomic
def _record_answer(
    request: ReportRequest, *, acting_user: Any, body: str, sealed: list[attachments.SealedAttachment]
) -> ReportAnswer:
    request = _locked(request)
    policy.require(acting_user, "report_request.answer", request, clause=CLAUSE)
    require_not_closed(request.contract)
    _move(request, RequestState.ANSWERED)
    now = timezone.now()
    last = ReportAnswer.objects.filter(request=request).aggregate(n=Max("round"))["n"] or 0
    answer = ReportAnswer.objects.create(
        request=request, round=last + 1, text=body, answered_by=acting_user, answered_at=now
    )
    rows = ReportAttachment.objects.bulk_create([blob.row(answer) for blob in sealed])
    before = request.state
    request.state = RequestState.ANSWERED
    request.updated_at = now
    request.save(update_fields=["state", "updated_at"])
    on_time = _on_time(request.due_on, timezone.localdate(now))
    record(
        actor=acting_user,
        action="report_request.answer",
        contract=request.contract,
        obj=request,
        summary={
            "ref": request.ref,
            "round": answer.round,
            "from": before,
            "on_time": on_time,
            "attachments": [{"filename": r.filename, "size": r.size, "sha256": r.sha256} for r in rows],
        },
    )
    notify(
        members(request.contract, Role.ORDERER),
        contract=request.contract,
        subject=_("報告の提出: {contract} {ref} {subject}").format(
            contract=request.contract.number, ref=request.ref, subject=request.subject
        ),
        body=_(
            "受注者から報告（第{round}回）が提出されました。内容を確認し、受理又は追加報告を求めてください。"
        ).format(round=answer.round),
        url=request_url(request),
    )
    return answer


def _on_time(due_on: dt.date, today: dt.date) -> bool:
    return not duedates.is_overdue(due_on, today)


def _latest_answer(request: ReportRequest) -> ReportAnswer:
    answer = ReportAnswer.objects.select_for_update().filter(request=request).order_by("-round").first()
    assert answer is not None, "an answered request has an answer"
    return answer


def _review(
    request: ReportRequest, *, acting_user: Any, to: str, note: str, due_on: dt.date | None = None
) -> ReportRequest:
    request = _locked(request)
    policy.require(acting_user, "report_request.review", request, clause=CLAUSE)
    require_not_closed(request.contract)
    _move(request, to)
    now = timezone.now()
    answer = _latest_answer(request)
    answer.review = Review.ACCEPTED if to == RequestState.ACCEPTED else Review.MORE_REQUESTED
    answer.review_note = note
    answer.reviewed_by = acting_user
    answer.reviewed_at = now
    answer.save(update_fields=["review", "review_note", "reviewed_by", "reviewed_at"])
    before = request.state
    request.state = to
    request.updated_at = now
    fields = ["state", "updated_at"]
    if to == RequestState.ACCEPTED:
        request.closed_at, request.closed_by = now, acting_user
        fields += ["closed_at", "closed_by"]
    if due_on is not None:
        request.due_on = due_on
        fields.append("due_on")
    request.save(update_fields=fields)
    summary: dict[str, Any] = {"ref": request.ref, "round": answer.round, "from": before, "note": note}
    if due_on is not None:
        summary["due_on"] = due_on
    record(
        actor=acting_user,
        action="report_request.accept" if to == RequestState.ACCEPTED else "report_request.more",
        contract=request.contract,
        obj=request,
        summary=summary,
    )
    return request


@transaction.atomic
def accept_report(request: ReportRequest, *, acting_user: Any, note: str = "") -> ReportRequest:
    """The orderer accepts the contractor's report (R3)."""
    request = _review(
        request,
        acting_user=acting_user,
        to=RequestState.ACCEPTED,
        note=_text(note, _("所見"), required=False),
    )
    notify(
        members(request.contract, Role.MANAGER),
        contract=request.contract,
        subject=_("報告の受理: {contract} {ref}").format(contract=request.contract.number, ref=request.ref),
        body=_("発注者が報告「{subject}」を受理しました。").format(subject=request.subject),
        url=request_url(request),
    )
    return request


@transaction.atomic
def request_more(request: ReportRequest, *, acting_user: Any, note: str, due_on: dt.date) -> ReportRequest:
    """The orderer asks for more (R3): what is missing, and a new due date."""
    note = _text(note, _("追加で求める事項"))
    due_on = due_date(due_on, _("新しい報告期限"))
    request = _review(
        request, acting_user=acting_user, to=RequestState.MORE_REQUESTED, note=note, due_on=due_on
    )
    notify(
        members(request.contract, Role.MANAGER),
        contract=request.contract,
        subject=_("追加報告の求め: {contract} {ref}").format(
            contract=request.contract.number, ref=request.ref
        ),
        body=_("発注者が追加の報告を求めています（期限: {due}）。{note}").format(
            due=_due_label(due_on), note=note
        ),
        url=request_url(request),
    )
    return request


@transaction.atomic
def withdraw_report_request(request: ReportRequest, *, acting_user: Any, reason: str) -> ReportRequest:
    """The orderer withdraws a request that is not answered (R3)."""
    request = _locked(request)
    policy.require(acting_user, "report_request.review", request, clause=CLAUSE)
    require_not_closed(request.contract)
    _move(request, RequestState.WITHDRAWN)
    reason = _text(reason, _("取下げの理由"))
    now = timezone.now()
    before = request.state
    request.state = RequestState.WITHDRAWN
    request.closed_at, request.closed_by, request.updated_at = now, acting_user, now
    request.save(update_fields=["state", "closed_at", "closed_by", "updated_at"])
    record(
        actor=acting_user,
        action="report_request.withdraw",
        contract=request.contract,
        obj=request,
        summary={"ref": request.ref, "from": before, "reason": reason},
    )
    notify(
        members(request.contract, Role.MANAGER),
        contract=request.contract,
        subject=_("報告の求めの取下げ: {contract} {ref}").format(
            contract=request.contract.number, ref=request.ref
        ),
        body=_("発注者が報告の求め「{subject}」を取り下げました。理由: {reason}").format(
            subject=request.subject, reason=reason
        ),
        url=request_url(request),
    )
    return request


def download_attachment(attachment: ReportAttachment, *, acting_user: Any) -> Iterator[bytes]:
    """An attachment's plaintext for someone who may read the contract's reports. Reading it is recorded."""
    attachment = ReportAttachment.objects.select_related("contract", "answer__request").get(pk=attachment.pk)
    policy.require(acting_user, "report_request.attachment", attachment, clause=CLAUSE)
    with transaction.atomic():
        record(
            actor=acting_user,
            action="report_request.attachment_download",
            contract=attachment.contract,
            obj=attachment,
            summary={
                "ref": attachment.answer.request.ref,
                "filename": attachment.filename,
                "sha256": attachment.sha256,
            },
        )
        # Opened inside the transaction: a blob that cannot be opened leaves no record of a download.
        return attachments.open_attachment(attachment)
