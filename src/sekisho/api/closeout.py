"""Close-out (R2.5, P9): the checklist of every asset, its resolution in bulk (return with the orderer's receipt,
destruction on the orderer's instruction with crypto-shredding for the vault, retention with a legal basis),
the return/destruction certificate; and the construction plan's information-security section (R1.2)."""

import datetime as dt
from typing import Annotated

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from sekisho.closeout import certificate, destruction, plan, selectors, services
from sekisho.closeout.models import Certificate, CloseOut, CloseOutItem
from sekisho.core.errors import Conflict
from sekisho.core.models import Contract

from .ledger import contract_for
from .schemas import BoundedLimitOffsetPagination, DbId, ErrorOut

router = Router(tags=["closeout"])
ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

Note = Annotated[str, Field(max_length=2000)]
ItemIds = Annotated[list[DbId], Field(min_length=1, max_length=services.MAX_ITEMS)]


class CloseoutStatusOut(Schema):
    opened: bool
    state: str | None
    opened_at: dt.datetime | None
    opened_by: str | None
    issued_at: dt.datetime | None
    issued_by: str | None
    confirmed_at: dt.datetime | None
    confirmed_by: str | None
    total: int
    resolved: int
    unresolved: int
    awaiting_orderer: int
    open_personal: int
    missing: int
    by_state: dict[str, int]
    certificate_pdf_sha256: str | None
    certificate_docx_sha256: str | None


class CloseoutItemOut(Schema):
    id: int
    asset_id: int
    ref: str
    title: str
    medium: str
    origin: str
    parent_ref: str | None
    has_personal_info: bool
    asset_state: str
    state: str
    state_label: str
    handed_over_at: dt.datetime | None
    handover_note: str
    confirmed_by: str | None
    confirmed_at: dt.datetime | None
    sent_back_note: str
    instruction_id: int | None
    destruction_method: str
    destroyed_on: dt.date | None
    witness: str
    shredding_id: int | None
    retention_basis: str
    retention_law: str
    retention_until: dt.date | None
    resolved_at: dt.datetime | None

    @staticmethod
    def resolve_ref(obj: CloseOutItem) -> str:
        return obj.asset.ref

    @staticmethod
    def resolve_title(obj: CloseOutItem) -> str:
        return obj.asset.title

    @staticmethod
    def resolve_medium(obj: CloseOutItem) -> str:
        return obj.asset.medium

    @staticmethod
    def resolve_origin(obj: CloseOutItem) -> str:
        return obj.asset.origin

    @staticmethod
    def resolve_parent_ref(obj: CloseOutItem) -> str | None:
        return obj.asset.parent.ref if obj.asset.parent_id and obj.asset.parent else None

    @staticmethod
    def resolve_has_personal_info(obj: CloseOutItem) -> bool:
        return obj.asset.has_personal_info

    @staticmethod
    def resolve_asset_state(obj: CloseOutItem) -> str:
        return obj.asset.state

    @staticmethod
    def resolve_state_label(obj: CloseOutItem) -> str:
        return str(obj.get_state_display())

    @staticmethod
    def resolve_confirmed_by(obj: CloseOutItem) -> str | None:
        return obj.confirmed_by.username if obj.confirmed_by else None


class CloseoutItemQuery(Schema):
    q: str = ""
    state: str = ""
    medium: str = ""
    personal: bool | None = None
    awaiting_orderer: bool = False


class CloseoutOpenIn(Schema):
    note: Note = ""


class CloseoutItemsIn(Schema):
    item_ids: ItemIds
    note: Note = ""


class CloseoutDestroyIn(Schema):
    item_ids: ItemIds
    method: str
    destroyed_on: dt.date
    witness: Annotated[str, Field(max_length=200)]
    note: Note = ""


class CloseoutRetainIn(Schema):
    item_ids: ItemIds
    basis: Note
    law: Annotated[str, Field(max_length=300)]
    until: dt.date | None = None
    note: Note = ""


class CloseoutInstructIn(Schema):
    kind: str
    item_ids: ItemIds
    note: Note = ""


class CloseoutInstructionOut(Schema):
    permit_id: int
    kind: str
    valid_from: dt.date
    valid_until: dt.date
    count: int


class CloseoutShredIn(Schema):
    permit_id: DbId
    note: Note = ""


class CloseoutShreddingOut(Schema):
    id: int
    permit_id: int
    key_ids: list[str]
    objects_count: int
    objects_bytes: int
    assets: list[str]
    executed_at: dt.datetime


class CloseoutCountOut(Schema):
    count: int


class CloseoutCertificateOut(Schema):
    id: int
    stage: str
    items_count: int
    pdf_sha256: str
    docx_sha256: str
    created_at: dt.datetime


