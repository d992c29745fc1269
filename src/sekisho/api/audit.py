"""The tamper-evident audit log (R2.9, R3, P11): public key, signed tree heads, inclusion and consistency
proofs, the orderer's pinned heads (witness) and the export for inspections.

Mounted at /api/v1/audit: the public key belongs to the deployment, the rest to one contract under
/api/v1/audit/contracts/{contract_id}/… (outsiders get 404, members without the right 403).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate

from sekisho.audit import export, keys, proofs, selectors, services, signing
from sekisho.audit.models import PinnedHead, TreeHead, TreeHeadReason
from sekisho.core import policy
from sekisho.core.errors import Conflict, Invalid, NotFound
from sekisho.core.models import Contract

from .schemas import BoundedLimitOffsetPagination, ErrorOut

router = Router(tags=["audit"])
ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class PublicKeyOut(Schema):
    algorithm: str
    key_id: str
    base64: str
    pem: str


class TreeHeadOut(Schema):
    """A signed tree head. Saved as JSON, it is what `sekisho audit verify --pinned` reads."""

    id: int
    stream: str
    size: int
    root_hash: str
    head_hash: str
    timestamp_ms: int
    timestamp: dt.datetime
    key_id: str
    signature: str
    reason: str

    @staticmethod
    def resolve_stream(obj: TreeHead) -> str:
        return obj.stream.key

    @staticmethod
    def resolve_timestamp(obj: TreeHead) -> dt.datetime:
        return signing.moment_of(obj.timestamp_ms)


class SignIn(Schema):
    reason: str = TreeHeadReason.REQUEST
    note: str = ""


class InclusionQuery(Schema):
    index: int
    tree_size: int | None = None


class InclusionOut(Schema):
    index: int
    tree_size: int
    event: str
    leaf_hash: str
    proof: list[str]
    root_hash: str
    tree_head: TreeHeadOut | None


class ConsistencyQuery(Schema):
    first: int
    second: int | None = None


class ConsistencyOut(Schema):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]
    first_tree_head: TreeHeadOut | None
    second_tree_head: TreeHeadOut | None


class SignedHeadIn(Schema):
    stream: str
    size: int
    root_hash: str
    head_hash: str
    timestamp_ms: int
    key_id: str = ""
    signature: str


class PinIn(Schema):
    tree_head_id: int | None = None
    tree_head: SignedHeadIn | None = None
    note: str = ""


class PinOut(Schema):
    id: int
    size: int
    root_hash: str
    head_hash: str
    timestamp_ms: int
    key_id: str
    signature: str
    pinned_by: str
    pinned_at: dt.datetime
    note: str

    @staticmethod
    def resolve_pinned_by(obj: PinnedHead) -> str:
        return obj.pinned_by.get_username()


class PinStatusOut(Schema):
    pin: PinOut
    ok: bool
    message: str
    to_size: int | None
    proof: list[str]


class WitnessOut(Schema):
    ok: bool
    failures: list[str]
    current: TreeHeadOut | None
    pins: list[PinStatusOut]


def _contract(request: HttpRequest, contract_id: int, action: str) -> Contract:
    contract = policy.get_visible(request.user, Contract, pk=contract_id)
    policy.require(request.user, action, contract)
    return contract


def _head_of_size(contract: Contract, size: int) -> TreeHead | None:
    return selectors.tree_heads(contract).filter(size=size).first()


def _hex(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


@router.get("/public-key", response=PublicKeyOut, summary="ツリーヘッド署名用の公開鍵")
def public_key(request: HttpRequest) -> dict[str, str]:
    key = keys.public_key()
    return {
        "algorithm": "Ed25519",
        "key_id": signing.key_id(key),
        "base64": signing.public_key_b64(key),
        "pem": signing.public_key_pem(key),
    }


@router.get("/public-key.pem", summary="ツリーヘッド署名用の公開鍵（PEMファイル）")
def public_key_pem(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(signing.public_key_pem(keys.public_key()), content_type="application/x-pem-file")
    response["Content-Disposition"] = 'attachment; filename="sekisho-audit-ed25519.pem"'
    return response


@router.get(
    "/contracts/{contract_id}/tree-heads",
    response={200: list[TreeHeadOut], **ERRORS},
    summary="署名付きツリーヘッドの一覧（新しい順）",
)
@paginate(BoundedLimitOffsetPagination)
def list_tree_heads(request: HttpRequest, contract_id: int) -> Any:
    return selectors.tree_heads(_contract(request, contract_id, "audit.view"))


@router.post(
    "/contracts/{contract_id}/tree-heads",
    response={201: TreeHeadOut, **ERRORS},
    summary="いまの監査ログに署名する（要求・検査）",
)
def sign_tree_head(request: HttpRequest, contract_id: int, payload: SignIn) -> Status[TreeHead]:
    contract = _contract(request, contract_id, "audit.view")
    head = services.sign_tree_head(
        contract, acting_user=request.user, reason=payload.reason, note=payload.note
    )
    return Status(201, head)


@router.get(
    "/contracts/{contract_id}/tree-heads/{tree_head_id}",
    response={200: TreeHeadOut, **ERRORS},
    summary="署名付きツリーヘッド",
)
def get_tree_head(request: HttpRequest, contract_id: int, tree_head_id: int) -> TreeHead:
    contract = _contract(request, contract_id, "audit.view")
    head = selectors.tree_heads(contract).filter(pk=tree_head_id).first()
    if head is None:
        raise NotFound(_("見つかりません。"))
    return head


def _latest_size(contract: Contract) -> int:
    latest = selectors.tree_heads(contract).first()
    if latest is None:
        raise Conflict(
            _("署名付きツリーヘッドがまだありません。"), code="no_tree_head", clause=services.CLAUSE
        )
    return latest.size


@router.get(
    "/contracts/{contract_id}/proofs/inclusion",
    response={200: InclusionOut, **ERRORS},
    summary="イベントの包含証明（既定は最新の署名付きツリーヘッド）",
)
def inclusion_proof(request: HttpRequest, contract_id: int, query: Query[InclusionQuery]) -> dict[str, Any]:
    contract = _contract(request, contract_id, "audit.view")
    size = query.tree_size if query.tree_size is not None else _latest_size(contract)
    proof = proofs.inclusion(selectors.contract_stream(contract), query.index, size)
    return {
        "index": proof.index,
        "tree_size": proof.tree_size,
        "event": proof.event.decode("utf-8"),
        "leaf_hash": proof.leaf_hash.hex(),
        "proof": _hex(proof.proof),
        "root_hash": proof.root_hash.hex(),
        "tree_head": _head_of_size(contract, size),
    }


@router.get(
    "/contracts/{contract_id}/proofs/consistency",
    response={200: ConsistencyOut, **ERRORS},
    summary="二つのツリーヘッドの間の整合性証明",
)
def consistency_proof(
    request: HttpRequest, contract_id: int, query: Query[ConsistencyQuery]
) -> dict[str, Any]:
    contract = _contract(request, contract_id, "audit.view")
    second = query.second if query.second is not None else _latest_size(contract)
    proof = proofs.consistency(selectors.contract_stream(contract), query.first, second)
    return {
        "first": proof.first,
        "second": proof.second,
        "first_root": proof.first_root.hex(),
        "second_root": proof.second_root.hex(),
        "proof": _hex(proof.proof),
        "first_tree_head": _head_of_size(contract, proof.first),
        "second_tree_head": _head_of_size(contract, proof.second),
    }


@router.get(
    "/contracts/{contract_id}/pins",
    response={200: list[PinOut], **ERRORS},
    summary="発注者が記録したツリーヘッドの一覧",
)
def list_pins(request: HttpRequest, contract_id: int) -> Any:
    return list(selectors.pins(_contract(request, contract_id, "audit.view")))


@router.post(
    "/contracts/{contract_id}/pins",
    response={201: PinStatusOut, **ERRORS},
    summary="ツリーヘッドを記録する（発注者）",
)
def pin_tree_head(request: HttpRequest, contract_id: int, payload: PinIn) -> Status[dict[str, Any]]:
    contract = _contract(request, contract_id, "audit.view")
    if (payload.tree_head_id is None) == (payload.tree_head is None):
        raise Invalid(_("tree_head_id か tree_head のどちらか一方を指定してください。"))
    if payload.tree_head_id is not None:
        stored = selectors.tree_heads(contract).filter(pk=payload.tree_head_id).first()
        if stored is None:
            raise NotFound(_("見つかりません。"))
        head = stored.signed()
    else:
        try:
            head = signing.TreeHead.from_dict(payload.tree_head.dict() if payload.tree_head else None)
        except ValueError as exc:
            raise Invalid(_("ツリーヘッドの形式が正しくありません。"), code="bad_tree_head") from exc
    pin = services.pin_tree_head(contract, acting_user=request.user, head=head, note=payload.note)
    status = next(s for s in proofs.witness(pin.stream).pins if s.pin.pk == pin.pk)
    return Status(201, _pin_status(status))


def _pin_status(status: proofs.PinStatus) -> dict[str, Any]:
    return {
        "pin": status.pin,
        "ok": status.ok,
        "message": status.message,
        "to_size": status.to_size,
        "proof": _hex(status.proof),
    }


@router.get(
    "/contracts/{contract_id}/witness",
    response={200: WitnessOut, **ERRORS},
    summary="記録済みツリーヘッドすべてと最新の署名付きツリーヘッドの整合性",
)
def witness(request: HttpRequest, contract_id: int) -> dict[str, Any]:
    contract = _contract(request, contract_id, "audit.view")
    report = proofs.witness(selectors.contract_stream(contract))
    return {
        "ok": report.ok,
        "failures": report.failures,
        "current": report.current,
        "pins": [_pin_status(s) for s in report.pins],
    }


@router.post(
    "/contracts/{contract_id}/export",
    response={200: None, 403: ErrorOut, 404: ErrorOut},
    summary="検査用エクスポート（イベント・署名付きツリーヘッド・公開鍵を一つのJSON Linesファイルに）",
)
def export_log(request: HttpRequest, contract_id: int) -> StreamingHttpResponse:
    contract = _contract(request, contract_id, "audit.view")
    result = services.export_contract(contract, acting_user=request.user)
    response = StreamingHttpResponse(
        export.export_lines(result), content_type="application/jsonl; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    return response
