"""People API: roster, training and acknowledgements, appointments and the pledge, subcontractors
(R2.4.1–R2.4.3, R2.6.1, P2–P4, P8). Every step goes through the people services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from sekisho.core import policy
from sekisho.core.errors import Invalid
from sekisho.core.models import Organisation, User
from sekisho.people import documents, gates, pledges, reports, selectors, services, subcontracts
from sekisho.people.models import Appointment, Pledge, Programme, RosterEntry, Subcontract

from .ledger import contract_for
from .schemas import DbId, ErrorOut

router = Router(tags=["people"])
ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
FILE_ERRORS = {403: ErrorOut, 404: ErrorOut}


def _binary(content_type: str, description: str) -> dict[str, Any]:
    schema = {"type": "string", "format": "binary"}
    return {"responses": {200: {"description": description, "content": {content_type: {"schema": schema}}}}}


def _file(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- schemas --------------------------------------------------------------------------------------------------


class ClearanceOut(Schema):
    cleared: bool
    error: str | None
    clause: str | None
    message: str | None
    missing_programmes: list[int]
    personal_info: bool


class RosterOut(Schema):
    id: int
    name: str
    name_kana: str
    organisation: str
    category: str
    category_label: str
    department: str
    position: str
    contact: str
    username: str | None
    started_on: dt.date
    left_at: dt.datetime | None
    leaving_kind: str
    exit_acknowledged_at: dt.datetime | None

    @staticmethod
    def resolve_organisation(obj: RosterEntry) -> str:
        return obj.organisation.name

    @staticmethod
    def resolve_category_label(obj: RosterEntry) -> str:
        return str(obj.get_category_display())

    @staticmethod
    def resolve_username(obj: RosterEntry) -> str | None:
        return obj.user.username if obj.user else None

    @staticmethod
    def resolve_exit_acknowledged_at(obj: RosterEntry) -> dt.datetime | None:
        return obj.exit_ack_at


class RosterIn(Schema):
    name: str
    organisation_id: int
    category: str
    started_on: dt.date
    username: str | None = None
    name_kana: str = ""
    department: str = ""
    position: str = ""
    contact: str = ""


class LeaveIn(Schema):
    left_at: dt.datetime
    kind: str
    note: str = ""
    exit_ack_name: str = ""


class TypedNameIn(Schema):
    typed_name: str


class ProgrammeOut(Schema):
    id: int
    code: str
    title: str
    required_roles: list[str]
    recurrence_months: int
    reminder_days: int
    active: bool
    version: int | None
    version_id: int | None
    content: str | None
    content_sha256: str | None

    @staticmethod
    def resolve_version(obj: Programme) -> int | None:
        return obj.current_version.number if obj.current_version else None

    @staticmethod
    def resolve_version_id(obj: Programme) -> int | None:
        return obj.current_version_id

    @staticmethod
    def resolve_content(obj: Programme) -> str | None:
        return obj.current_version.content if obj.current_version else None

    @staticmethod
    def resolve_content_sha256(obj: Programme) -> str | None:
        return obj.current_version.content_sha256 if obj.current_version else None


class ProgrammeIn(Schema):
    code: str
    title: str
    content: str
    required_roles: list[str]
    recurrence_months: int = 12
    reminder_days: int = 30


class VersionIn(Schema):
    content: str


class TrainingVersionOut(Schema):
    programme_id: int
    number: int
    content_sha256: str
    published_at: dt.datetime


class AcknowledgeIn(Schema):
    typed_name: str
    version_id: int | None = None


class AcknowledgementOut(Schema):
    id: int
    programme_id: int
    version: int
    typed_name: str
    content_sha256: str
    acknowledged_at: dt.datetime
    expires_at: dt.datetime | None

    @staticmethod
    def resolve_version(obj: Any) -> int:
        return int(obj.version.number)


class StatusCellOut(Schema):
    programme_id: int
    state: str
    acknowledged_at: dt.datetime | None
    expires_at: dt.datetime | None


class PersonStatusOut(Schema):
    entry_id: int
    name: str
    role: str
    cleared: bool
    programmes: list[StatusCellOut]


class PersonOut(Schema):
    name: str
    department: str
    position: str
    contact: str


class AppointmentOut(Schema):
    id: int
    kind: str
    entry_id: int
    person: PersonOut
    appointed_at: dt.datetime
    ended_at: dt.datetime | None

    @staticmethod
    def resolve_person(obj: Appointment) -> dict[str, str]:
        e = obj.entry
        return {"name": e.name, "department": e.department, "position": e.position, "contact": e.contact}


class AppointIn(Schema):
    kind: str
    entry_id: int


class PledgeOut(Schema):
    version: int
    typed_name: str
    signed_by: str
    signed_at: dt.datetime
    content_sha256: str
    current: bool
    verified: bool
    superseded_reason: str

    @staticmethod
    def resolve_signed_by(obj: Pledge) -> str:
        return obj.signed_by.username

    @staticmethod
    def resolve_current(obj: Pledge) -> bool:
        return obj.is_current

    @staticmethod
    def resolve_verified(obj: Pledge) -> bool:
        return pledges.verify_pledge(obj)


class PledgeIn(Schema):
    addressee: str
    representative: str
    typed_name: str
    seal_box: bool = False


class SubcontractOut(Schema):
    id: int
    organisation: str
    scope: str
    responsible_name: str
    permit_id: int
    permit_state: str
    personal_info_permit_id: int | None
    personal_info_permit_state: str | None
    flowdown_at: dt.datetime | None
    flowdown_typed_name: str

    @staticmethod
    def resolve_organisation(obj: Subcontract) -> str:
        return obj.organisation.name

    @staticmethod
    def resolve_permit_state(obj: Subcontract) -> str:
        return obj.permit.state

    @staticmethod
    def resolve_personal_info_permit_id(obj: Subcontract) -> int | None:
        return obj.pi_permit_id

    @staticmethod
    def resolve_personal_info_permit_state(obj: Subcontract) -> str | None:
        return obj.pi_permit.state if obj.pi_permit else None


class SubcontractIn(Schema):
    organisation_id: DbId | None = Field(
        None,
        description="再委託先・下請負者（この契約・受注者に関係する組織のID）。organisation_name とどちらか一方",
    )
    organisation_name: str = Field(
        "",
        max_length=200,
        description="新しい（一覧にない）再委託先・下請負者の名称。organisation_id とどちらか一方",
    )
    scope: str
    responsible_name: str
    responsible_title: str = ""
    reason: str
    valid_from: dt.date
    valid_until: dt.date
    personal_info: bool = False


class ConsentIn(Schema):
    reason: str
    valid_from: dt.date
    valid_until: dt.date


def _entry(request: HttpRequest, contract_id: int, entry_id: int) -> RosterEntry:
    return policy.get_visible(request.user, RosterEntry, pk=entry_id, contract_id=contract_id)


def _programme(request: HttpRequest, contract_id: int, programme_id: int) -> Programme:
    return policy.get_visible(request.user, Programme, pk=programme_id, contract_id=contract_id)


def _subcontract(request: HttpRequest, contract_id: int, sub_id: int) -> Subcontract:
    return policy.get_visible(request.user, Subcontract, pk=sub_id, contract_id=contract_id)


# --- clearance and roster ---------------------------------------------------------------------------------------


@router.get(
    "/{contract_id}/people/clearance",
    response={200: ClearanceOut, **ERRORS},
    summary="自分が行政情報に接せるか",
)
def clearance(request: HttpRequest, contract_id: int) -> dict[str, Any]:
    contract = contract_for(request, contract_id, "training.view")
    role = policy.role_in(request.user, contract) or ""
    status = gates.clearance(request.user, contract, role)
    refusal = status.refusal
    return {
        "cleared": refusal is None,
        "error": refusal.code if refusal else None,
        "clause": refusal.clause if refusal else None,
        "message": refusal.message if refusal else None,
        "missing_programmes": [p.id for p in status.missing],
        "personal_info": status.personal_info,
    }


@router.get("/{contract_id}/people/roster", response={200: list[RosterOut], **ERRORS}, summary="社員等名簿")
def roster(request: HttpRequest, contract_id: int) -> list[RosterEntry]:
    contract = contract_for(request, contract_id, "people.view")
    return list(selectors.roster(contract))


@router.post(
    "/{contract_id}/people/roster", response={201: RosterOut, **ERRORS}, summary="社員等名簿への登録"
)
def add_to_roster(request: HttpRequest, contract_id: int, payload: RosterIn) -> Status[RosterEntry]:
    contract = contract_for(request, contract_id, "people.manage")
    organisation = Organisation.objects.filter(pk=payload.organisation_id).first()
    if organisation is None:
        raise Invalid("組織が見つかりません。", code="unknown_organisation")
    user = None
    if payload.username:
        user = User.objects.filter(username=payload.username).first()
        if user is None:
            raise Invalid("指定された利用者が見つかりません。", code="unknown_user")
    entry = services.add_to_roster(
        contract,
        acting_user=request.user,
        organisation=organisation,
        user=user,
        name=payload.name,
        name_kana=payload.name_kana,
        category=payload.category,
        department=payload.department,
        position=payload.position,
        contact=payload.contact,
        started_on=payload.started_on,
    )
    return Status(201, entry)


@router.post(
    "/{contract_id}/people/roster/{entry_id}/leave",
    response={200: RosterOut, **ERRORS},
    summary="離任・退職の記録（その日時にアクセスを停止）",
)
def leave(request: HttpRequest, contract_id: int, entry_id: int, payload: LeaveIn) -> RosterEntry:
    contract_for(request, contract_id, "people.manage")
    return services.record_leaving(
        _entry(request, contract_id, entry_id),
        acting_user=request.user,
        left_at=payload.left_at,
        kind=payload.kind,
        note=payload.note,
        exit_ack_name=payload.exit_ack_name,
    )


@router.post(
    "/{contract_id}/people/roster/{entry_id}/exit-acknowledgement",
    response={200: RosterOut, **ERRORS},
    summary="退職後も続く義務の確認",
)
def exit_acknowledgement(
    request: HttpRequest, contract_id: int, entry_id: int, payload: TypedNameIn
) -> RosterEntry:
    contract_for(request, contract_id, "contract.view")
    return services.acknowledge_exit_obligations(
        _entry(request, contract_id, entry_id), acting_user=request.user, typed_name=payload.typed_name
    )


@router.get(
    "/{contract_id}/people/roster.xlsx",
    response=FILE_ERRORS,
    summary="社員等名簿（Excel）",
    openapi_extra=_binary(reports.XLSX_CONTENT_TYPE, "社員等名簿（.xlsx）"),
)
def roster_xlsx(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = contract_for(request, contract_id, "people.report")
    body = reports.export(contract, acting_user=request.user, kind="roster")
    return _file(body, reports.XLSX_CONTENT_TYPE, f"roster-{contract.pk}.xlsx")


# --- training -------------------------------------------------------------------------------------------------


@router.get(
    "/{contract_id}/people/training", response={200: list[ProgrammeOut], **ERRORS}, summary="研修の一覧"
)
def programmes(request: HttpRequest, contract_id: int) -> list[Programme]:
    contract = contract_for(request, contract_id, "training.view")
    return list(selectors.programmes(contract))


@router.post("/{contract_id}/people/training", response={201: ProgrammeOut, **ERRORS}, summary="研修の作成")
def create_programme(request: HttpRequest, contract_id: int, payload: ProgrammeIn) -> Status[Programme]:
    contract = contract_for(request, contract_id, "training.manage")
    programme = services.create_programme(
        contract,
        acting_user=request.user,
        code=payload.code,
        title=payload.title,
        content=payload.content,
        required_roles=payload.required_roles,
        recurrence_months=payload.recurrence_months,
        reminder_days=payload.reminder_days,
    )
    return Status(201, selectors.programmes(contract).get(pk=programme.pk))


@router.post(
    "/{contract_id}/people/training/{programme_id}/versions",
    response={201: TrainingVersionOut, **ERRORS},
    summary="研修の新しい版の公開（全員の再確認が必要になる）",
)
def publish_version(
    request: HttpRequest, contract_id: int, programme_id: int, payload: VersionIn
) -> Status[Any]:
    contract_for(request, contract_id, "training.manage")
    version = services.publish_version(
        _programme(request, contract_id, programme_id), acting_user=request.user, content=payload.content
    )
    return Status(201, version)


@router.post(
    "/{contract_id}/people/training/{programme_id}/acknowledge",
    response={201: AcknowledgementOut, **ERRORS},
    summary="研修の内容の確認（署名）",
)
def acknowledge(
    request: HttpRequest, contract_id: int, programme_id: int, payload: AcknowledgeIn
) -> Status[Any]:
    contract_for(request, contract_id, "training.acknowledge")
    ack = services.acknowledge(
        _programme(request, contract_id, programme_id),
        acting_user=request.user,
        typed_name=payload.typed_name,
        version_id=payload.version_id,
    )
    return Status(201, ack)


@router.get(
    "/{contract_id}/people/training/status",
    response={200: list[PersonStatusOut], **ERRORS},
    summary="研修の受講状況（全員）",
)
def training_status(request: HttpRequest, contract_id: int) -> list[dict[str, Any]]:
    contract = contract_for(request, contract_id, "people.view")
    _programmes, people = selectors.training_matrix(contract)
    return [
        {
            "entry_id": p.entry.pk,
            "name": p.entry.name,
            "role": p.role,
            "cleared": p.cleared,
            "programmes": [
                {
                    "programme_id": s.programme.pk,
                    "state": s.state,
                    "acknowledged_at": s.acknowledgement.acknowledged_at if s.acknowledgement else None,
                    "expires_at": s.acknowledgement.expires_at if s.acknowledgement else None,
                }
                for s in p.statuses
            ],
        }
        for p in people
    ]


@router.get(
    "/{contract_id}/people/training.xlsx",
    response=FILE_ERRORS,
    summary="研修の受講状況（Excel）",
    openapi_extra=_binary(reports.XLSX_CONTENT_TYPE, "研修受講状況（.xlsx）"),
)
def training_xlsx(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = contract_for(request, contract_id, "people.report")
    body = reports.export(contract, acting_user=request.user, kind="training")
    return _file(body, reports.XLSX_CONTENT_TYPE, f"training-{contract.pk}.xlsx")


# --- appointments and pledge ----------------------------------------------------------------------------------


@router.get(
    "/{contract_id}/people/appointments",
    response={200: list[AppointmentOut], **ERRORS},
    summary="情報管理責任者・個人情報保護管理責任者の選任（履歴を含む）",
)
def appointments(request: HttpRequest, contract_id: int) -> list[Appointment]:
    contract = contract_for(request, contract_id, "pledge.view")
    return list(
        Appointment.objects.filter(contract=contract).select_related("entry").order_by("-appointed_at")
    )


@router.post(
    "/{contract_id}/people/appointments", response={201: AppointmentOut, **ERRORS}, summary="責任者の選任"
)
def appoint(request: HttpRequest, contract_id: int, payload: AppointIn) -> Status[Appointment]:
    contract = contract_for(request, contract_id, "appointment.manage")
    entry = _entry(request, contract_id, payload.entry_id)
    return Status(201, pledges.appoint(contract, acting_user=request.user, kind=payload.kind, entry=entry))


@router.get("/{contract_id}/people/pledges", response={200: list[PledgeOut], **ERRORS}, summary="誓約書の版")
def list_pledges(request: HttpRequest, contract_id: int) -> list[Pledge]:
    contract = contract_for(request, contract_id, "pledge.view")
    return list(Pledge.objects.filter(contract=contract).select_related("signed_by").order_by("-version"))


@router.post(
    "/{contract_id}/people/pledges", response={201: PledgeOut, **ERRORS}, summary="誓約書（様式1）への署名"
)
def sign_pledge(request: HttpRequest, contract_id: int, payload: PledgeIn) -> Status[Pledge]:
    contract = contract_for(request, contract_id, "pledge.sign")
    pledge = pledges.sign_pledge(
        contract,
        acting_user=request.user,
        addressee=payload.addressee,
        representative=payload.representative,
        typed_name=payload.typed_name,
        seal_box=payload.seal_box,
    )
    return Status(201, pledge)


@router.get(
    "/{contract_id}/people/pledges/{version}/pdf",
    response=FILE_ERRORS,
    summary="誓約書（様式1）のPDF",
    openapi_extra=_binary(documents.PDF_CONTENT_TYPE, "誓約書（PDF）"),
)
def pledge_pdf(request: HttpRequest, contract_id: int, version: int) -> HttpResponse:
    contract = contract_for(request, contract_id, "pledge.view")
    pledge = policy.get_visible(request.user, Pledge, contract=contract, version=version)
    body = documents.pledge_pdf(documents.pledge_data(pledge))
    return _file(body, documents.PDF_CONTENT_TYPE, documents.pledge_filename(contract, pledge, "pdf"))


# --- subcontractors -------------------------------------------------------------------------------------------


@router.get(
    "/{contract_id}/people/subcontracts", response={200: list[SubcontractOut], **ERRORS}, summary="再委託先"
)
def list_subcontracts(request: HttpRequest, contract_id: int) -> list[Subcontract]:
    contract = contract_for(request, contract_id, "subcontract.view")
    return list(selectors.subcontracts(contract))


@router.post(
    "/{contract_id}/people/subcontracts",
    response={201: SubcontractOut, **ERRORS},
    summary="再委託の承諾の申請（個人情報は別の承諾）",
)
def request_subcontract(
    request: HttpRequest, contract_id: int, payload: SubcontractIn
) -> Status[Subcontract]:
    contract = contract_for(request, contract_id, "subcontract.manage")
    organisation = None
    if payload.organisation_id is not None:
        # Only the subcontractors this contract and its contractor work with: an id of another contract's
        # subcontractor is "not found", like one that does not exist (R2.4.3).
        organisation = selectors.subcontractor_choices(contract).filter(pk=payload.organisation_id).first()
        if organisation is None:
            raise Invalid("組織が見つかりません。", code="unknown_organisation")
    sub = subcontracts.request_subcontract(
        contract,
        acting_user=request.user,
        organisation=organisation,
        new_organisation=payload.organisation_name,
        scope=payload.scope,
        responsible_name=payload.responsible_name,
        responsible_title=payload.responsible_title,
        reason=payload.reason,
        valid_from=payload.valid_from,
        valid_until=payload.valid_until,
        personal_info=payload.personal_info,
    )
    return Status(201, sub)


@router.post(
    "/{contract_id}/people/subcontracts/{sub_id}/flowdown",
    response={200: SubcontractOut, **ERRORS},
    summary="再委託先の責任者による取扱規定の遵守の確認",
)
def flowdown(request: HttpRequest, contract_id: int, sub_id: int, payload: TypedNameIn) -> Subcontract:
    contract_for(request, contract_id, "subcontract.view")
    return subcontracts.acknowledge_flowdown(
        _subcontract(request, contract_id, sub_id), acting_user=request.user, typed_name=payload.typed_name
    )


@router.post(
    "/{contract_id}/people/subcontracts/{sub_id}/personal-info",
    response={200: SubcontractOut, **ERRORS},
    summary="再委託先の個人情報の取扱いの承諾の申請（P8）",
)
def personal_info_consent(
    request: HttpRequest, contract_id: int, sub_id: int, payload: ConsentIn
) -> Subcontract:
    contract_for(request, contract_id, "subcontract.view")
    return subcontracts.request_personal_info_consent(
        _subcontract(request, contract_id, sub_id),
        acting_user=request.user,
        reason=payload.reason,
        valid_from=payload.valid_from,
        valid_until=payload.valid_until,
    )
