"""Workflow steps for devices, their credentials and posture, and media.

Each step checks the access policy, enforces its clause, writes the models and appends the audit event in
one transaction. Steps started by the agent act as the device (``agent:<device id>``), not as a person.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core import policy
from sekisho.core.errors import Conflict, Forbidden, Invalid
from sekisho.core.models import CONTRACTOR_ROLES, Contract, Membership, Role, User
from sekisho.incidents.services import open_incident_for_lost_device

from .models import (
    CustodyRecord,
    Device,
    DeviceKind,
    DeviceLoginLink,
    Medium,
    MediumKind,
    PosturePolicy,
    PostureReport,
)
from .policy import SESSION_KEY, approval_problem, ownership_problem, posture_failures
from .posture import PolicyValues, evaluate
from .selectors import policy_values

ENROLLMENT_CODE_TTL = dt.timedelta(hours=24)
LOGIN_LINK_TTL = dt.timedelta(minutes=5)
MAX_APPROVAL = dt.timedelta(days=731)
# Crockford's base32 without look-alikes (no I, L, O, U): easy to read out and type on a PC.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _agent_actor(device: Device) -> str:
    return f"agent:{device.uid}"


def _open_contract(contract: Contract) -> None:
    if contract.status == Contract.Status.CLOSED:
        raise Conflict(_("完了した契約には登録できません。"), code="contract_closed")


def _contractor_member(contract: Contract, user: User, what: str) -> Membership:
    membership = (
        Membership.objects.current()
        .select_related("organisation")
        .filter(contract=contract, user=user, role__in=CONTRACTOR_ROLES)
        .first()
    )
    if membership is None:
        raise Invalid(
            _(
                "{what}には、この契約の受注者側（情報管理責任者・社員等）のメンバーを指定してください。"
            ).format(what=what)
        )
    return membership


def _check_choice(value: str, choices: list[str], label: str) -> None:
    if value not in choices:
        raise Invalid(_("{label}の指定が正しくありません。").format(label=label))


def _check_move(obj: Device | Medium, to: str) -> None:
    if to not in obj.allowed_next():
        raise Conflict(
            _("状態を「{frm}」から「{to}」に変更することはできません。").format(
                frm=obj.get_status_display(), to=type(obj).Status(to).label
            ),
            code="invalid_transition",
        )


# --- devices ----------------------------------------------------------------------------------------------


@transaction.atomic
def register_device(
    contract: Contract,
    *,
    acting_user: Any,
    name: str,
    kind: str,
    os: str,
    os_version: str = "",
    asset_tag: str = "",
    serial_number: str = "",
    owner: User | None = None,
    disk_encryption: str = "",
    antivirus: str = "",
    note: str = "",
) -> Device:
    """Register a PC for the contract and so ask the information manager to approve it (R2.6.2ア).

    Staff register their own PC; the information manager may register one for any contractor-side member."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    role = policy.require(acting_user, "device.register", contract)
    owner = owner or acting_user
    if role == Role.STAFF and owner.pk != acting_user.pk:
        raise Forbidden(_("社員等が登録できるのは自分の使用する端末のみです。"))
    _open_contract(contract)
    name, asset_tag = name.strip(), asset_tag.strip()
    if not name:
        raise Invalid(_("端末名を入力してください。"))
    _check_choice(kind, DeviceKind.values, _("端末の種別"))
    _check_choice(os, Device.OS.values, _("OS"))
    membership = _contractor_member(contract, owner, _("使用者"))
    if asset_tag and Device.objects.filter(contract=contract, asset_tag=asset_tag).exists():
        raise Conflict(_("この資産番号の端末は既に登録されています。"), code="duplicate")
    device = Device.objects.create(
        contract=contract,
        name=name,
        kind=kind,
        os=os,
        os_version=os_version.strip(),
        asset_tag=asset_tag,
        serial_number=serial_number.strip(),
        owner=owner,
        organisation=membership.organisation,
        disk_encryption=disk_encryption.strip(),
        antivirus=antivirus.strip(),
        note=note.strip(),
        registered_by=acting_user,
    )
    record(
        actor=acting_user,
        action="device.register",
        contract=contract,
        obj=device,
        summary={
            "uid": device.uid,
            "name": name,
            "kind": kind,
            "os": os,
            "asset_tag": asset_tag,
            "owner": owner.username,
            "organisation": membership.organisation.name,
        },
    )
    return device