def _closeout_out(contract: Contract, closeout: CloseOut | None) -> dict[str, object]:
    counts = selectors.summary(contract)
    latest = certificate.latest_certificate(closeout) if closeout else None
    user = lambda u: u.username if u else None  # noqa: E731
    return {
        "opened": closeout is not None,
        "state": closeout.state if closeout else None,
        "opened_at": closeout.opened_at if closeout else None,
        "opened_by": user(closeout.opened_by) if closeout else None,
        "issued_at": closeout.issued_at if closeout else None,
        "issued_by": user(closeout.issued_by) if closeout else None,
        "confirmed_at": closeout.confirmed_at if closeout else None,
        "confirmed_by": user(closeout.confirmed_by) if closeout else None,
        "total": counts.total,
        "resolved": counts.resolved,
        "unresolved": counts.unresolved,
        "awaiting_orderer": counts.awaiting_orderer,
        "open_personal": counts.open_personal,
        "missing": counts.missing,
        "by_state": counts.by_state,
        "certificate_pdf_sha256": latest.pdf_sha256 if latest else None,
        "certificate_docx_sha256": latest.docx_sha256 if latest else None,
    }


@router.get(
    "/{contract_id}/closeout", response={200: CloseoutStatusOut, **ERRORS}, summary="返却・廃棄の手続の状況"
)
def get_closeout(request: HttpRequest, contract_id: int) -> dict[str, object]:
    contract = contract_for(request, contract_id, "closeout.view")
    return _closeout_out(contract, selectors.visible_closeout(request.user, contract))


@router.post(
    "/{contract_id}/closeout", response={201: CloseoutStatusOut, **ERRORS}, summary="返却・廃棄の手続の開始"
)
def open_closeout(
    request: HttpRequest, contract_id: int, payload: CloseoutOpenIn
) -> Status[dict[str, object]]:
    contract = contract_for(request, contract_id, "contract.view")  # the service checks closeout.open
    closeout = services.open_closeout(contract, acting_user=request.user, note=payload.note)
    return Status(201, _closeout_out(contract, selectors.closeout_of(closeout.contract)))


@router.get(
    "/{contract_id}/closeout/items",
    response={200: list[CloseoutItemOut], **ERRORS},
    summary="返却・廃棄のチェックリスト",
)
@paginate(BoundedLimitOffsetPagination)
def list_items(request: HttpRequest, contract_id: int, filters: Query[CloseoutItemQuery]) -> object:
    contract = contract_for(request, contract_id, "closeout.view")
    return selectors.checklist(request.user, contract, selectors.ItemFilters(**filters.dict()))


def _step(request: HttpRequest, contract_id: int) -> Contract:
    # The member check (outsiders 404); each service checks its own action (403) and clause.
    return contract_for(request, contract_id, "contract.view")


@router.post(
    "/{contract_id}/closeout/items/hand-over",
    response={200: CloseoutCountOut, **ERRORS},
    summary="発注者への直接返却（受注者）",
)
def hand_over(request: HttpRequest, contract_id: int, payload: CloseoutItemsIn) -> dict[str, int]:
    count = services.hand_over(
        _step(request, contract_id), acting_user=request.user, item_ids=payload.item_ids, note=payload.note
    )
    return {"count": count}


@router.post(
    "/{contract_id}/closeout/items/confirm-receipt",
    response={200: CloseoutCountOut, **ERRORS},
    summary="返却の受領確認（発注者）",
)
def confirm_receipt(request: HttpRequest, contract_id: int, payload: CloseoutItemsIn) -> dict[str, int]:
    count = services.confirm_receipt(
        _step(request, contract_id), acting_user=request.user, item_ids=payload.item_ids, note=payload.note
    )
    return {"count": count}


@router.post(
    "/{contract_id}/closeout/items/send-back",
    response={200: CloseoutCountOut, **ERRORS},
    summary="返却・保存の差戻し（発注者）",
)
def send_back(request: HttpRequest, contract_id: int, payload: CloseoutItemsIn) -> dict[str, int]:
    count = services.send_back(
        _step(request, contract_id), acting_user=request.user, item_ids=payload.item_ids, note=payload.note
    )
    return {"count": count}


@router.post(
    "/{contract_id}/closeout/items/destroy",
    response={200: CloseoutCountOut, **ERRORS},
    summary="廃棄の記録（発注者の指示による。紙・保管庫外の電子）",
)
def destroy(request: HttpRequest, contract_id: int, payload: CloseoutDestroyIn) -> dict[str, int]:
    count = destruction.destroy(
        _step(request, contract_id),
        acting_user=request.user,
        item_ids=payload.item_ids,
        method=payload.method,
        destroyed_on=payload.destroyed_on,
        witness=payload.witness,
        note=payload.note,
    )
    return {"count": count}


