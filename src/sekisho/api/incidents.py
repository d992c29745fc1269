"""Incidents and near misses (R2.8.1, R2.8.2, P10): report, the workflow steps, the deadlines, the report
document; and the orderer's list across its contracts."""

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from sekisho.core.errors import Invalid
from sekisho.core.models import Contract
from sekisho.incidents import documents, selectors, services
from sekisho.incidents.models import Incident, IncidentSettings, IncidentState
from sekisho.ledger.models import Asset

from .ledger import contract_for
from .schemas import BoundedLimitOffsetPagination, DbId, ErrorOut

router = Router(tags=["incidents"])
orderer_router = Router(tags=["incidents"])
ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class DeadlineOut(Schema):
    key: str
    label: str
    rule: str
    due: dt.date
    required: bool
    met_on: dt.date | None
    status: str


class TriggersOut(Schema):
    sensitive: bool
    financial: bool
    wrongful_purpose: bool
    over_1000: bool
    over_100: bool
    encrypted: bool
    business_report_required: bool
    public_body_report_required: bool


class IncidentOut(Schema):
    id: int
    contract_id: int
    contract_number: str
    ref: str
    near_miss: bool
    kind: str
    kind_label: str
    title: str
    description: str
    occurred_at: dt.datetime | None
    detected_at: dt.datetime
    reported_at: dt.datetime
    reported_by: str
    notified_at: dt.datetime | None
    seconds_to_report: float
    seconds_to_notify: float | None
    asset_ids: list[DbId]
    has_personal_info: bool
    personal_categories: list[str]
    personal_count: int | None
    personal_sensitive: bool
    financial_damage_risk: bool
    wrongful_purpose: bool
    encrypted: bool
    state: str
    state_label: str
    allowed_next: list[str]
    cause: str
    secondary_damage: str
    corrective_measures: str
    response_to_individuals: str
    publication: str
    prevention: str
    other_notes: str
    orderer_instruction: str
    prompt_reported_on: dt.date | None
    final_reported_on: dt.date | None
    closed_at: dt.datetime | None
    triggers: TriggersOut
    deadlines: list[DeadlineOut]
    overdue: bool


class IncidentIn(Schema):
    kind: str
    title: str
    description: str
    detected_at: dt.datetime
    occurred_at: dt.datetime | None = None
    near_miss: bool = False
    asset_ids: list[DbId] = []
    has_personal_info: bool = False
    personal_categories: list[str] = []
    personal_count: int | None = None
    personal_sensitive: bool = False
    financial_damage_risk: bool = False
    wrongful_purpose: bool = False
    encrypted: bool = False


class FactsIn(IncidentIn):
    note: str = ""


class NoteIn(Schema):
    note: str = ""


class CauseIn(Schema):
    cause: str
    secondary_damage: str = ""


class CorrectiveIn(Schema):
    measures: str
    response_to_individuals: str = ""
    publication: str = ""


class PreventionIn(Schema):
    prevention: str
    other_notes: str = ""


class ReturnIn(Schema):
    instruction: str


class AuthorityReportIn(Schema):
    stage: str
    reported_on: dt.date
    note: str = ""


class SettingsIn(Schema):
    orderer_notice_days: int
    prompt_report_business_days: int


class SettingsOut(Schema):
    orderer_notice_days: int
    prompt_report_business_days: int


class IncidentQuery(Schema):
    state: str = ""
    open: bool | None = None