def _locked(device: Device) -> Device:
    return Device.objects.select_for_update().select_related("contract", "owner").get(pk=device.pk)


@transaction.atomic
def approve_device(
    device: Device, *, acting_user: Any, approved_until: dt.datetime, note: str = ""
) -> Device:
    """The information manager approves a PC until a date, or re-approves it (R2.7ア)."""
    device = _locked(device)
    policy.require(acting_user, "device.approve", device)
    _check_move(device, Device.Status.APPROVED)
    now = timezone.now()
    if approved_until <= now:
        raise Invalid(_("承認期限は将来の日時にしてください。"))
    if approved_until - now > MAX_APPROVAL:
        raise Invalid(_("承認期限は2年以内にしてください。"))
    before = device.status
    device.status = Device.Status.APPROVED
    device.approved_by = acting_user
    device.approved_at = now
    device.approved_until = approved_until
    device.status_changed_at = now
    device.status_reason = note.strip()[:500]
    device.save()
    record(
        actor=acting_user,
        action="device.reapprove" if before == Device.Status.APPROVED else "device.approve",
        contract=device.contract,
        obj=device,
        summary={"uid": device.uid, "from": before, "approved_until": approved_until, "note": note},
    )
    return device


def _forget_credential(device: Device) -> None:
    device.public_key = ""
    device.key_fingerprint = ""
    device.enrollment_code_hash = ""
    device.enrollment_code_expires_at = None


@transaction.atomic
def revoke_device(device: Device, *, acting_user: Any, reason: str) -> Device:
    """Withdraw a PC's approval. Its key is forgotten: coming back needs approval and a new enrolment."""
    device = _locked(device)
    policy.require(acting_user, "device.approve", device)
    _check_move(device, Device.Status.REVOKED)
    if not reason.strip():
        raise Invalid(_("取消の理由を入力してください。"))
    before, fingerprint = device.status, device.key_fingerprint
    device.status = Device.Status.REVOKED
    device.status_changed_at = timezone.now()
    device.status_reason = reason.strip()[:500]
    _forget_credential(device)
    device.save()
    record(
        actor=acting_user,
        action="device.revoke",
        contract=device.contract,
        obj=device,
        summary={"uid": device.uid, "from": before, "reason": reason, "key_fingerprint": fingerprint},
    )
    return device


@transaction.atomic
def revoke_enrollments_of_user(
    user: User, *, acting_user: Any, reason: str, contract: Contract | None = None
) -> list[Device]:
    """The PCs of a person who leaves stop working at once (R2.4.2 with R2.7ア): their keys are forgotten,
    so the agent can sign nothing more, and their approval is withdrawn, so no link can bind a browser
    session to them. Only the devices of *contract* when given (a 離任 from that contract), else every
    contract's (a 退職: the person is gone everywhere).

    A consequence of the leaving, not an entry point of its own: the caller (``people.services``) has checked
    the policy and holds the transaction. *acting_user* is who recorded the leaving, or "system" (the tick)."""
    devices = Device.objects.select_for_update().select_related("contract").filter(owner_id=user.pk)
    if contract is not None:
        devices = devices.filter(contract_id=contract.pk)
    now = timezone.now()
    revoked = []
    for device in devices.order_by("pk"):
        withdrawn = Device.Status.REVOKED in device.allowed_next()
        if not withdrawn and not device.public_key and not device.enrollment_code_hash:
            continue  # lost, or already revoked without a key: nothing left to take away
        before, fingerprint = device.status, device.key_fingerprint
        if withdrawn:
            device.status = Device.Status.REVOKED
            device.status_changed_at = now
            device.status_reason = reason.strip()[:500]
        _forget_credential(device)
        device.save()
        record(
            actor=acting_user,
            action="device.enrollment_revoked",
            contract=device.contract,
            obj=device,
            summary={
                "uid": device.uid,
                "owner": user.username,
                "from": before,
                "to": device.status,
                "reason": reason,
                "key_fingerprint": fingerprint or None,
            },
        )
        revoked.append(device)
    return revoked


