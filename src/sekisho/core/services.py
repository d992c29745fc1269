"""Workflow steps of the core domain. Each checks the policy, enforces its rule, writes the models and appends
the audit event in one transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record

from . import policy
from .errors import Conflict, Forbidden, Invalid
from .models import CONTRACTOR_ROLES, Contract, Membership, Organisation, Role, User

# Which action of the policy a status move needs.
_TRANSITION_ACTION: dict[tuple[str, str], str] = {
    (Contract.Status.DRAFT, Contract.Status.ACTIVE): "contract.activate",
    (Contract.Status.ACTIVE, Contract.Status.CLOSING): "contract.start_closing",
    (Contract.Status.CLOSING, Contract.Status.CLOSED): "contract.close",
    (Contract.Status.CLOSING, Contract.Status.ACTIVE): "contract.reopen",
}


def system_account() -> User:
    """The deployment's own superuser, which CLI administration and set-up act as. It cannot log in."""
    with transaction.atomic():
        user, created = User.objects.get_or_create(
            username="sekisho-admin",
            defaults={"display_name": "システム管理者", "is_superuser": True, "is_staff": True},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            record(actor=user, action="user.create_system_account", obj=user, summary={})
    return user


def transition_action(frm: str, to: str) -> str | None:
    """The policy action a status move needs, or None if the table has no such move."""
    return _TRANSITION_ACTION.get((frm, to))


@transaction.atomic
def create_organisation(*, acting_user: Any, name: str, kind: str, address: str = "") -> Organisation:
    policy.require_system_admin(acting_user)
    name = name.strip()
    if not name:
        raise Invalid(_("組織の名称を入力してください。"))
    if kind not in Organisation.Kind.values:
        raise Invalid(_("組織の区分が正しくありません。"))
    if Organisation.objects.filter(name=name).exists():
        raise Conflict(_("同じ名称の組織が既にあります。"), code="duplicate")
    org = Organisation.objects.create(name=name, kind=kind, address=address)
    record(actor=acting_user, action="organisation.create", obj=org, summary={"name": name, "kind": kind})
    return org


@transaction.atomic
def create_user(
    *,
    acting_user: Any,
    username: str,
    password: str,
    display_name: str = "",
    email: str = "",
    organisation: Organisation | None = None,
    is_superuser: bool = False,
) -> User:
    """Create a login. Passwords are checked by the validators and stored as Argon2 hashes."""
    policy.require_system_admin(acting_user)
    username = username.strip()
    if not username:
        raise Invalid(_("ユーザー名を入力してください。"))
    if User.objects.filter(username=username).exists():
        raise Conflict(_("このユーザー名は既に使われています。"), code="duplicate")
    user = User(
        username=username,
        display_name=display_name,
        email=email,
        organisation=organisation,
        is_superuser=is_superuser,
        is_staff=is_superuser,
    )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise Invalid(" ".join(exc.messages), code="weak_password") from exc
    user.set_password(password)
    user.save()
    record(
        actor=acting_user,
        action="user.create",
        obj=user,
        summary={
            "username": username,
            "organisation": organisation.name if organisation else None,
            "superuser": is_superuser,
        },
    )
    return user


@transaction.atomic
def create_contract(
    *,
    acting_user: Any,
    number: str,
    title: str,
    orderer: Organisation,
    contractor: Organisation,
    period_start: dt.date,
    period_end: dt.date,
    purpose: str = "",
) -> Contract:
    policy.require_system_admin(acting_user)
    number, title = number.strip(), title.strip()
    if not number or not title:
        raise Invalid(_("契約番号と業務名を入力してください。"))
    if period_end < period_start:
        raise Invalid(_("履行期間の終期は始期より後の日付にしてください。"))
    if orderer.kind != Organisation.Kind.ORDERER:
        raise Invalid(_("発注者には発注者区分の組織を指定してください。"))
    if contractor.kind != Organisation.Kind.CONTRACTOR:
        raise Invalid(_("受注者には受注者区分の組織を指定してください。"))
    if Contract.objects.filter(number=number).exists():
        raise Conflict(_("この契約番号は既に登録されています。"), code="duplicate")
    contract = Contract.objects.create(
        number=number,
        title=title,
        purpose=purpose,
        orderer=orderer,
        contractor=contractor,
        period_start=period_start,
        period_end=period_end,
    )
    record(
        actor=acting_user,
        action="contract.create",
        contract=contract,
        obj=contract,
        summary={
            "number": number,
            "title": title,
            "orderer": orderer.name,
            "contractor": contractor.name,
            "period": [period_start, period_end],
        },
    )
    return contract


@transaction.atomic
def transition_contract(contract: Contract, *, acting_user: Any, to_status: str, note: str = "") -> Contract:
    """Move a contract along its status table (draft → active → closing → closed)."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    action = transition_action(contract.status, to_status)
    policy.require(acting_user, "contract.view", contract)
    if action is None or to_status not in contract.allowed_next():
        raise Conflict(
            _("契約の状態を「{frm}」から「{to}」に変更することはできません。").format(
                frm=Contract.Status(contract.status).label,
                to=Contract.Status(to_status).label if to_status in Contract.Status.values else to_status,
            ),
            code="invalid_transition",
        )
    policy.require(acting_user, action, contract)
    if (contract.status, to_status) == (Contract.Status.DRAFT, Contract.Status.ACTIVE):
        from sekisho.people.gates import require_ready_to_activate

        require_ready_to_activate(contract)  # R2.6.1 / P4: both managers appointed, the pledge signed
    if to_status == Contract.Status.CLOSED:
        from sekisho.closeout.gates import require_closed_out

        require_closed_out(contract)  # R2.5 / P9: all returned, destroyed or retained; certificate confirmed
    before = contract.status
    contract.status = to_status
    contract.save(update_fields=["status"])
    record(
        actor=acting_user,
        action="contract.transition",
        contract=contract,
        obj=contract,
        summary={"from": before, "to": to_status, "note": note},
    )
    return contract


@transaction.atomic
def add_member(
    contract: Contract,
    *,
    acting_user: Any,
    user: User,
    role: str,
    organisation: Organisation | None = None,
    expires_at: dt.datetime | None = None,
) -> Membership:
    """Give a user a role in a contract.

    Each side appoints its own people: the orderer officer adds orderer officers and auditors from the orderer;
    the information manager adds the contractor's and subcontractors' people. An auditor's membership may end
    at a set time (*expires_at*: a time-limited inspector, R3); the policy stops the access at that instant.
    """
    # Re-read under lock: the caller's instance may be stale (e.g. closed meanwhile).
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    actor_role = policy.require(acting_user, "membership.manage", contract)
    if role not in Role.values:
        raise Invalid(_("役割が正しくありません。"))
    if contract.status == Contract.Status.CLOSED:
        raise Conflict(_("完了した契約にはメンバーを追加できません。"), code="contract_closed")
    organisation = organisation or user.organisation
    if organisation is None:
        raise Invalid(_("所属組織が登録されていない利用者は追加できません。"))
    if not user.is_active:
        raise Invalid(_("無効化された利用者は追加できません。"))
    if actor_role == Role.ORDERER:
        if role in CONTRACTOR_ROLES or organisation != contract.orderer:
            raise Forbidden(_("発注者担当が追加できるのは発注者側の担当者と監査人のみです。"))
    else:
        contractor_side = organisation == contract.contractor or (
            organisation.kind == Organisation.Kind.SUBCONTRACTOR
        )
        if role == Role.ORDERER or not contractor_side:
            raise Forbidden(_("情報管理責任者が追加できるのは受注者・再委託先の者のみです。"))
        if role == Role.MANAGER and organisation != contract.contractor:
            raise Invalid(_("情報管理責任者は受注者の者から選任してください。"), clause="R2.6.1")
    if expires_at is not None:
        if role != Role.AUDITOR:
            raise Invalid(
                _("終了日時を定めて追加できるのは監査人（検査員）のみです。"), code="expiry_not_allowed"
            )
        if expires_at <= timezone.now():
            raise Invalid(_("終了日時は現在より後にしてください。"), code="expiry_in_past")
    if Membership.objects.current().filter(user=user, contract=contract).exists():
        raise Conflict(_("この利用者は既にこの契約のメンバーです。"), code="duplicate")
    # A membership whose end time has passed gives no access already; end it for the record before the new one.
    for lapsed in Membership.objects.lapsed().select_for_update().filter(user=user, contract=contract):
        _end_lapsed(lapsed)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                user=user, contract=contract, role=role, organisation=organisation, expires_at=expires_at
            )
    except IntegrityError as exc:  # a concurrent add of the same person
        raise Conflict(_("この利用者は既にこの契約のメンバーです。"), code="duplicate") from exc
    summary: dict[str, Any] = {"user": user.username, "role": role, "organisation": organisation.name}
    if expires_at is not None:
        summary["expires_at"] = expires_at
    record(actor=acting_user, action="membership.add", contract=contract, obj=membership, summary=summary)
    return membership


def _end_lapsed(membership: Membership) -> None:
    """End a membership whose end time has come, as of that time (the access stopped then, not now)."""
    membership.ended_at = membership.expires_at
    membership.save(update_fields=["ended_at"])
    record(
        actor="system",
        action="membership.expire",
        contract=membership.contract,
        obj=membership,
        summary={
            "user": membership.user.username,
            "role": membership.role,
            "expires_at": membership.expires_at,
        },
    )


@transaction.atomic
def end_lapsed_memberships(now: dt.datetime | None = None) -> int:
    """``sekisho tick``: end, for the record, every membership whose end time has passed. Access had already
    stopped at that time (the policy reads ``expires_at``); this only makes the history say so. Idempotent."""
    lapsed = list(
        Membership.objects.lapsed(now)
        .select_for_update(of=("self",))
        .select_related("contract", "user")
        .order_by("id")
    )
    for membership in lapsed:
        _end_lapsed(membership)
    return len(lapsed)


@transaction.atomic
def appoint_lead(contract: Contract, *, acting_user: Any, user: User, role: str) -> Membership:
    """Set-up step of the system administrator: appoint a contract's orderer officer or information manager.

    Everyone else is added by those leads through ``add_member``. Appointing the information manager is the
    first half of R2.6.1 (the pledge is the second).
    """
    policy.require_system_admin(acting_user)
    expected_org = {Role.ORDERER: contract.orderer, Role.MANAGER: contract.contractor}.get(role)  # type: ignore[call-overload]
    if expected_org is None:
        raise Invalid(_("システム管理者が選任できるのは発注者担当と情報管理責任者のみです。"))
    if user.organisation_id != expected_org.pk:
        raise Invalid(
            _("{role}は{org}の者から選任してください。").format(role=Role(role).label, org=expected_org.name),
            clause="R2.6.1" if role == Role.MANAGER else None,
        )
    if Membership.objects.current().filter(user=user, contract=contract).exists():
        raise Conflict(_("この利用者は既にこの契約のメンバーです。"), code="duplicate")
    membership = Membership.objects.create(user=user, contract=contract, role=role, organisation=expected_org)
    record(
        actor=acting_user,
        action="membership.appoint",
        contract=contract,
        obj=membership,
        summary={"user": user.username, "role": role, "organisation": expected_org.name},
    )
    return membership


@transaction.atomic
def end_membership(membership: Membership, *, acting_user: Any, reason: str = "") -> Membership:
    """End a user's role in a contract at once. The row stays for the record."""
    membership = (
        Membership.objects.select_for_update().select_related("contract", "user").get(pk=membership.pk)
    )
    actor_role = policy.require(acting_user, "membership.manage", membership.contract)
    if membership.ended_at is not None:
        raise Conflict(_("このメンバーは既に終了しています。"), code="already_ended")
    if actor_role == Role.ORDERER and membership.role in CONTRACTOR_ROLES:
        raise Forbidden(_("受注者側のメンバーは情報管理責任者が終了します。"))
    if actor_role == Role.MANAGER and membership.role == Role.ORDERER:
        raise Forbidden(_("発注者担当のメンバーは発注者側で終了します。"))
    if membership.user_id == getattr(acting_user, "pk", None):
        raise Conflict(_("自分自身のメンバー登録は終了できません。"), code="self_removal")
    membership.ended_at = timezone.now()
    membership.save(update_fields=["ended_at"])
    record(
        actor=acting_user,
        action="membership.end",
        contract=membership.contract,
        obj=membership,
        summary={"user": membership.user.username, "role": membership.role, "reason": reason},
    )
    return membership
