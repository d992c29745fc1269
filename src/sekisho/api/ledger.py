import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import AliasPath, BaseModel, ConfigDict, Field

from sekisho.core import policy
from sekisho.core.errors import Invalid
from sekisho.core.models import Contract, User
from sekisho.ledger import selectors, services
from sekisho.ledger.models import Asset
from sekisho.permits.models import Permit

from .schemas import BoundedLimitOffsetPagination, ErrorOut

router = Router(tags=["ledger"])
ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _every_field_required(schema: dict[str, Any]) -> None:
    # Every field is in every answer (parent_ref is null without a parent), as the schema has always said.
    schema["required"] = list(schema["properties"])


# One ledger row: a plain pydantic model read from the attributes, not a ninja ``Schema`` (whose per-field
# resolver wrapper cost five times more on a page of 50); the custodian's name and the parent's ledger number
# come through the objects ``selectors.ledger`` selects with the asset.
class AssetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra=_every_field_required)

    id: int
    ref: str
    title: str
    description: str
    medium: str
    origin: str
    parent_id: int | None
    parent_ref: str | None = Field(None, validation_alias=AliasPath("parent", "ref"))
    root_id: int | None
    received_on: dt.date
    custodian: str = Field(validation_alias=AliasPath("custodian", "username"))
    location_kind: str
    location: str
    quantity: int | None
    important: bool
    confidentiality: int
    integrity: int
    availability: int
    has_personal_info: bool
    personal_categories: list[str]
    personal_sensitive: bool
    personal_count: int | None
    personal_purpose: str
    personal_necessity: str
    state: str
    permit_id: int | None


# The columns a page of AssetOut reads, and no more: the custodian's and the parent's whole rows cost a third
# of the page's time.
ASSET_OUT_COLUMNS = (
    *(name for name in AssetOut.model_fields if name not in ("custodian", "parent_ref")),
    *("custodian__username", "parent__ref"),
)


class AssetIn(Schema):
    title: str
    description: str = ""
    medium: str
    origin: str
    parent_id: int | None = None
    received_on: dt.date
    custodian: str
    location_kind: str
    location: str = ""
    quantity: int | None = None
    important: bool = False
    confidentiality: int = 2
    integrity: int = 1
    availability: int = 1
    has_personal_info: bool = False
    personal_categories: list[str] = []
    personal_count: int | None = None
    personal_purpose: str = ""
    personal_necessity: str = ""
    permit_id: int | None = None


class StateIn(Schema):
    to: str
    note: str = ""


class LineageOut(Schema):
    id: int
    ref: str
    title: str
    medium: str
    origin: str
    state: str
    permit_id: int | None
    current: bool
    children: list["LineageOut"]


LineageOut.model_rebuild()


class LedgerQuery(Schema):
    q: str = ""
    important: bool | None = None
    personal: bool | None = None
    state: str = ""
    medium: str = ""
    confidentiality: int | None = None


def contract_for(request: HttpRequest, contract_id: int, action: str) -> Contract:
    contract = policy.get_visible(request.user, Contract, pk=contract_id)
    policy.require(request.user, action, contract)
    return contract


def _asset(request: HttpRequest, contract: Contract, asset_id: int) -> Asset:
    asset = policy.get_visible(request.user, Asset, pk=asset_id, contract=contract)
    # Checked on the asset itself: personal information needs its own consent for subcontractor staff (P8).
    policy.require(request.user, "asset.view", asset)
    return asset


@router.get(
    "/{contract_id}/assets",
    response={200: list[AssetOut], **ERRORS},
    summary="行政情報管理台帳（検索・絞込み）",
)
@paginate(BoundedLimitOffsetPagination)
def list_assets(request: HttpRequest, contract_id: int, filters: Query[LedgerQuery]) -> object:
    contract = contract_for(request, contract_id, "asset.view")
    filtered = selectors.ledger(request.user, contract, selectors.LedgerFilters(**filters.dict()))
    return filtered.only(*ASSET_OUT_COLUMNS)


@router.post("/{contract_id}/assets", response={201: AssetOut, **ERRORS}, summary="台帳への登録")
def create_asset(request: HttpRequest, contract_id: int, payload: AssetIn) -> Status[Asset]:
    contract = contract_for(request, contract_id, "asset.register")
    body = payload.dict()
    parent = None
    parent_id, permit_id = body.pop("parent_id"), body.pop("permit_id")
    if parent_id is not None:
        parent = Asset.objects.filter(pk=parent_id, contract=contract).first()
        if parent is None:
            raise Invalid("元の情報が見つかりません。", code="unknown_parent")
    permit = None
    if permit_id is not None:
        permit = Permit.objects.filter(pk=permit_id, contract=contract).first()
        if permit is None:
            raise Invalid("指定された承諾が見つかりません。", code="unknown_permit")
    custodian = User.objects.filter(username=body.pop("custodian")).first()
    data = services.AssetData(**body, parent=parent, custodian=custodian)
    asset = services.register_asset(contract, acting_user=request.user, data=data, permit=permit)
    return Status(201, asset)


@router.get("/{contract_id}/assets/{asset_id}", response={200: AssetOut, **ERRORS}, summary="台帳情報の詳細")
def get_asset(request: HttpRequest, contract_id: int, asset_id: int) -> Asset:
    contract = contract_for(request, contract_id, "asset.view")
    return _asset(request, contract, asset_id)


def _node(node: selectors.LineageNode) -> dict[str, object]:
    a = node.asset
    return {
        "id": a.pk,
        "ref": a.ref,
        "title": a.title,
        "medium": a.medium,
        "origin": a.origin,
        "state": a.state,
        "permit_id": a.permit_id,
        "current": node.current,
        "children": [_node(c) for c in node.children],
    }


@router.get(
    "/{contract_id}/assets/{asset_id}/lineage",
    response={200: LineageOut, **ERRORS},
    summary="系譜（原本→複写・電子化→加工）",
)
def get_lineage(request: HttpRequest, contract_id: int, asset_id: int) -> dict[str, object]:
    contract = contract_for(request, contract_id, "asset.view")
    return _node(selectors.lineage(_asset(request, contract, asset_id)))


@router.post(
    "/{contract_id}/assets/{asset_id}/state", response={200: AssetOut, **ERRORS}, summary="状態の変更"
)
def change_state(request: HttpRequest, contract_id: int, asset_id: int, payload: StateIn) -> Asset:
    contract = contract_for(request, contract_id, "asset.view")
    return services.move_asset(
        _asset(request, contract, asset_id), acting_user=request.user, to_state=payload.to, note=payload.note
    )