@transaction.atomic
def mark_device_lost(device: Device, *, acting_user: Any, note: str) -> Device:
    """Record that a PC is lost or stolen: it loses access at once, for good.

    Its user may report it as well as the information manager: the sooner, the better. The loss opens an
    incident, reported to the orderer at once (R2.8.1)."""
    device = _locked(device)
    role = policy.require(acting_user, "device.mark_lost", device)
    if role == Role.STAFF and device.owner_id != acting_user.pk:
        raise Forbidden(_("社員等が紛失・盗難を届け出られるのは自分の使用する端末のみです。"))
    _check_move(device, Device.Status.LOST)
    if not note.strip():
        raise Invalid(_("紛失・盗難の状況を入力してください。"))
    before, fingerprint = device.status, device.key_fingerprint
    device.status = Device.Status.LOST
    device.status_changed_at = timezone.now()
    device.status_reason = note.strip()[:500]
    _forget_credential(device)
    device.save()
    record(
        actor=acting_user,
        action="device.lost",
        contract=device.contract,
        obj=device,
        summary={"uid": device.uid, "from": before, "note": note, "key_fingerprint": fingerprint},
    )
    # A lost PC is an incident to report to the orderer at once (R2.8.1), in the same transaction.
    open_incident_for_lost_device(
        contract=device.contract,
        acting_user=acting_user,
        device_label=f"{device.name}（{device.asset_tag}）" if device.asset_tag else device.name,
        detected_at=device.status_changed_at,
        note=note,
    )
    return device


@transaction.atomic
def issue_enrollment_code(device: Device, *, acting_user: Any) -> tuple[Device, str]:
    """A one-time code with which the agent on the approved PC registers its key. Shown once; only its
    hash is kept. A new code replaces an unused one; enrolling again replaces the key (a reinstalled PC)."""
    device = _locked(device)
    policy.require(acting_user, "device.approve", device)
    if device.status != Device.Status.APPROVED or device.is_expired():
        raise Conflict(
            _("承認済み（期限内）の端末にのみ登録コードを発行できます。"),
            code="not_approved",
            clause="R2.7ア",
        )
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(16))
    code = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
    device.enrollment_code_hash = _sha256(_normalise_code(code))
    device.enrollment_code_expires_at = timezone.now() + ENROLLMENT_CODE_TTL
    device.save(update_fields=["enrollment_code_hash", "enrollment_code_expires_at"])
    record(
        actor=acting_user,
        action="device.enrollment_code",
        contract=device.contract,
        obj=device,
        summary={"uid": device.uid, "expires_at": device.enrollment_code_expires_at},
    )
    return device, code


@transaction.atomic
def enroll_device(
    *,
    code: str,
    public_key: str,
    key_fingerprint: str,
    hostname: str = "",
    platform: str = "",
    agent_version: str = "",
) -> Device:
    """The agent registers the PC's public key with a one-time code (the request is signed with the
    matching private key, checked by the caller). R2.7ア: only an approved device can be enrolled."""
    normalised = _normalise_code(code)
    device = None
    if len(normalised) == 16:
        device = (
            Device.objects.select_for_update()
            .select_related("contract")
            .filter(enrollment_code_hash=_sha256(normalised))
            .first()
        )
    now = timezone.now()
    if (
        device is None
        or device.enrollment_code_expires_at is None
        or device.enrollment_code_expires_at <= now
    ):
        raise Invalid(_("登録コードが正しくないか、有効期限が切れています。"), code="bad_enrollment_code")
    if device.status != Device.Status.APPROVED or device.is_expired(now):
        raise Forbidden(
            _("この端末は承認されていないため登録できません。"), code="device_refused", clause="R2.7ア"
        )
    if (
        Device.objects.filter(contract=device.contract, key_fingerprint=key_fingerprint)
        .exclude(pk=device.pk)
        .exists()
    ):
        raise Conflict(_("この鍵はこの契約の別の端末に登録されています。"), code="duplicate_key")
    previous = device.key_fingerprint
    device.public_key = public_key
    device.key_fingerprint = key_fingerprint
    device.enrolled_at = now
    device.enrollment_code_hash = ""
    device.enrollment_code_expires_at = None
    device.save()
    record(
        actor=_agent_actor(device),
        action="device.enroll",
        contract=device.contract,
        obj=device,
        summary={
            "uid": device.uid,
            "key_fingerprint": key_fingerprint,
            "replaced_key": previous or None,
            "hostname": hostname[:100],
            "platform": platform[:20],
            "agent_version": agent_version[:30],
        },
    )
    return device


