"""The vault over HTTP: put and get the content of electronic assets, transfer packages, crypto-shredding.

Content never passes through Django's upload handlers (which spool large files to a temporary file, in
plaintext): an upload is a raw ``PUT`` body (``application/octet-stream``) that is sealed as it is read from
the socket, with ``Content-Length`` required and met exactly, the file name in ``X-Sekisho-Filename``
(percent-encoded UTF-8) and optionally the sender's SHA-256 in ``X-Sekisho-Content-SHA256``.

The device (R2.7ア/イ) is the session's bound device, or the device that signed the request, or — for signed
clients uploading large files — the device named by an upload ticket (``vault.tickets``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import quote, unquote

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Schema, Status

from sekisho.core import policy
from sekisho.core.errors import Invalid
from sekisho.core.models import Contract
from sekisho.ledger.models import Asset
from sekisho.permits.models import Permit
from sekisho.vault import selectors, services, tickets, transfer
from sekisho.vault.models import Shredding, TransferPackage, VaultObject

from .ledger import contract_for
from .schemas import DbId, ErrorOut

router = Router(tags=["vault"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut, 500: ErrorOut}


class VersionOut(Schema):
    uid: uuid.UUID
    asset_id: int
    version: int
    filename: str
    content_type: str
    size: int
    sha256: str
    backend: str
    created_by: str
    created_at: dt.datetime
    device_uid: uuid.UUID | None

    @staticmethod
    def resolve_created_by(obj: VaultObject) -> str:
        return obj.created_by.username

    @staticmethod
    def resolve_device_uid(obj: VaultObject) -> uuid.UUID | None:
        return obj.device.uid if obj.device_id and obj.device else None


class TicketOut(Schema):
    ticket: str
    header: str
    expires_at: dt.datetime


class ContentQuery(Schema):
    version: int | None = None


class PackageOut(Schema):
    id: int
    uid: uuid.UUID
    permit_id: int
    recipient: str
    recipient_key: str
    medium_id: int | None
    state: str
    size: int
    sha256: str
    filename: str
    manifest: dict[str, Any]
    built_by: str
    built_at: dt.datetime
    received_by: str | None
    received_at: dt.datetime | None

    @staticmethod
    def resolve_built_by(obj: TransferPackage) -> str:
        return obj.built_by.username

    @staticmethod
    def resolve_received_by(obj: TransferPackage) -> str | None:
        return obj.received_by.username if obj.received_by else None


class PackageIn(Schema):
    permit_id: int
    asset_ids: list[DbId]
    recipient: str
    recipient_key: str
    medium_id: int | None = None


class ReceiptIn(Schema):
    sha256: str
    note: str = ""


class ShredIn(Schema):
    permit_id: int
    note: str = ""


class ShreddingOut(Schema):
    contract_id: int
    permit_id: int
    key_ids: list[str]
    key_store_locations: int
    objects_count: int
    objects_bytes: int
    assets: list[str]
    executed_by: str
    executed_at: dt.datetime

    @staticmethod
    def resolve_key_store_locations(obj: Shredding) -> int:
        return len(obj.locations)

    @staticmethod
    def resolve_executed_by(obj: Shredding) -> str:
        return obj.executed_by.username


def _asset(request: HttpRequest, contract: Contract, asset_id: int) -> Asset:
    return policy.get_visible(request.user, Asset, pk=asset_id, contract=contract)


def _device(request: HttpRequest, asset: Asset) -> Any:
    ticket = request.headers.get(tickets.HEADER)
    if ticket:
        return tickets.binding_from_ticket(ticket, acting_user=request.user, asset=asset)
    return request


def _content_length(request: HttpRequest) -> int:
    raw = request.META.get("CONTENT_LENGTH", "")
    if not str(raw).isdigit():
        raise Invalid(
            "Content-Length を指定してください（チャンク転送には対応していません）。", code="length_required"
        )
    return int(raw)


def content_disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


@router.get(
    "/{contract_id}/assets/{asset_id}/versions",
    response={200: list[VersionOut], **ERRORS},
    summary="保管庫の版（サイズ・SHA-256）",
)
def list_versions(request: HttpRequest, contract_id: int, asset_id: int) -> Any:
    contract = contract_for(request, contract_id, "vault.view")
    return selectors.versions(request.user, _asset(request, contract, asset_id))


@router.put(
    "/{contract_id}/assets/{asset_id}/content",
    response={201: VersionOut, **ERRORS},
    summary="保管庫への登録（新しい版）",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def upload(request: HttpRequest, contract_id: int, asset_id: int) -> Status[VaultObject]:
    contract = contract_for(request, contract_id, "vault.upload")
    asset = _asset(request, contract, asset_id)
    device = _device(request, asset)
    services.check_upload(asset, acting_user=request.user, device=device)  # refuse before reading a byte
    obj = services.upload_version(
        asset,
        acting_user=request.user,
        device=device,
        read=request.read,
        length=_content_length(request),
        filename=unquote(request.headers.get("X-Sekisho-Filename", "")),
        content_type=request.headers.get("X-Sekisho-Content-Type", ""),
        expected_sha256=request.headers.get("X-Sekisho-Content-SHA256", ""),
    )
    return Status(201, obj)


@router.post(
    "/{contract_id}/assets/{asset_id}/content/ticket",
    response={200: TicketOut, **ERRORS},
    summary="大きなファイルのアップロード用チケット（端末の署名付き要求で取得）",
)
def upload_ticket(request: HttpRequest, contract_id: int, asset_id: int) -> dict[str, Any]:
    contract = contract_for(request, contract_id, "vault.upload")
    token, expires = tickets.issue_ticket(
        request, acting_user=request.user, asset=_asset(request, contract, asset_id)
    )
    return {"ticket": token, "header": tickets.HEADER, "expires_at": expires}


@router.get(
    "/{contract_id}/assets/{asset_id}/content",
    response={200: None, **ERRORS},
    summary="保管庫からの取出し（承認済み端末のみ）",
)
def download(
    request: HttpRequest, contract_id: int, asset_id: int, query: Query[ContentQuery]
) -> StreamingHttpResponse:
    contract = contract_for(request, contract_id, "vault.download")
    result = services.open_version(
        _asset(request, contract, asset_id), acting_user=request.user, device=request, version=query.version
    )
    obj = result.obj
    # Always a download, never rendered: the recorded type is only the sender's claim.
    response = StreamingHttpResponse(result.chunks, content_type="application/octet-stream")
    response["Content-Length"] = str(obj.size)
    response["Content-Disposition"] = content_disposition(obj.filename)
    response["Cache-Control"] = "no-store"
    response["X-Sekisho-Version"] = str(obj.version)
    response["X-Sekisho-Content-SHA256"] = obj.sha256
    return response


@router.get(
    "/{contract_id}/transfers", response={200: list[PackageOut], **ERRORS}, summary="移送パッケージの一覧"
)
def list_transfers(request: HttpRequest, contract_id: int) -> Any:
    contract = contract_for(request, contract_id, "transfer.view")
    return selectors.packages(request.user, contract)


@router.post("/{contract_id}/transfers", response={201: PackageOut, **ERRORS}, summary="移送パッケージの作成")
def build_transfer(request: HttpRequest, contract_id: int, payload: PackageIn) -> Status[TransferPackage]:
    contract = contract_for(request, contract_id, "transfer.build")
    permit = Permit.objects.filter(pk=payload.permit_id, contract=contract).first()
    if permit is None:
        raise Invalid("指定された承諾が見つかりません。", code="unknown_permit")
    assets = list(Asset.objects.filter(contract=contract, pk__in=payload.asset_ids))
    if len(assets) != len(set(payload.asset_ids)):
        raise Invalid("対象の台帳情報が見つかりません。", code="unknown_asset")
    package = transfer.build_package(
        contract,
        acting_user=request.user,
        device=request,
        permit=permit,
        assets=assets,
        recipient=payload.recipient,
        recipient_key=payload.recipient_key,
        medium=payload.medium_id,
    )
    return Status(201, package)


def _package(request: HttpRequest, contract: Contract, transfer_id: int) -> TransferPackage:
    return policy.get_visible(request.user, TransferPackage, pk=transfer_id, contract=contract)


@router.get(
    "/{contract_id}/transfers/{transfer_id}",
    response={200: PackageOut, **ERRORS},
    summary="移送パッケージの詳細",
)
def get_transfer(request: HttpRequest, contract_id: int, transfer_id: int) -> TransferPackage:
    contract = contract_for(request, contract_id, "transfer.view")
    return _package(request, contract, transfer_id)


@router.get(
    "/{contract_id}/transfers/{transfer_id}/package",
    response={200: None, **ERRORS},
    summary="移送パッケージ（age 暗号文）の取得",
)
def download_transfer(request: HttpRequest, contract_id: int, transfer_id: int) -> StreamingHttpResponse:
    contract = contract_for(request, contract_id, "transfer.view")
    package = _package(request, contract, transfer_id)
    chunks = transfer.open_package(package, acting_user=request.user, device=request)
    response = StreamingHttpResponse(chunks, content_type="application/octet-stream")
    response["Content-Length"] = str(package.size)
    response["Content-Disposition"] = content_disposition(package.filename)
    response["Cache-Control"] = "no-store"
    response["X-Sekisho-Package-SHA256"] = package.sha256
    return response


@router.post(
    "/{contract_id}/transfers/{transfer_id}/receipt",
    response={200: PackageOut, **ERRORS},
    summary="移送先の受領確認",
)
def confirm_receipt(
    request: HttpRequest, contract_id: int, transfer_id: int, payload: ReceiptIn
) -> TransferPackage:
    contract = contract_for(request, contract_id, "transfer.view")
    return transfer.confirm_receipt(
        _package(request, contract, transfer_id),
        acting_user=request.user,
        sha256=payload.sha256,
        note=payload.note,
    )


@router.post(
    "/{contract_id}/vault/shred",
    response={200: ShreddingOut, **ERRORS},
    summary="電子情報の廃棄（契約鍵の削除・クリプトシュレッディング）",
)
def shred(request: HttpRequest, contract_id: int, payload: ShredIn) -> Shredding:
    contract = contract_for(request, contract_id, "contract.view")
    permit = Permit.objects.filter(pk=payload.permit_id, contract=contract).first()
    if permit is None:
        raise Invalid("指定された承諾が見つかりません。", code="unknown_permit")
    return services.shred_contract(contract, acting_user=request.user, permit=permit, note=payload.note)
