"""The orderer's oversight (R3): report requests with their answers and sealed attachments, inspections with
their checklists, findings and corrective actions, the inspection report, and time-limited inspectors."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import File, Form, Router, Status
from ninja.decorators import decorate_view
from ninja.files import UploadedFile
from ninja.pagination import paginate

from sekisho.core.errors import Invalid
from sekisho.core.models import Contract, Membership, User
from sekisho.oversight import attachments, documents, inspections, inspectors, selectors, services
from sekisho.oversight.models import Inspection, InspectionFinding, ReportRequest

from .ledger import contract_for
from .oversight_schemas import (
    FindingCloseIn,
    FindingReopenIn,
    FindingResponseIn,
    InspectionCancelIn,
    InspectionCompleteIn,
    InspectionFindingIn,
    InspectionFindingOut,
    InspectionIn,
    InspectionItemIn,
    InspectionOut,
    InspectionSummaryOut,
    InspectorGrantIn,
    InspectorOut,
    ReportAcceptIn,
    ReportMoreIn,
    ReportRequestIn,
    ReportRequestOut,
    ReportWithdrawIn,
)
from .schemas import BoundedLimitOffsetPagination, ErrorOut
from .vault import content_disposition

router = Router(tags=["oversight"])
ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# --- report requests -----------------------------------------------------------------------------------------------


def _request(
    request: HttpRequest, contract_id: int, report_request_id: int
) -> tuple[Contract, ReportRequest]:
    contract = contract_for(request, contract_id, "oversight.view")
    return contract, selectors.report_request(request.user, contract, report_request_id)


def _request_out(request: HttpRequest, contract: Contract, report_request_id: int) -> ReportRequest:
    return selectors.report_request(request.user, contract, report_request_id)


@router.get(
    "/{contract_id}/report-requests",
    response={200: list[ReportRequestOut], **ERRORS},
    summary="報告の求めの一覧",
)
@paginate(BoundedLimitOffsetPagination)
def list_report_requests(request: HttpRequest, contract_id: int) -> Any:
    contract = contract_for(request, contract_id, "oversight.view")
    return selectors.report_requests(request.user, contract).prefetch_related(
        "answers__answered_by", "answers__attachments"
    )


@router.post(
    "/{contract_id}/report-requests", response={201: ReportRequestOut, **ERRORS}, summary="報告を求める"
)
def create_report_request(
    request: HttpRequest, contract_id: int, payload: ReportRequestIn
) -> Status[ReportRequest]:
    contract = contract_for(request, contract_id, "oversight.view")
    created = services.create_report_request(
        contract,
        acting_user=request.user,
        subject=payload.subject,
        detail=payload.detail,
        due_on=payload.due_on,
    )
    return Status(201, _request_out(request, contract, created.pk))


@router.get(
    "/{contract_id}/report-requests/{report_request_id}",
    response={200: ReportRequestOut, **ERRORS},
    summary="報告の求めと回答",
)
def get_report_request(request: HttpRequest, contract_id: int, report_request_id: int) -> ReportRequest:
    return _request(request, contract_id, report_request_id)[1]


@router.post(
    "/{contract_id}/report-requests/{report_request_id}/answer",
    response={200: ReportRequestOut, 413: ErrorOut, **ERRORS},
    summary="報告する（本文と添付ファイル、multipart/form-data）",
)
@decorate_view(attachments.upload_in_memory)
def answer_report_request(
    request: HttpRequest,
    contract_id: int,
    report_request_id: int,
    text: Form[str] = "",
    files: File[list[UploadedFile]] = None,  # type: ignore[assignment]
) -> ReportRequest:
    # Everything optional in the signature, so that the policy answers first (an outsider gets 404).
    contract, found = _request(request, contract_id, report_request_id)
    services.answer_report_request(found, acting_user=request.user, text=text, files=list(files or []))
    return _request_out(request, contract, report_request_id)


@router.post(
    "/{contract_id}/report-requests/{report_request_id}/accept",
    response={200: ReportRequestOut, **ERRORS},
    summary="報告を受理する",
)
def accept_report(
    request: HttpRequest, contract_id: int, report_request_id: int, payload: ReportAcceptIn
) -> ReportRequest:
    contract, found = _request(request, contract_id, report_request_id)
    services.accept_report(found, acting_user=request.user, note=payload.note)
    return _request_out(request, contract, report_request_id)


@router.post(
    "/{contract_id}/report-requests/{report_request_id}/more",
    response={200: ReportRequestOut, **ERRORS},
    summary="追加の報告を求める",
)
def request_more(
    request: HttpRequest, contract_id: int, report_request_id: int, payload: ReportMoreIn
) -> ReportRequest:
    contract, found = _request(request, contract_id, report_request_id)
    services.request_more(found, acting_user=request.user, note=payload.note, due_on=payload.due_on)
    return _request_out(request, contract, report_request_id)


@router.post(
    "/{contract_id}/report-requests/{report_request_id}/withdraw",
    response={200: ReportRequestOut, **ERRORS},
    summary="報告の求めを取り下げる",
)
def withdraw_report_request(
    request: HttpRequest, contract_id: int, report_request_id: int, payload: ReportWithdrawIn
) -> ReportRequest:
    contract, found = _request(request, contract_id, report_request_id)
    services.withdraw_report_request(found, acting_user=request.user, reason=payload.reason)
    return _request_out(request, contract, report_request_id)


@router.get(
    "/{contract_id}/report-attachments/{report_attachment_id}",
    response={200: None, 500: ErrorOut, **ERRORS},
    summary="報告の添付ファイル",
    openapi_extra={
        "responses": {
            200: {
                "description": "添付ファイル",
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def download_attachment(
    request: HttpRequest, contract_id: int, report_attachment_id: int
) -> StreamingHttpResponse:
    contract = contract_for(request, contract_id, "oversight.view")
    found = selectors.attachment(request.user, contract, report_attachment_id)
    chunks = services.download_attachment(found, acting_user=request.user)
    # Always a download, never rendered: the recorded type is only the sender's claim.
    response = StreamingHttpResponse(chunks, content_type="application/octet-stream")
    response["Content-Length"] = str(found.size)
    response["Content-Disposition"] = content_disposition(found.filename)
    response["Cache-Control"] = "no-store"
    response["X-Sekisho-Content-SHA256"] = found.sha256
    return response


# --- inspections ---------------------------------------------------------------------------------------------------


def _inspection(request: HttpRequest, contract_id: int, inspection_id: int) -> tuple[Contract, Inspection]:
    contract = contract_for(request, contract_id, "oversight.view")
    return contract, selectors.inspection(request.user, contract, inspection_id)


def _fresh(request: HttpRequest, contract: Contract, inspection_id: int) -> Inspection:
    return selectors.inspection(request.user, contract, inspection_id)


@router.get(
    "/{contract_id}/inspections", response={200: list[InspectionSummaryOut], **ERRORS}, summary="検査の一覧"
)
@paginate(BoundedLimitOffsetPagination)
def list_inspections(request: HttpRequest, contract_id: int) -> Any:
    contract = contract_for(request, contract_id, "oversight.view")
    return selectors.inspections(request.user, contract)


@router.post(
    "/{contract_id}/inspections",
    response={201: InspectionOut, **ERRORS},
    summary="検査を予定する（チェックリストを作成）",
)
def schedule_inspection(request: HttpRequest, contract_id: int, payload: InspectionIn) -> Status[Inspection]:
    contract = contract_for(request, contract_id, "oversight.view")
    created = inspections.schedule_inspection(
        contract,
        acting_user=request.user,
        title=payload.title,
        scheduled_on=payload.scheduled_on,
        place=payload.place,
        scope=payload.scope,
    )
    return Status(201, _fresh(request, contract, created.pk))


@router.get(
    "/{contract_id}/inspections/{inspection_id}",
    response={200: InspectionOut, **ERRORS},
    summary="検査（チェックリストと指摘事項）",
)
def get_inspection(request: HttpRequest, contract_id: int, inspection_id: int) -> Inspection:
    return _inspection(request, contract_id, inspection_id)[1]


@router.post(
    "/{contract_id}/inspections/{inspection_id}/start",
    response={200: InspectionOut, **ERRORS},
    summary="検査を開始する",
)
def start_inspection(request: HttpRequest, contract_id: int, inspection_id: int) -> Inspection:
    contract, found = _inspection(request, contract_id, inspection_id)
    inspections.start_inspection(found, acting_user=request.user)
    return _fresh(request, contract, inspection_id)


@router.post(
    "/{contract_id}/inspections/{inspection_id}/items/{inspection_item_id}",
    response={200: InspectionOut, **ERRORS},
    summary="検査項目の結果を記録する",
)
def record_item(
    request: HttpRequest,
    contract_id: int,
    inspection_id: int,
    inspection_item_id: int,
    payload: InspectionItemIn,
) -> Inspection:
    contract, found = _inspection(request, contract_id, inspection_id)
    item = selectors.item(request.user, found, inspection_item_id)
    inspections.record_item(item, acting_user=request.user, result=payload.result, note=payload.note)
    return _fresh(request, contract, inspection_id)


@router.post(
    "/{contract_id}/inspections/{inspection_id}/items/{inspection_item_id}/findings",
    response={201: InspectionFindingOut, **ERRORS},
    summary="指摘事項と是正要求を登録する",
)
def add_finding(
    request: HttpRequest,
    contract_id: int,
    inspection_id: int,
    inspection_item_id: int,
    payload: InspectionFindingIn,
) -> Status[InspectionFinding]:
    _contract, found = _inspection(request, contract_id, inspection_id)
    item = selectors.item(request.user, found, inspection_item_id)
    finding = inspections.add_finding(
        item,
        acting_user=request.user,
        description=payload.description,
        corrective_request=payload.corrective_request,
        due_on=payload.due_on,
    )
    return Status(201, selectors.finding(request.user, found, finding.pk))


@router.post(
    "/{contract_id}/inspections/{inspection_id}/complete",
    response={200: InspectionOut, **ERRORS},
    summary="検査を完了する（以後は変更不可）",
)
def complete_inspection(
    request: HttpRequest, contract_id: int, inspection_id: int, payload: InspectionCompleteIn
) -> Inspection:
    contract, found = _inspection(request, contract_id, inspection_id)
    inspections.complete_inspection(found, acting_user=request.user, summary=payload.summary)
    return _fresh(request, contract, inspection_id)


@router.post(
    "/{contract_id}/inspections/{inspection_id}/cancel",
    response={200: InspectionOut, **ERRORS},
    summary="検査を中止する",
)
def cancel_inspection(
    request: HttpRequest, contract_id: int, inspection_id: int, payload: InspectionCancelIn
) -> Inspection:
    contract, found = _inspection(request, contract_id, inspection_id)
    inspections.cancel_inspection(found, acting_user=request.user, reason=payload.reason)
    return _fresh(request, contract, inspection_id)


def _finding(
    request: HttpRequest, contract_id: int, inspection_id: int, inspection_finding_id: int
) -> tuple[Inspection, InspectionFinding]:
    _contract, found = _inspection(request, contract_id, inspection_id)
    return found, selectors.finding(request.user, found, inspection_finding_id)


@router.post(
    "/{contract_id}/inspections/{inspection_id}/findings/{inspection_finding_id}/response",
    response={200: InspectionFindingOut, **ERRORS},
    summary="是正の内容を報告する",
)
def respond_to_finding(
    request: HttpRequest,
    contract_id: int,
    inspection_id: int,
    inspection_finding_id: int,
    payload: FindingResponseIn,
) -> InspectionFinding:
    found, finding = _finding(request, contract_id, inspection_id, inspection_finding_id)
    inspections.respond_to_finding(finding, acting_user=request.user, response=payload.response)
    return selectors.finding(request.user, found, inspection_finding_id)


@router.post(
    "/{contract_id}/inspections/{inspection_id}/findings/{inspection_finding_id}/close",
    response={200: InspectionFindingOut, **ERRORS},
    summary="是正を確認する",
)
def close_finding(
    request: HttpRequest,
    contract_id: int,
    inspection_id: int,
    inspection_finding_id: int,
    payload: FindingCloseIn,
) -> InspectionFinding:
    found, finding = _finding(request, contract_id, inspection_id, inspection_finding_id)
    inspections.close_finding(finding, acting_user=request.user, note=payload.note)
    return selectors.finding(request.user, found, inspection_finding_id)


@router.post(
    "/{contract_id}/inspections/{inspection_id}/findings/{inspection_finding_id}/reopen",
    response={200: InspectionFindingOut, **ERRORS},
    summary="再度の是正を求める",
)
def reopen_finding(
    request: HttpRequest,
    contract_id: int,
    inspection_id: int,
    inspection_finding_id: int,
    payload: FindingReopenIn,
) -> InspectionFinding:
    found, finding = _finding(request, contract_id, inspection_id, inspection_finding_id)
    inspections.reopen_finding(
        finding, acting_user=request.user, instruction=payload.instruction, due_on=payload.due_on
    )
    return selectors.finding(request.user, found, inspection_finding_id)


def _download(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@router.get(
    "/{contract_id}/inspections/{inspection_id}/report.pdf",
    response={200: bytes, **ERRORS},
    summary="検査結果通知書（PDF）",
)
def inspection_report_pdf(request: HttpRequest, contract_id: int, inspection_id: int) -> HttpResponse:
    _contract, found = _inspection(request, contract_id, inspection_id)
    return _download(documents.pdf(documents.content(found)), "application/pdf", f"inspection-{found.pk}.pdf")


@router.get(
    "/{contract_id}/inspections/{inspection_id}/report.docx",
    response={200: bytes, **ERRORS},
    summary="検査結果通知書（Word）",
)
def inspection_report_docx(request: HttpRequest, contract_id: int, inspection_id: int) -> HttpResponse:
    _contract, found = _inspection(request, contract_id, inspection_id)
    return _download(documents.docx(documents.content(found)), DOCX, f"inspection-{found.pk}.docx")


# --- inspectors ----------------------------------------------------------------------------------------------------


@router.get(
    "/{contract_id}/inspectors",
    response={200: list[InspectorOut], **ERRORS},
    summary="監査人・検査員（期限付きの閲覧権限を含む）",
)
def list_inspectors(request: HttpRequest, contract_id: int) -> list[Membership]:
    contract = contract_for(request, contract_id, "oversight.view")
    return list(selectors.inspector_memberships(request.user, contract))


@router.post(
    "/{contract_id}/inspectors",
    response={201: InspectorOut, **ERRORS},
    summary="検査員に期限付きの閲覧権限を与える",
)
def grant_inspector(request: HttpRequest, contract_id: int, payload: InspectorGrantIn) -> Status[Membership]:
    contract = contract_for(request, contract_id, "oversight.view")
    user = User.objects.filter(username=payload.username, is_active=True).first()
    if user is None:
        raise Invalid("指定された利用者が見つかりません。", code="unknown_user")
    membership = inspectors.grant_inspector(
        contract, acting_user=request.user, user=user, expires_at=payload.expires_at
    )
    return Status(201, membership)