@transaction.atomic
def record_posture_report(
    device: Device, *, collected_at: dt.datetime, facts: dict[str, Any], agent_version: str = ""
) -> PostureReport:
    """Store a signed posture report and its verdict against the contract's policy (R2.7イ). The device's
    access follows its newest report from now on."""
    device = _locked(device)
    if device.status in (Device.Status.REVOKED, Device.Status.LOST) or not device.public_key:
        raise Forbidden(_("この端末からの報告は受け付けられません。"), code="device_refused", clause="R2.7ア")
    now = timezone.now()
    values = policy_values(device.contract)
    if collected_at > now + dt.timedelta(minutes=5):
        raise Invalid(_("収集日時が未来になっています。端末の時計を確認してください。"), code="bad_report")
    if now - collected_at > dt.timedelta(hours=values.max_report_age_hours):
        raise Invalid(_("収集日時が古すぎます。収集し直して送信してください。"), code="bad_report")
    for key in ("antivirus_definitions_updated", "os_updated"):
        value = facts.get(key)
        if isinstance(value, dt.datetime) and value > now + dt.timedelta(days=1):
            raise Invalid(_("{key} が未来の日時になっています。").format(key=key), code="bad_report")
    stored = {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in facts.items()}
    failures = evaluate(stored, values, now)
    report = PostureReport.objects.create(
        device=device,
        received_at=now,
        collected_at=collected_at,
        platform=str(stored.get("platform", "")),
        agent_version=agent_version[:30],
        facts=stored,
        passed=not failures,
        failures=[f.as_dict() for f in failures],
    )
    device.latest_report = report
    device.save(update_fields=["latest_report"])
    record(
        actor=_agent_actor(device),
        action="device.posture_report",
        contract=device.contract,
        obj=device,
        summary={
            "uid": device.uid,
            "report": report.pk,
            "passed": report.passed,
            "failing": [f.control for f in failures],
        },
    )
    return report


@transaction.atomic
def create_login_link(device: Device) -> tuple[DeviceLoginLink, str]:
    """A one-time link (asked for by the agent, signed by the device key) that binds a browser session to
    the device. Refused for a device that is not approved (R2.7ア)."""
    device = _locked(device)
    problem = approval_problem(device)
    if problem is not None:
        raise problem
    token = secrets.token_urlsafe(32)
    link = DeviceLoginLink.objects.create(
        device=device, token_hash=_sha256(token), expires_at=timezone.now() + LOGIN_LINK_TTL
    )
    record(
        actor=_agent_actor(device),
        action="device.login_link",
        contract=device.contract,
        obj=device,
        summary={"uid": device.uid, "expires_at": link.expires_at},
    )
    return link, token


@transaction.atomic
def bind_session(request: HttpRequest, *, token: str, acting_user: Any) -> Device:
    """Bind the browser session to the device whose agent asked for *token*. The binding lives in the
    session (so it ends with it) and is re-checked on every use by ``policy.require_device``.

    R2.7ア: only the device's own user (使用者) binds a session to it: the information manager approved that
    PC for that person, and a link that reached someone else proves nothing about where they sit."""
    link = (
        DeviceLoginLink.objects.select_for_update()
        .select_related("device", "device__contract")
        .filter(token_hash=_sha256(token))
        .first()
    )
    now = timezone.now()
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise Invalid(
            _("このリンクは使用済みか有効期限切れです。端末で `sekisho agent open` をやり直してください。"),
            code="bad_login_link",
        )
    device = link.device
    policy.require(acting_user, "device.view", device)
    problem = approval_problem(device, now) or ownership_problem(device, acting_user)
    if problem is not None:
        raise problem
    link.used_at = now
    link.used_by = acting_user
    link.save(update_fields=["used_at", "used_by"])
    bindings = dict(request.session.get(SESSION_KEY) or {})
    bindings[str(device.contract_id)] = str(device.uid)
    # A new session key: a session id known before the binding is worth nothing after it.
    request.session.cycle_key()
    request.session[SESSION_KEY] = bindings
    record(
        actor=acting_user,
        action="device.session_bound",
        contract=device.contract,
        obj=device,
        summary={"uid": device.uid, "user": acting_user.get_username()},
    )
    return device


