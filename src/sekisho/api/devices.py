"""Devices, media and the posture agent.

- ``/devices`` and ``/media``: the registries, for people (session or bearer token), scoped by the policy.
- ``/agent``: the agent's endpoints. They take no session or token: each request is signed with the device
  key (``sekisho.agent.signing``) and checked here; the enrolment request is signed with the new key and
  carries the one-time code. Their bodies are parsed here, after nothing else, so that a malformed report
  gets the ordinary error contract (422 ``{"error", "clause", "message"}``) and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any, Literal

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from pydantic import AwareDatetime, ConfigDict, field_validator
from pydantic import ValidationError as PydanticValidationError

from sekisho.core import policy
from sekisho.core.errors import Invalid
from sekisho.core.models import Contract, User
from sekisho.devices import selectors, services
from sekisho.devices import signing as device_signing
from sekisho.devices.models import CustodyRecord, Device, DeviceKind, Medium, MediumKind, PostureReport
from sekisho.devices.policy import access_problem, annotate_access
from sekisho.devices.posture import PolicyValues

from .schemas import ErrorOut

devices_router = Router(tags=["devices"])
media_router = Router(tags=["media"])
agent_router = Router(tags=["agent"])
ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
AGENT_ERRORS = {401: ErrorOut, 403: ErrorOut, 409: ErrorOut, 422: ErrorOut}
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


# --- schemas ----------------------------------------------------------------------------------------------


class FailureOut(Schema):
    control: str
    message: str


class DeviceOut(Schema):
    uid: uuid.UUID
    contract_id: int
    name: str
    kind: str
    os: str
    os_version: str
    asset_tag: str
    serial_number: str
    owner: str
    organisation: str
    disk_encryption: str
    antivirus: str
    note: str
    status: str
    effective_status: str
    status_label: str
    status_reason: str
    approved_by: str | None
    approved_at: dt.datetime | None
    approved_until: dt.datetime | None
    enrolled: bool
    key_fingerprint: str
    enrolled_at: dt.datetime | None
    latest_report_at: dt.datetime | None
    access: bool
    access_clause: str | None
    access_failures: list[FailureOut]

    @staticmethod
    def resolve_owner(obj: Device) -> str:
        return obj.owner.username

    @staticmethod
    def resolve_organisation(obj: Device) -> str:
        return obj.organisation.name

    @staticmethod
    def resolve_status_label(obj: Device) -> str:
        return obj.effective_status_label

    @staticmethod
    def resolve_approved_by(obj: Device) -> str | None:
        return obj.approved_by.username if obj.approved_by else None

    @staticmethod
    def resolve_enrolled(obj: Device) -> bool:
        return obj.is_enrolled

    @staticmethod
    def resolve_latest_report_at(obj: Device) -> dt.datetime | None:
        return obj.latest_report.received_at if obj.latest_report else None


class DeviceIn(Schema):
    contract_id: int
    name: str = Field(..., min_length=1, max_length=100)
    kind: DeviceKind
    os: Device.OS
    os_version: str = Field("", max_length=100)
    asset_tag: str = Field("", max_length=50)
    serial_number: str = Field("", max_length=100)
    owner: str | None = Field(None, description="使用者のユーザー名（省略時は自分）")
    disk_encryption: str = Field("", max_length=100)
    antivirus: str = Field("", max_length=100)
    note: str = Field("", max_length=2000)


class ApproveIn(Schema):
    approved_until: AwareDatetime | None = Field(None, description="承認期限（省略時は valid_days 日後）")
    valid_days: int = Field(365, ge=1, le=731)
    note: str = Field("", max_length=500)


class ReasonIn(Schema):
    reason: str = Field(..., min_length=1, max_length=500)


class LostIn(Schema):
    note: str = Field(..., min_length=1, max_length=500)


class EnrollmentCodeOut(Schema):
    code: str
    expires_at: dt.datetime
    command: str


class PostureReportOut(Schema):
    id: int
    received_at: dt.datetime
    collected_at: dt.datetime
    platform: str
    agent_version: str
    passed: bool
    failures: list[FailureOut]
    facts: dict[str, Any]


class PosturePolicyOut(Schema):
    contract_id: int
    require_disk_encryption: bool
    require_antivirus: bool
    max_definitions_age_days: int
    max_os_update_age_days: int
    require_firewall: bool
    max_screen_lock_minutes: int
    max_report_age_hours: int


class PosturePolicyIn(Schema):
    model_config = ConfigDict(extra="forbid")

    require_disk_encryption: bool | None = None
    require_antivirus: bool | None = None
    max_definitions_age_days: int | None = Field(None, ge=1, le=90)
    max_os_update_age_days: int | None = Field(None, ge=1, le=365)
    require_firewall: bool | None = None
    max_screen_lock_minutes: int | None = Field(None, ge=1, le=120)
    max_report_age_hours: int | None = Field(None, ge=1, le=168)


class MediumOut(Schema):
    id: int
    contract_id: int
    label: str
    kind: str
    security_function: str
    security_function_label: str
    product: str
    serial_number: str
    capacity_gb: int | None
    note: str
    status: str
    status_label: str
    status_reason: str
    approved_by: str | None
    approved_at: dt.datetime | None
    custodian: str | None
    custody_since: dt.datetime | None
    usable_for_transfer: bool

    @staticmethod
    def resolve_security_function_label(obj: Medium) -> str:
        return str(obj.get_security_function_display())

    @staticmethod
    def resolve_status_label(obj: Medium) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_approved_by(obj: Medium) -> str | None:
        return obj.approved_by.username if obj.approved_by else None

    @staticmethod
    def resolve_custodian(obj: Medium) -> str | None:
        return obj.custodian.username if obj.custodian else None

    @staticmethod
    def resolve_usable_for_transfer(obj: Medium) -> bool:
        return obj.status == Medium.Status.APPROVED and obj.has_security_function


class MediumIn(Schema):
    contract_id: int
    label: str = Field(..., min_length=1, max_length=100)
    kind: MediumKind
    security_function: Medium.SecurityFunction
    serial_number: str = Field(..., min_length=1, max_length=100)
    product: str = Field("", max_length=150)
    capacity_gb: int | None = Field(None, ge=1, le=1_000_000)
    note: str = Field("", max_length=2000)


class DeviceNoteIn(Schema):
    note: str = Field("", max_length=500)


class CustodyIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    note: str = Field("", max_length=500)


class CustodyOut(Schema):
    custodian: str
    since: dt.datetime
    until: dt.datetime | None
    note: str
    recorded_by: str

    @staticmethod
    def resolve_custodian(obj: CustodyRecord) -> str:
        return obj.custodian.username

    @staticmethod
    def resolve_recorded_by(obj: CustodyRecord) -> str:
        return obj.recorded_by.username


# --- agent schemas ----------------------------------------------------------------------------------------


class FactsIn(Schema):
    """What a collector read from the OS. None means "could not tell" (and fails the check)."""

    model_config = ConfigDict(extra="forbid")

    platform: Literal["windows", "macos", "linux"]
    hostname: str = Field("", max_length=255)
    os_name: str = Field("", max_length=100)
    os_version: str = Field("", max_length=100)
    disk_encryption: bool | None = None
    antivirus_enabled: bool | None = None
    antivirus_product: str = Field("", max_length=150)
    antivirus_definitions_updated: AwareDatetime | None = None
    os_updated: AwareDatetime | None = None
    firewall_enabled: bool | None = None
    screen_lock_enabled: bool | None = None
    screen_lock_minutes: int | None = Field(None, ge=0, le=10080)
    sources: dict[str, str] = Field(default_factory=dict)

    @field_validator("antivirus_definitions_updated", "os_updated")
    @classmethod
    def _plausible(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value < EARLIEST:
            raise ValueError("date before 2000")
        return value

    @field_validator("sources")
    @classmethod
    def _small(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 20 or any(len(k) > 50 or len(v) > 300 for k, v in value.items()):
            raise ValueError("sources: at most 20 entries of short text")
        return value


class ReportIn(Schema):
    model_config = ConfigDict(extra="forbid")

    collected_at: AwareDatetime
    agent_version: str = Field("", max_length=30)
    facts: FactsIn


class EnrollIn(Schema):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(..., min_length=1, max_length=40)
    public_key: str = Field(..., min_length=40, max_length=60)
    hostname: str = Field("", max_length=255)
    platform: str = Field("", max_length=20)
    os_name: str = Field("", max_length=100)
    os_version: str = Field("", max_length=100)
    agent_version: str = Field("", max_length=30)


class EnrollOut(Schema):
    device: uuid.UUID
    name: str
    contract_number: str
    contract_title: str
    enrolled_at: dt.datetime
    key_fingerprint: str


class ReportOut(Schema):
    report: int
    received_at: dt.datetime
    passed: bool
    failures: list[FailureOut]
    access: bool
    clause: str | None
    message: str | None


class AgentStatusOut(Schema):
    device: uuid.UUID
    name: str
    status: str
    status_label: str
    approved_until: dt.datetime | None
    latest_report_at: dt.datetime | None
    access: bool
    clause: str | None
    message: str | None
    failures: list[FailureOut]
    policy: dict[str, Any]


class LoginLinkOut(Schema):
    path: str
    expires_at: dt.datetime
    expires_in: int


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Pydantic puts nested models under ``$defs``; OpenAPI wants the body schema self-contained."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


def _body_doc(model: type[Schema]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline_refs(model.model_json_schema())}},
        }
    }


def _parse(request: HttpRequest, model: type[Schema]) -> Any:
    try:
        data = json.loads(request.body or b"null")
    except ValueError as exc:
        raise Invalid("本文がJSONではありません。", code="invalid") from exc
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in exc.errors()[:10]
        )
        raise Invalid(f"入力内容が正しくありません（{problems}）。", code="invalid") from exc


# --- helpers ----------------------------------------------------------------------------------------------


def _contract(request: HttpRequest, contract_id: int, action: str) -> Contract:
    contract = policy.get_visible(request.user, Contract, pk=contract_id)
    policy.require(request.user, action, contract)
    return contract


def _device(request: HttpRequest, uid: uuid.UUID, action: str = "device.view") -> Device:
    device = policy.get_visible(request.user, Device, uid=uid)
    policy.require(request.user, action, device)
    return device


def _one(device: Device) -> Device:
    device = (
        Device.objects.select_related("owner", "organisation", "latest_report", "approved_by")
        .filter(pk=device.pk)
        .get()
    )
    return annotate_access([device])[0]


def _medium(request: HttpRequest, medium_id: int) -> Medium:
    medium = policy.get_visible(request.user, Medium, pk=medium_id)
    policy.require(request.user, "media.view", medium)
    return medium


def _user(username: str) -> User:
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise Invalid("指定された利用者が見つかりません。", code="unknown_user")
    return user


# --- devices ----------------------------------------------------------------------------------------------


@devices_router.get(
    "", response={200: list[DeviceOut], **ERRORS}, summary="端末の一覧（状態・アクセス可否つき）"
)
def list_devices(request: HttpRequest, contract_id: int | None = None) -> list[Device]:
    if contract_id is not None:
        contract = _contract(request, contract_id, "device.view")
        devices = selectors.devices_of(request.user, contract)
    else:
        devices = (
            policy.visible(request.user, Device)
            .select_related("owner", "organisation", "latest_report", "approved_by")
            .order_by("contract_id", "name", "pk")
        )
    return annotate_access(list(devices))


@devices_router.post("", response={201: DeviceOut, **ERRORS}, summary="端末の登録（承認の申請）")
def register_device(request: HttpRequest, payload: DeviceIn) -> Status[Device]:
    contract = _contract(request, payload.contract_id, "device.register")
    device = services.register_device(
        contract,
        acting_user=request.user,
        name=payload.name,
        kind=payload.kind,
        os=payload.os,
        os_version=payload.os_version,
        asset_tag=payload.asset_tag,
        serial_number=payload.serial_number,
        owner=_user(payload.owner) if payload.owner else None,
        disk_encryption=payload.disk_encryption,
        antivirus=payload.antivirus,
        note=payload.note,
    )
    return Status(201, _one(device))


@devices_router.get(
    "/posture-policy/{contract_id}",
    response={200: PosturePolicyOut, **ERRORS},
    summary="端末のセキュリティ基準",
)
def get_posture_policy(request: HttpRequest, contract_id: int) -> dict[str, Any]:
    contract = _contract(request, contract_id, "device.view")
    return {"contract_id": contract.pk, **selectors.policy_values(contract).as_dict()}


@devices_router.put(
    "/posture-policy/{contract_id}",
    response={200: PosturePolicyOut, **ERRORS},
    summary="端末のセキュリティ基準の変更（情報管理責任者）",
)
def set_posture_policy(request: HttpRequest, contract_id: int, payload: PosturePolicyIn) -> dict[str, Any]:
    contract = _contract(request, contract_id, "device.view")
    values = {k: v for k, v in payload.model_dump().items() if v is not None}
    row = services.set_posture_policy(contract, acting_user=request.user, **values)
    return {"contract_id": contract.pk, **PolicyValues.of(row).as_dict()}


@devices_router.get("/{uuid:uid}", response={200: DeviceOut, **ERRORS}, summary="端末の詳細")
def get_device(request: HttpRequest, uid: uuid.UUID) -> Device:
    return _one(_device(request, uid))


@devices_router.post("/{uuid:uid}/approve", response={200: DeviceOut, **ERRORS}, summary="端末の承認・再承認")
def approve_device(request: HttpRequest, uid: uuid.UUID, payload: ApproveIn) -> Device:
    device = _device(request, uid)
    until = payload.approved_until or timezone.now() + dt.timedelta(days=payload.valid_days)
    return _one(
        services.approve_device(device, acting_user=request.user, approved_until=until, note=payload.note)
    )


@devices_router.post("/{uuid:uid}/revoke", response={200: DeviceOut, **ERRORS}, summary="端末の承認取消")
def revoke_device(request: HttpRequest, uid: uuid.UUID, payload: ReasonIn) -> Device:
    device = _device(request, uid)
    return _one(services.revoke_device(device, acting_user=request.user, reason=payload.reason))


@devices_router.post(
    "/{uuid:uid}/lost", response={200: DeviceOut, **ERRORS}, summary="端末の紛失・盗難の届出"
)
def mark_device_lost(request: HttpRequest, uid: uuid.UUID, payload: LostIn) -> Device:
    device = _device(request, uid)
    return _one(services.mark_device_lost(device, acting_user=request.user, note=payload.note))


@devices_router.post(
    "/{uuid:uid}/enrollment-code",
    response={201: EnrollmentCodeOut, **ERRORS},
    summary="エージェント登録コードの発行（一回限り・24時間有効）",
)
def issue_enrollment_code(request: HttpRequest, uid: uuid.UUID) -> Status[dict[str, Any]]:
    device, code = services.issue_enrollment_code(_device(request, uid), acting_user=request.user)
    server = request.build_absolute_uri("/").rstrip("/")
    return Status(
        201,
        {
            "code": code,
            "expires_at": device.enrollment_code_expires_at,
            "command": f"sekisho agent enroll --server {server} --code {code}",
        },
    )


@devices_router.get(
    "/{uuid:uid}/posture",
    response={200: list[PostureReportOut], **ERRORS},
    summary="姿勢報告の履歴（新しい順）",
)
def posture_history(
    request: HttpRequest, uid: uuid.UUID, limit: int = 50, offset: int = 0
) -> list[PostureReport]:
    device = _device(request, uid)
    limit, offset = max(1, min(limit, 500)), max(0, offset)
    return list(selectors.posture_history(device)[offset : offset + limit])


# --- media ------------------------------------------------------------------------------------------------


@media_router.get("", response={200: list[MediumOut], **ERRORS}, summary="記録媒体の一覧")
def list_media(request: HttpRequest, contract_id: int | None = None) -> list[Medium]:
    if contract_id is not None:
        return list(selectors.media_of(request.user, _contract(request, contract_id, "media.view")))
    return list(
        policy.visible(request.user, Medium)
        .select_related("custodian", "approved_by")
        .order_by("contract_id", "label", "pk")
    )


@media_router.post("", response={201: MediumOut, **ERRORS}, summary="記録媒体の登録")
def register_medium(request: HttpRequest, payload: MediumIn) -> Status[Medium]:
    contract = _contract(request, payload.contract_id, "media.register")
    medium = services.register_medium(
        contract,
        acting_user=request.user,
        label=payload.label,
        kind=payload.kind,
        security_function=payload.security_function,
        serial_number=payload.serial_number,
        product=payload.product,
        capacity_gb=payload.capacity_gb,
        note=payload.note,
    )
    return Status(201, medium)


@media_router.get("/{medium_id}", response={200: MediumOut, **ERRORS}, summary="記録媒体の詳細")
def get_medium(request: HttpRequest, medium_id: int) -> Medium:
    return _medium(request, medium_id)


@media_router.post("/{medium_id}/approve", response={200: MediumOut, **ERRORS}, summary="記録媒体の承認")
def approve_medium(request: HttpRequest, medium_id: int, payload: DeviceNoteIn) -> Medium:
    return services.approve_medium(_medium(request, medium_id), acting_user=request.user, note=payload.note)


@media_router.post("/{medium_id}/revoke", response={200: MediumOut, **ERRORS}, summary="記録媒体の承認取消")
def revoke_medium(request: HttpRequest, medium_id: int, payload: ReasonIn) -> Medium:
    return services.revoke_medium(
        _medium(request, medium_id), acting_user=request.user, reason=payload.reason
    )


@media_router.post(
    "/{medium_id}/lost", response={200: MediumOut, **ERRORS}, summary="記録媒体の紛失・盗難の届出"
)
def mark_medium_lost(request: HttpRequest, medium_id: int, payload: LostIn) -> Medium:
    return services.mark_medium_lost(_medium(request, medium_id), acting_user=request.user, note=payload.note)


@media_router.post(
    "/{medium_id}/custody", response={200: MediumOut, **ERRORS}, summary="記録媒体の保管者の変更"
)
def hand_over_medium(request: HttpRequest, medium_id: int, payload: CustodyIn) -> Medium:
    medium = _medium(request, medium_id)
    return services.hand_over_medium(
        medium, acting_user=request.user, custodian=_user(payload.username), note=payload.note
    )


@media_router.get(
    "/{medium_id}/custody", response={200: list[CustodyOut], **ERRORS}, summary="記録媒体の保管の履歴"
)
def custody_history(request: HttpRequest, medium_id: int) -> list[CustodyRecord]:
    return list(selectors.custody_history(_medium(request, medium_id)))


# --- the agent (signed by the device key; no session, no token) -------------------------------------------


@agent_router.post(
    "/enroll",
    auth=None,
    response={201: EnrollOut, **AGENT_ERRORS},
    summary="エージェントの登録（登録コード＋新しい鍵による署名）",
    openapi_extra=_body_doc(EnrollIn),
)
def agent_enroll(request: HttpRequest) -> Status[dict[str, Any]]:
    payload: EnrollIn = _parse(request, EnrollIn)
    fp = device_signing.verify_enrollment_request(request, payload.public_key)
    device = services.enroll_device(
        code=payload.code,
        public_key=payload.public_key,
        key_fingerprint=fp,
        hostname=payload.hostname,
        platform=payload.platform,
        agent_version=payload.agent_version,
    )
    return Status(
        201,
        {
            "device": device.uid,
            "name": device.name,
            "contract_number": device.contract.number,
            "contract_title": device.contract.title,
            "enrolled_at": device.enrolled_at,
            "key_fingerprint": fp,
        },
    )


def _verdict(device: Device) -> dict[str, Any]:
    values = selectors.policy_values(device.contract)
    problem = access_problem(device, values)
    failures = problem.failures if problem else []
    return {
        "access": problem is None,
        "clause": problem.clause if problem else None,
        "message": problem.message if problem else None,
        "failures": [f.as_dict() for f in failures],
    }


@agent_router.post(
    "/report",
    auth=None,
    response={201: ReportOut, **AGENT_ERRORS},
    summary="姿勢報告の送信（端末の鍵で署名）",
    openapi_extra=_body_doc(ReportIn),
)
def agent_report(request: HttpRequest) -> Status[dict[str, Any]]:
    device = device_signing.verify_device_request(request)
    payload: ReportIn = _parse(request, ReportIn)
    facts = payload.facts.model_dump()
    report = services.record_posture_report(
        device, collected_at=payload.collected_at, facts=facts, agent_version=payload.agent_version
    )
    device.refresh_from_db()
    return Status(
        201,
        {
            "report": report.pk,
            "received_at": report.received_at,
            **_verdict(device),
            "passed": report.passed,
            "failures": report.failures,
        },
    )


@agent_router.get(
    "/status",
    auth=None,
    response={200: AgentStatusOut, **AGENT_ERRORS},
    summary="端末の状態（端末の鍵で署名）",
)
def agent_status(request: HttpRequest) -> dict[str, Any]:
    device = device_signing.verify_device_request(request)
    device = Device.objects.select_related("contract", "latest_report").get(pk=device.pk)
    return {
        "device": device.uid,
        "name": device.name,
        "status": device.effective_status,
        "status_label": device.effective_status_label,
        "approved_until": device.approved_until,
        "latest_report_at": device.latest_report.received_at if device.latest_report else None,
        **_verdict(device),
        "policy": selectors.policy_values(device.contract).as_dict(),
    }


@agent_router.post(
    "/login-link",
    auth=None,
    response={201: LoginLinkOut, **AGENT_ERRORS},
    summary="ブラウザを端末に結び付ける一回限りのリンク（端末の鍵で署名）",
)
def agent_login_link(request: HttpRequest) -> Status[dict[str, Any]]:
    device = device_signing.verify_device_request(request)
    link, token = services.create_login_link(device)
    return Status(
        201,
        {
            "path": reverse("devices:bind", args=[token]),
            "expires_at": link.expires_at,
            "expires_in": int((link.expires_at - timezone.now()).total_seconds()),
        },
    )