@router.post(
    "/{contract_id}/closeout/items/retain",
    response={200: CloseoutCountOut, **ERRORS},
    summary="法令等による保存の申出（根拠の記録）",
)
def retain(request: HttpRequest, contract_id: int, payload: CloseoutRetainIn) -> dict[str, int]:
    count = services.propose_retention(
        _step(request, contract_id),
        acting_user=request.user,
        item_ids=payload.item_ids,
        basis=payload.basis,
        law=payload.law,
        until=payload.until,
        note=payload.note,
    )
    return {"count": count}


@router.post(
    "/{contract_id}/closeout/items/acknowledge-retention",
    response={200: CloseoutCountOut, **ERRORS},
    summary="保存の確認（発注者）",
)
def acknowledge_retention(request: HttpRequest, contract_id: int, payload: CloseoutItemsIn) -> dict[str, int]:
    count = services.acknowledge_retention(
        _step(request, contract_id), acting_user=request.user, item_ids=payload.item_ids, note=payload.note
    )
    return {"count": count}


@router.post(
    "/{contract_id}/closeout/instructions",
    response={201: CloseoutInstructionOut, **ERRORS},
    summary="廃棄・保存の指示（発注者）",
)
def instruct(
    request: HttpRequest, contract_id: int, payload: CloseoutInstructIn
) -> Status[dict[str, object]]:
    permit = destruction.instruct(
        _step(request, contract_id),
        acting_user=request.user,
        kind=payload.kind,
        item_ids=payload.item_ids,
        note=payload.note,
    )
    return Status(
        201,
        {
            "permit_id": permit.pk,
            "kind": permit.kind,
            "valid_from": permit.valid_from,
            "valid_until": permit.valid_until,
            "count": len(set(payload.item_ids)),
        },
    )


@router.post(
    "/{contract_id}/closeout/shred",
    response={200: CloseoutShreddingOut, **ERRORS},
    summary="保管庫の電子情報の廃棄（暗号鍵の削除）",
)
def shred(request: HttpRequest, contract_id: int, payload: CloseoutShredIn) -> object:
    return destruction.shred_vault(
        _step(request, contract_id), acting_user=request.user, permit_id=payload.permit_id, note=payload.note
    )


@router.post(
    "/{contract_id}/closeout/certificate",
    response={201: CloseoutCertificateOut, **ERRORS},
    summary="返却・廃棄証明書の発行（情報管理責任者）",
)
def issue_certificate(request: HttpRequest, contract_id: int) -> Status[object]:
    return Status(201, certificate.issue_certificate(_step(request, contract_id), acting_user=request.user))


@router.post(
    "/{contract_id}/closeout/certificate/confirm",
    response={200: CloseoutCertificateOut, **ERRORS},
    summary="返却・廃棄証明書の確認（発注者）",
)
def confirm_certificate(request: HttpRequest, contract_id: int, payload: CloseoutOpenIn) -> object:
    return certificate.confirm_certificate(
        _step(request, contract_id), acting_user=request.user, note=payload.note
    )


def _download(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def latest_certificate_for(request: HttpRequest, contract_id: int) -> Certificate:
    contract = contract_for(request, contract_id, "closeout.certificate")
    closeout = selectors.visible_closeout(request.user, contract)
    latest = certificate.latest_certificate(closeout, with_files=True) if closeout else None
    if latest is None:
        raise Conflict(
            _("返却・廃棄証明書はまだ発行されていません。"), code="certificate_not_issued", clause="R2.5"
        )
    return latest


@router.get(
    "/{contract_id}/closeout/certificate.pdf",
    response={200: bytes, **ERRORS},
    summary="返却・廃棄証明書（PDF）",
)
def certificate_pdf(request: HttpRequest, contract_id: int) -> HttpResponse:
    latest = latest_certificate_for(request, contract_id)
    return _download(bytes(latest.pdf), "application/pdf", f"closeout-certificate-{contract_id}.pdf")


@router.get(
    "/{contract_id}/closeout/certificate.docx",
    response={200: bytes, **ERRORS},
    summary="返却・廃棄証明書（Word）",
)
def certificate_docx(request: HttpRequest, contract_id: int) -> HttpResponse:
    latest = latest_certificate_for(request, contract_id)
    return _download(bytes(latest.docx), DOCX, f"closeout-certificate-{contract_id}.docx")


@router.get(
    "/{contract_id}/plan.pdf",
    response={200: bytes, **ERRORS},
    summary="施工計画書「情報流出防止対策」（PDF）",
)
def plan_pdf(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = contract_for(request, contract_id, "plan.view")
    return _download(plan.pdf(plan.content(contract)), "application/pdf", f"plan-{contract_id}.pdf")


@router.get(
    "/{contract_id}/plan.docx",
    response={200: bytes, **ERRORS},
    summary="施工計画書「情報流出防止対策」（Word）",
)
def plan_docx(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = contract_for(request, contract_id, "plan.view")
    return _download(plan.docx(plan.content(contract)), DOCX, f"plan-{contract_id}.docx")