POLICY_LIMITS: dict[str, tuple[int, int]] = {
    "max_definitions_age_days": (1, 90),
    "max_os_update_age_days": (1, 365),
    "max_screen_lock_minutes": (1, 120),
    "max_report_age_hours": (1, 168),
}


@transaction.atomic
def set_posture_policy(contract: Contract, *, acting_user: Any, **values: Any) -> PosturePolicy:
    """The information manager sets what the contract asks of each PC's security measures (R2.7イ)."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, "posture_policy.manage", contract)
    allowed = set(PolicyValues.__dataclass_fields__)
    unknown = set(values) - allowed
    if unknown:
        raise Invalid(_("不明な項目です: {names}").format(names=", ".join(sorted(unknown))))
    for name, (low, high) in POLICY_LIMITS.items():
        if name in values and not (isinstance(values[name], int) and low <= values[name] <= high):
            raise Invalid(
                _("{name} は {low}〜{high} の範囲で指定してください。").format(name=name, low=low, high=high)
            )
    row, _created = PosturePolicy.objects.get_or_create(contract=contract)
    before = PolicyValues.of(row).as_dict()
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = timezone.now()
    row.save()
    record(
        actor=acting_user,
        action="device.posture_policy",
        contract=contract,
        obj=row,
        summary={"before": before, "after": PolicyValues.of(row).as_dict()},
    )
    return row


def current_failures(device: Device) -> list[dict[str, str]]:
    return [f.as_dict() for f in posture_failures(device, policy_values(device.contract))]


# --- media ------------------------------------------------------------------------------------------------


@transaction.atomic
def register_medium(
    contract: Contract,
    *,
    acting_user: Any,
    label: str,
    kind: str,
    security_function: str,
    serial_number: str,
    product: str = "",
    capacity_gb: int | None = None,
    note: str = "",
) -> Medium:
    """Register a USB memory, external disk or optical disc; the registrant holds it to begin with."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, "media.register", contract)
    _open_contract(contract)
    label, serial_number = label.strip(), serial_number.strip()
    if not label or not serial_number:
        raise Invalid(_("管理名と製造番号を入力してください。"))
    _check_choice(kind, MediumKind.values, _("媒体の種別"))
    _check_choice(security_function, Medium.SecurityFunction.values, _("セキュリティ機能"))
    if capacity_gb is not None and not (0 < capacity_gb <= 1_000_000):
        raise Invalid(_("容量の指定が正しくありません。"))
    if Medium.objects.filter(contract=contract, serial_number=serial_number).exists():
        raise Conflict(_("この製造番号の媒体は既に登録されています。"), code="duplicate")
    now = timezone.now()
    try:
        with transaction.atomic():
            medium = Medium.objects.create(
                contract=contract,
                label=label,
                kind=kind,
                security_function=security_function,
                serial_number=serial_number,
                product=product.strip(),
                capacity_gb=capacity_gb,
                note=note.strip(),
                registered_by=acting_user,
                custodian=acting_user,
                custody_since=now,
            )
    except IntegrityError as exc:
        raise Conflict(_("この製造番号の媒体は既に登録されています。"), code="duplicate") from exc
    CustodyRecord.objects.create(medium=medium, custodian=acting_user, since=now, recorded_by=acting_user)
    record(
        actor=acting_user,
        action="media.register",
        contract=contract,
        obj=medium,
        summary={
            "label": label,
            "kind": kind,
            "security_function": security_function,
            "serial_number": serial_number,
        },
    )
    return medium


def _locked_medium(medium: Medium) -> Medium:
    return Medium.objects.select_for_update().select_related("contract").get(pk=medium.pk)