def _out(row: selectors.Row) -> dict[str, object]:
    i, t = row.incident, row.incident.triggers
    return {
        **{
            name: getattr(i, name)
            for name in (
                "id",
                "contract_id",
                "ref",
                "near_miss",
                "kind",
                "title",
                "description",
                "occurred_at",
                "detected_at",
                "reported_at",
                "notified_at",
                "has_personal_info",
                "personal_categories",
                "personal_count",
                "personal_sensitive",
                "financial_damage_risk",
                "wrongful_purpose",
                "encrypted",
                "state",
                "cause",
                "secondary_damage",
                "corrective_measures",
                "response_to_individuals",
                "publication",
                "prevention",
                "other_notes",
                "orderer_instruction",
                "prompt_reported_on",
                "final_reported_on",
                "closed_at",
            )
        },
        "contract_number": i.contract.number,
        "kind_label": str(i.get_kind_display()),
        "state_label": str(i.get_state_display()),
        "allowed_next": sorted(i.allowed_next()),
        "reported_by": i.reported_by.username,
        "seconds_to_report": i.time_to_report.total_seconds(),
        "seconds_to_notify": i.time_to_notify.total_seconds() if i.time_to_notify is not None else None,
        "asset_ids": sorted(a.pk for a in i.assets.all()),
        "triggers": {
            "sensitive": t.sensitive,
            "financial": t.financial,
            "wrongful_purpose": t.wrongful_purpose,
            "over_1000": t.over_business_threshold,
            "over_100": t.over_public_body_threshold,
            "encrypted": t.encrypted,
            "business_report_required": t.business_report,
            "public_body_report_required": t.public_body_report,
        },
        "deadlines": [
            {
                "key": d.key,
                "label": d.label,
                "rule": d.rule,
                "due": d.due,
                "required": d.required,
                "met_on": d.met_on,
                "status": d.status(row.today),
            }
            for d in row.deadlines
        ],
        "overdue": bool(row.overdue),
    }


def _outs(incidents: list[Incident]) -> list[dict[str, object]]:
    return [_out(row) for row in selectors.rows(incidents)]


def _one(request: HttpRequest, contract: Contract, incident_id: int) -> dict[str, object]:
    return _out(selectors.rows([selectors.incident(request.user, contract, incident_id)])[0])


def _assets(contract: Contract, ids: list[int]) -> list[Asset]:
    found = list(Asset.objects.filter(contract=contract, pk__in=ids))
    if len(found) != len(set(ids)):
        raise Invalid("対象の台帳情報が見つかりません。", code="unknown_asset")
    return found


def _data(contract: Contract, payload: IncidentIn) -> services.IncidentData:
    body = payload.dict(exclude={"asset_ids", "note"})
    return services.IncidentData(**body, assets=_assets(contract, payload.asset_ids))


def _filtered(qs: QuerySet[Incident], filters: IncidentQuery) -> QuerySet[Incident]:
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.open is True:
        qs = qs.exclude(state=IncidentState.CLOSED)
    elif filters.open is False:
        qs = qs.filter(state=IncidentState.CLOSED)
    return qs


class _RowsPagination(BoundedLimitOffsetPagination):
    """Pages the incidents first, then computes the deadlines of the page only."""

    def paginate_queryset(
        self,
        queryset: QuerySet[Incident],
        pagination: LimitOffsetPagination.Input,
        request: HttpRequest,
        **params: Any,
    ) -> Any:
        page = super().paginate_queryset(queryset, pagination, request, **params)
        items = page[self.items_attribute]
        page[self.items_attribute] = _outs(list(items.prefetch_related("assets")))
        return page


@router.get(
    "/{contract_id}/incidents",
    response={200: list[IncidentOut], **ERRORS},
    summary="事故・ヒヤリハットの一覧",
)
@paginate(_RowsPagination)
def list_incidents(request: HttpRequest, contract_id: int, filters: Query[IncidentQuery]) -> object:
    contract = contract_for(request, contract_id, "incident.view")
    return _filtered(selectors.contract_incidents(request.user, contract), filters)


@router.post(
    "/{contract_id}/incidents", response={201: IncidentOut, **ERRORS}, summary="事故・ヒヤリハットの報告"
)
def report_incident(request: HttpRequest, contract_id: int, payload: IncidentIn) -> Status[dict[str, object]]:
    contract = contract_for(request, contract_id, "incident.view")  # the service refuses, naming R2.8.1
    incident = services.report_incident(contract, acting_user=request.user, data=_data(contract, payload))
    return Status(201, _one(request, contract, incident.pk))


