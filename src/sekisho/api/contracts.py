from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import paginate

from sekisho.audit.models import AuditEvent
from sekisho.audit.selectors import contract_events
from sekisho.core import policy, services
from sekisho.core.errors import Invalid
from sekisho.core.models import Contract, Membership, Organisation, User

from .schemas import BoundedLimitOffsetPagination, ErrorOut

router = Router(tags=["contracts"])
ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class ContractOut(Schema):
    id: int
    number: str
    title: str
    purpose: str
    orderer: str
    contractor: str
    period_start: dt.date
    period_end: dt.date
    status: str
    status_label: str
    my_role: str | None = None

    @staticmethod
    def resolve_orderer(obj: Contract) -> str:
        return obj.orderer.name

    @staticmethod
    def resolve_contractor(obj: Contract) -> str:
        return obj.contractor.name

    @staticmethod
    def resolve_status_label(obj: Contract) -> str:
        return str(obj.get_status_display())


class ContractIn(Schema):
    number: str
    title: str
    purpose: str = ""
    orderer_id: int
    contractor_id: int
    period_start: dt.date
    period_end: dt.date


class TransitionIn(Schema):
    to: str
    note: str = ""


class MembershipOut(Schema):
    id: int
    username: str
    display_name: str
    role: str
    role_label: str
    organisation: str
    started_at: dt.datetime
    ended_at: dt.datetime | None

    @staticmethod
    def resolve_username(obj: Membership) -> str:
        return obj.user.username

    @staticmethod
    def resolve_display_name(obj: Membership) -> str:
        return obj.user.display_name

    @staticmethod
    def resolve_role_label(obj: Membership) -> str:
        return str(obj.get_role_display())

    @staticmethod
    def resolve_organisation(obj: Membership) -> str:
        return obj.organisation.name


class MembershipIn(Schema):
    username: str
    role: str


class EndMembershipIn(Schema):
    reason: str = ""


class AuditEventOut(Schema):
    index: int
    action: str
    actor: str
    object_type: str
    object_id: str
    summary: dict
    occurred_at: dt.datetime
    request_id: str
    prev_hash: str
    hash: str

    @staticmethod
    def resolve_actor(obj: AuditEvent) -> str:
        return obj.actor_label


def _contract(request: HttpRequest, contract_id: int, action: str = "contract.view") -> Contract:
    contract = policy.get_visible(request.user, Contract, pk=contract_id)
    policy.require(request.user, action, contract)
    return contract


@router.get("", response=list[ContractOut], summary="自分が参加している契約の一覧")
def list_contracts(request: HttpRequest) -> list[Contract]:
    return list(policy.visible(request.user, Contract).select_related("orderer", "contractor"))


@router.post("", response={201: ContractOut, **ERRORS}, summary="契約の登録（システム管理者）")
def create_contract(request: HttpRequest, payload: ContractIn) -> Status[Contract]:
    policy.require_system_admin(request.user)
    orgs = Organisation.objects.in_bulk([payload.orderer_id, payload.contractor_id])
    if payload.orderer_id not in orgs or payload.contractor_id not in orgs:
        raise Invalid("組織が見つかりません。")
    contract = services.create_contract(
        acting_user=request.user,
        number=payload.number,
        title=payload.title,
        purpose=payload.purpose,
        orderer=orgs[payload.orderer_id],
        contractor=orgs[payload.contractor_id],
        period_start=payload.period_start,
        period_end=payload.period_end,
    )
    return Status(201, contract)


@router.get("/{contract_id}", response={200: ContractOut, **ERRORS}, summary="契約の詳細")
def get_contract(request: HttpRequest, contract_id: int) -> Contract:
    contract = _contract(request, contract_id)
    contract.my_role = policy.role_in(request.user, contract)  # type: ignore[attr-defined]
    return contract


@router.post("/{contract_id}/transition", response={200: ContractOut, **ERRORS}, summary="契約の状態変更")
def transition(request: HttpRequest, contract_id: int, payload: TransitionIn) -> Contract:
    contract = _contract(request, contract_id)
    if payload.to not in Contract.Status.values:
        raise Invalid("状態の指定が正しくありません。")
    return services.transition_contract(
        contract, acting_user=request.user, to_status=payload.to, note=payload.note
    )


@router.get(
    "/{contract_id}/memberships", response={200: list[MembershipOut], **ERRORS}, summary="契約メンバーの一覧"
)
def list_memberships(request: HttpRequest, contract_id: int) -> list[Membership]:
    contract = _contract(request, contract_id, "membership.view")
    return list(
        policy.visible(request.user, Membership)
        .filter(contract=contract)
        .select_related("user", "organisation")
        .order_by("role", "user__username")
    )


@router.post("/{contract_id}/memberships", response={201: MembershipOut, **ERRORS}, summary="メンバーの追加")
def add_membership(request: HttpRequest, contract_id: int, payload: MembershipIn) -> Status[Membership]:
    contract = _contract(request, contract_id, "membership.manage")
    user = User.objects.filter(username=payload.username, is_active=True).first()
    if user is None:
        raise Invalid("指定された利用者が見つかりません。", code="unknown_user")
    return Status(201, services.add_member(contract, acting_user=request.user, user=user, role=payload.role))


@router.post(
    "/{contract_id}/memberships/{membership_id}/end",
    response={200: MembershipOut, **ERRORS},
    summary="メンバーの終了",
)
def end_membership(
    request: HttpRequest, contract_id: int, membership_id: int, payload: EndMembershipIn
) -> Membership:
    contract = _contract(request, contract_id, "membership.manage")
    membership = policy.get_visible(request.user, Membership, pk=membership_id, contract=contract)
    return services.end_membership(membership, acting_user=request.user, reason=payload.reason)


@router.get(
    "/{contract_id}/audit", response={200: list[AuditEventOut], **ERRORS}, summary="監査証跡（追記順）"
)
@paginate(BoundedLimitOffsetPagination)
def audit_events(request: HttpRequest, contract_id: int) -> object:
    contract = _contract(request, contract_id, "audit.view")
    return contract_events(contract)