@transaction.atomic
def approve_medium(medium: Medium, *, acting_user: Any, note: str = "") -> Medium:
    """Approve a medium for carrying information. R2.7エ: one without a security function is refused."""
    medium = _locked_medium(medium)
    policy.require(acting_user, "media.approve", medium)
    _check_move(medium, Medium.Status.APPROVED)
    if not medium.has_security_function:
        raise Conflict(
            _("セキュリティ機能（暗号化）のない記録媒体は承認できません。"),
            code="no_security_function",
            clause="R2.7エ",
        )
    before = medium.status
    now = timezone.now()
    medium.status = Medium.Status.APPROVED
    medium.approved_by = acting_user
    medium.approved_at = now
    medium.status_changed_at = now
    medium.status_reason = note.strip()[:500]
    medium.save()
    record(
        actor=acting_user,
        action="media.approve",
        contract=medium.contract,
        obj=medium,
        summary={"label": medium.label, "from": before, "note": note},
    )
    return medium


@transaction.atomic
def revoke_medium(medium: Medium, *, acting_user: Any, reason: str) -> Medium:
    medium = _locked_medium(medium)
    policy.require(acting_user, "media.approve", medium)
    _check_move(medium, Medium.Status.REVOKED)
    if not reason.strip():
        raise Invalid(_("取消の理由を入力してください。"))
    before = medium.status
    medium.status = Medium.Status.REVOKED
    medium.status_changed_at = timezone.now()
    medium.status_reason = reason.strip()[:500]
    medium.save()
    record(
        actor=acting_user,
        action="media.revoke",
        contract=medium.contract,
        obj=medium,
        summary={"label": medium.label, "from": before, "reason": reason},
    )
    return medium


@transaction.atomic
def mark_medium_lost(medium: Medium, *, acting_user: Any, note: str) -> Medium:
    """Record a lost or stolen medium. Its holder may report it as well as the information manager."""
    medium = _locked_medium(medium)
    role = policy.require(acting_user, "media.mark_lost", medium)
    if role == Role.STAFF and medium.custodian_id != acting_user.pk:
        raise Forbidden(_("社員等が紛失・盗難を届け出られるのは自分が保管している媒体のみです。"))
    _check_move(medium, Medium.Status.LOST)
    if not note.strip():
        raise Invalid(_("紛失・盗難の状況を入力してください。"))
    before = medium.status
    medium.status = Medium.Status.LOST
    medium.status_changed_at = timezone.now()
    medium.status_reason = note.strip()[:500]
    medium.save()
    record(
        actor=acting_user,
        action="media.lost",
        contract=medium.contract,
        obj=medium,
        summary={"label": medium.label, "from": before, "note": note, "custodian": medium.custodian_id},
    )
    open_incident_for_lost_device(
        contract=medium.contract,
        acting_user=acting_user,
        device_label=medium.label,
        detected_at=medium.status_changed_at,
        note=note,
    )
    return medium


@transaction.atomic
def hand_over_medium(medium: Medium, *, acting_user: Any, custodian: User, note: str = "") -> Medium:
    """Record that a medium changes hands: who holds it, since when."""
    medium = _locked_medium(medium)
    policy.require(acting_user, "media.custody", medium)
    if medium.status == Medium.Status.LOST:
        raise Conflict(_("紛失・盗難の届出がされた媒体の保管者は変更できません。"), code="invalid_transition")
    _contractor_member(medium.contract, custodian, _("保管者"))
    if medium.custodian_id == custodian.pk:
        raise Conflict(_("既にこの人が保管しています。"), code="no_change")
    now = timezone.now()
    CustodyRecord.objects.filter(medium=medium, until__isnull=True).update(until=now)
    CustodyRecord.objects.create(
        medium=medium, custodian=custodian, since=now, note=note.strip()[:500], recorded_by=acting_user
    )
    previous = medium.custodian.username if medium.custodian else None
    medium.custodian = custodian
    medium.custody_since = now
    medium.save(update_fields=["custodian", "custody_since"])
    record(
        actor=acting_user,
        action="media.custody",
        contract=medium.contract,
        obj=medium,
        summary={"label": medium.label, "from": previous, "to": custodian.username, "note": note},
    )
    return medium