@router.get(
    "/{contract_id}/incidents/{incident_id}",
    response={200: IncidentOut, **ERRORS},
    summary="事案の詳細と期限",
)
def get_incident(request: HttpRequest, contract_id: int, incident_id: int) -> dict[str, object]:
    contract = contract_for(request, contract_id, "incident.view")
    return _one(request, contract, incident_id)


def _step(request: HttpRequest, contract_id: int, incident_id: int) -> tuple[Contract, Incident]:
    contract = contract_for(request, contract_id, "incident.view")
    return contract, selectors.incident(request.user, contract, incident_id)


@router.post(
    "/{contract_id}/incidents/{incident_id}/notify-orderer",
    response={200: IncidentOut, **ERRORS},
    summary="発注者への通知の再試行",
)
def notify_orderer(request: HttpRequest, contract_id: int, incident_id: int) -> dict[str, object]:
    contract, incident = _step(request, contract_id, incident_id)
    services.notify_orderer(incident, acting_user=request.user)
    return _one(request, contract, incident_id)


@router.post(
    "/{contract_id}/incidents/{incident_id}/investigation",
    response={200: IncidentOut, **ERRORS},
    summary="調査の開始",
)
def start_investigation(
    request: HttpRequest, contract_id: int, incident_id: int, payload: NoteIn
) -> dict[str, object]:
    contract, incident = _step(request, contract_id, incident_id)
    services.start_investigation(incident, acting_user=request.user, note=payload.note)
    return _one(request, contract, incident_id)


@router.post(
    "/{contract_id}/incidents/{incident_id}/cause",
    response={200: IncidentOut, **ERRORS},
    summary="原因の記録",
)
def record_cause(
    request: HttpRequest, contract_id: int, incident_id: int, payload: CauseIn
) -> dict[str, object]:
    contract, incident = _step(request, contract_id, incident_id)
    services.record_cause(
        incident, acting_user=request.user, cause=payload.cause, secondary_damage=payload.secondary_damage
    )
    return _one(request, contract, incident_id)


@router.post(
    "/{contract_id}/incidents/{incident_id}/corrective-measures",
    response={200: IncidentOut, **ERRORS},
    summary="是正・補完措置の記録",
)
def record_corrective_measures(
    request: HttpRequest, contract_id: int, incident_id: int, payload: CorrectiveIn
) -> dict[str, object]:
    contract, incident = _step(request, contract_id, incident_id)
    services.record_corrective_measures(
        incident,
        acting_user=request.user,
        measures=payload.measures,
        response_to_individuals=payload.response_to_individuals,
        publication=payload.publication,
    )
    return _one(request, contract, incident_id)


@router.post(
    "/{contract_id}/incidents/{incident_id}/prevention",
    response={200: IncidentOut, **ERRORS},
    summary="再発防止策の記録",
)
def record_prevention(
    request: HttpRequest, contract_id: int, incident_id: int, payload: PreventionIn
) -> dict[str, object]:
    contract, incident = _step(request, contract_id, incident_id)
    services.record_prevention(
        incident, acting_user=request.user, prevention=payload.prevention, other_notes=payload.other_notes
    )
    return _one(request, contract, incident_id)


@router.post(
    "/{contract_id}/incidents/{incident_id}/close",
    response={200: IncidentOut, **ERRORS},
    summary="完了（発注者の確認）",
)
def close_incident(
    request: HttpRequest, contract_id: int, incident_id: int, payload: NoteIn
) -> dict[str, object]:
    contract, incident = _step(request, contract_id, incident_id)
    services.close_incident(incident, acting_user=request.user, note=payload.note)
    return _one(request, contract, incident_id)


