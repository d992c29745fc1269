import datetime as dt

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate

from sekisho.core import policy
from sekisho.core.errors import Invalid
from sekisho.ledger.models import Asset
from sekisho.permits import services
from sekisho.permits.models import Permit

from .ledger import contract_for
from .schemas import BoundedLimitOffsetPagination, DbId, ErrorOut

router = Router(tags=["permits"])
ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class PermitOut(Schema):
    id: int
    kind: str
    kind_label: str
    clause: str
    state: str
    requester: str
    asset_ids: list[DbId]
    reason: str
    copies: int | None
    recipient: str
    purpose: str
    valid_from: dt.date
    valid_until: dt.date
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str
    conditions: str
    requested_at: dt.datetime

    @staticmethod
    def resolve_kind_label(obj: Permit) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_requester(obj: Permit) -> str:
        return obj.requester.username

    @staticmethod
    def resolve_decided_by(obj: Permit) -> str | None:
        return obj.decided_by.username if obj.decided_by else None

    @staticmethod
    def resolve_asset_ids(obj: Permit) -> list[int]:
        return [a.pk for a in obj.assets.all()]


class PermitIn(Schema):
    kind: str
    asset_ids: list[DbId] = []
    reason: str
    copies: int | None = None
    recipient: str = ""
    purpose: str = ""
    valid_from: dt.date
    valid_until: dt.date


class DecisionIn(Schema):
    approve: bool
    note: str = ""
    conditions: str = ""


class RevokeIn(Schema):
    note: str


class UseIn(Schema):
    kind: str
    asset_ids: list[DbId]
    note: str = ""
    recipient: str = ""


class PermitQuery(Schema):
    state: str = ""
    kind: str = ""


def _assets(contract_id: int, ids: list[int]) -> list[Asset]:
    found = list(Asset.objects.filter(contract_id=contract_id, pk__in=ids))
    if len(found) != len(set(ids)):
        raise Invalid("対象の台帳情報が見つかりません。", code="unknown_asset")
    return found


def _permit(request: HttpRequest, contract_id: int, permit_id: int) -> Permit:
    return policy.get_visible(request.user, Permit, pk=permit_id, contract_id=contract_id)


def _permits_qs(request: HttpRequest, contract_id: int) -> object:
    return (
        policy.visible(request.user, Permit)
        .filter(contract_id=contract_id)
        .select_related("requester", "decided_by")
        .prefetch_related("assets")
    )


@router.get("/{contract_id}/permits", response={200: list[PermitOut], **ERRORS}, summary="承諾・許可の一覧")
@paginate(BoundedLimitOffsetPagination)
def list_permits(request: HttpRequest, contract_id: int, filters: Query[PermitQuery]) -> object:
    contract_for(request, contract_id, "permit.view")
    qs = _permits_qs(request, contract_id)
    if filters.state:
        qs = qs.filter(state=filters.state)  # type: ignore[attr-defined]
    if filters.kind:
        qs = qs.filter(kind=filters.kind)  # type: ignore[attr-defined]
    return qs


@router.post("/{contract_id}/permits", response={201: PermitOut, **ERRORS}, summary="承諾・許可の申請")
def request_permit(request: HttpRequest, contract_id: int, payload: PermitIn) -> Status[Permit]:
    contract = contract_for(request, contract_id, "permit.request")
    permit = services.request_permit(
        contract,
        acting_user=request.user,
        kind=payload.kind,
        assets=_assets(contract.pk, payload.asset_ids),
        reason=payload.reason,
        copies=payload.copies,
        recipient=payload.recipient,
        purpose=payload.purpose,
        valid_from=payload.valid_from,
        valid_until=payload.valid_until,
    )
    return Status(201, permit)


@router.get(
    "/{contract_id}/permits/{permit_id}", response={200: PermitOut, **ERRORS}, summary="承諾・許可の詳細"
)
def get_permit(request: HttpRequest, contract_id: int, permit_id: int) -> Permit:
    contract_for(request, contract_id, "permit.view")
    return _permit(request, contract_id, permit_id)


@router.post(
    "/{contract_id}/permits/{permit_id}/decision",
    response={200: PermitOut, **ERRORS},
    summary="承諾・不承諾の決定",
)
def decide(request: HttpRequest, contract_id: int, permit_id: int, payload: DecisionIn) -> Permit:
    contract_for(request, contract_id, "permit.view")
    return services.decide_permit(
        _permit(request, contract_id, permit_id),
        acting_user=request.user,
        approve=payload.approve,
        note=payload.note,
        conditions=payload.conditions,
    )


@router.post(
    "/{contract_id}/permits/{permit_id}/revoke", response={200: PermitOut, **ERRORS}, summary="承諾の取消"
)
def revoke(request: HttpRequest, contract_id: int, permit_id: int, payload: RevokeIn) -> Permit:
    contract_for(request, contract_id, "permit.view")
    return services.revoke_permit(
        _permit(request, contract_id, permit_id), acting_user=request.user, note=payload.note
    )


@router.post(
    "/{contract_id}/permits/{permit_id}/use",
    response={200: PermitOut, **ERRORS},
    summary="承諾に基づく目的外使用・第三者提供の記録",
)
def use(request: HttpRequest, contract_id: int, permit_id: int, payload: UseIn) -> Permit:
    contract_for(request, contract_id, "permit.view")
    permit = _permit(request, contract_id, permit_id)
    services.use_permit(
        permit,
        acting_user=request.user,
        kind=payload.kind,
        assets=_assets(contract_id, payload.asset_ids),
        note=payload.note,
        recipient=payload.recipient,
    )
    permit.refresh_from_db()
    return permit