@router.post(
    "/{contract_id}/incidents/{incident_id}/return",
    response={200: IncidentOut, **ERRORS},
    summary="差戻し（発注者の指示）",
)
def return_incident(
    request: HttpRequest, contract_id: int, incident_id: int, payload: ReturnIn
) -> dict[str, object]:
    contract, incident = _step(request, contract_id, incident_id)
    services.return_incident(incident, acting_user=request.user, instruction=payload.instruction)
    return _one(request, contract, incident_id)


@router.post(
    "/{contract_id}/incidents/{incident_id}/facts",
    response={200: IncidentOut, **ERRORS},
    summary="事実関係の更新",
)
def revise_facts(
    request: HttpRequest, contract_id: int, incident_id: int, payload: FactsIn
) -> dict[str, object]:
    contract, incident = _step(request, contract_id, incident_id)
    services.revise_facts(
        incident, acting_user=request.user, data=_data(contract, payload), note=payload.note
    )
    return _one(request, contract, incident_id)


@router.post(
    "/{contract_id}/incidents/{incident_id}/authority-reports",
    response={200: IncidentOut, **ERRORS},
    summary="個人情報保護委員会への速報・確報の記録",
)
def record_authority_report(
    request: HttpRequest, contract_id: int, incident_id: int, payload: AuthorityReportIn
) -> dict[str, object]:
    contract, incident = _step(request, contract_id, incident_id)
    services.record_authority_report(
        incident,
        acting_user=request.user,
        stage=payload.stage,
        reported_on=payload.reported_on,
        note=payload.note,
    )
    return _one(request, contract, incident_id)


def _document(request: HttpRequest, contract_id: int, incident_id: int) -> documents.Content:
    contract, incident = _step(request, contract_id, incident_id)
    return documents.content(incident, contract_settings=services.contract_settings(contract))


def _download(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@router.get(
    "/{contract_id}/incidents/{incident_id}/report.pdf",
    response={200: bytes, **ERRORS},
    summary="報告書（PDF）",
)
def report_pdf(request: HttpRequest, contract_id: int, incident_id: int) -> HttpResponse:
    report = _document(request, contract_id, incident_id)
    return _download(documents.pdf(report), "application/pdf", f"incident-{incident_id}.pdf")


@router.get(
    "/{contract_id}/incidents/{incident_id}/report.docx",
    response={200: bytes, **ERRORS},
    summary="報告書（Word）",
)
def report_docx(request: HttpRequest, contract_id: int, incident_id: int) -> HttpResponse:
    report = _document(request, contract_id, incident_id)
    return _download(
        documents.docx(report),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        f"incident-{incident_id}.docx",
    )


@router.get(
    "/{contract_id}/incident-settings", response={200: SettingsOut, **ERRORS}, summary="報告期限の設定"
)
def get_settings(request: HttpRequest, contract_id: int) -> dict[str, int]:
    contract = contract_for(request, contract_id, "incident.view")
    row = services.contract_settings(contract)
    probe = IncidentSettings()
    return {
        "orderer_notice_days": row.orderer_notice_days if row else probe.orderer_notice_days,
        "prompt_report_business_days": (
            row.prompt_report_business_days if row else probe.prompt_report_business_days
        ),
    }


@router.post(
    "/{contract_id}/incident-settings", response={200: SettingsOut, **ERRORS}, summary="報告期限の設定の変更"
)
def set_settings(request: HttpRequest, contract_id: int, payload: SettingsIn) -> IncidentSettings:
    contract = contract_for(request, contract_id, "incident.view")
    return services.configure_deadlines(
        contract,
        acting_user=request.user,
        orderer_notice_days=payload.orderer_notice_days,
        prompt_report_business_days=payload.prompt_report_business_days,
    )


@orderer_router.get("", response={200: list[IncidentOut]}, summary="発注者担当の全契約の事故・ヒヤリハット")
@paginate(_RowsPagination)
def orderer_incidents(request: HttpRequest, filters: Query[IncidentQuery]) -> object:
    """Every incident of every contract where the caller is an orderer officer, across contractors."""
    return _filtered(selectors.orderer_incidents(request.user), filters)
