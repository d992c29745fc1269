"""Permit steps: request, decide, revoke, expire, use. Only the deciding role of the kind decides
(the orderer for copies, other-purpose use, third-party provision, subcontracting, retention and destruction;
the information manager for transfers), and nobody decides their own request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core import policy
from sekisho.core.errors import Conflict, Forbidden, Invalid
from sekisho.core.models import Contract
from sekisho.ledger.models import Asset, AssetState

from .models import PERMIT_TRANSITIONS, Permit, PermitKind, PermitState, PermitUse

# Kinds that must name at least one asset of the ledger.
ASSET_KINDS = frozenset(
    {
        PermitKind.COPY,
        PermitKind.OTHER_PURPOSE,
        PermitKind.THIRD_PARTY,
        PermitKind.TRANSFER,
        PermitKind.RETENTION,
        PermitKind.DESTRUCTION,
    }
)
MAX_COPIES = 1000


def _check_request(
    contract: Contract,
    kind: str,
    assets: Sequence[Asset],
    *,
    reason: str,
    copies: int | None,
    recipient: str,
    purpose: str,
    valid_from: dt.date,
    valid_until: dt.date,
) -> None:
    if kind not in PermitKind.values:
        raise Invalid(_("承諾の種別が正しくありません。"))
    if not reason.strip():
        raise Invalid(_("申請の理由を入力してください。"))
    if valid_until < valid_from:
        raise Invalid(_("有効期間の終期は始期以後の日付にしてください。"))
    if valid_from < contract.period_start or valid_until > contract.period_end:
        raise Invalid(
            _("有効期間は履行期間（{start}〜{end}）内にしてください。").format(
                start=contract.period_start.isoformat(), end=contract.period_end.isoformat()
            )
        )
    if kind in ASSET_KINDS and not assets:
        raise Invalid(_("対象となる台帳情報を1件以上指定してください。"))
    if any(a.contract_id != contract.pk for a in assets):
        raise Invalid(_("対象の台帳情報が見つかりません。"))
    if any(a.state not in (AssetState.HELD, AssetState.RETAINED) for a in assets):
        raise Invalid(_("返却・廃棄済みまたは移送中の情報は対象にできません。"))
    if kind == PermitKind.COPY and (copies is None or not 1 <= copies <= MAX_COPIES):
        raise Invalid(_("複写・電子化の部数を1〜{max}で入力してください。").format(max=MAX_COPIES))
    if kind != PermitKind.COPY and copies is not None:
        raise Invalid(_("部数は複写・電子化の申請でのみ指定します。"))
    if (
        kind in (PermitKind.THIRD_PARTY, PermitKind.TRANSFER, PermitKind.SUBCONTRACT)
        and not recipient.strip()
    ):
        raise Invalid(_("提供先・移送先・再委託先を入力してください。"))
    if kind == PermitKind.OTHER_PURPOSE and not purpose.strip():
        raise Invalid(_("目的外使用の目的を入力してください。"))


@transaction.atomic
def request_permit(
    contract: Contract,
    *,
    acting_user: Any,
    kind: str,
    assets: Sequence[Asset] = (),
    reason: str,
    copies: int | None = None,
    recipient: str = "",
    purpose: str = "",
    valid_from: dt.date,
    valid_until: dt.date,
) -> Permit:
    """Ask the deciding party for a permission (R2.2, R2.3, R2.4.3, R2.5, R2.7オ, P6–P9)."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, "permit.request", contract)
    if contract.status not in (Contract.Status.DRAFT, Contract.Status.ACTIVE, Contract.Status.CLOSING):
        raise Conflict(_("完了した契約には申請できません。"), code="contract_closed")
    _check_request(
        contract,
        kind,
        assets,
        reason=reason,
        copies=copies,
        recipient=recipient,
        purpose=purpose,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    permit = Permit.objects.create(
        contract=contract,
        kind=kind,
        requester=acting_user,
        reason=reason.strip(),
        copies=copies,
        recipient=recipient.strip(),
        purpose=purpose.strip(),
        valid_from=valid_from,
        valid_until=valid_until,
    )
    permit.assets.set(assets)
    record(
        actor=acting_user,
        action="permit.request",
        contract=contract,
        obj=permit,
        summary={
            "kind": kind,
            "assets": sorted(a.ref for a in assets),
            "copies": copies,
            "recipient": recipient,
            "purpose": purpose,
            "valid": [valid_from, valid_until],
            "reason": reason,
        },
    )
    return permit


def _locked(permit: Permit) -> Permit:
    return Permit.objects.select_for_update().select_related("contract").get(pk=permit.pk)


def _transition(permit: Permit, to: str) -> None:
    if to not in PERMIT_TRANSITIONS[permit.state]:
        raise Conflict(
            _("「{state}」の申請を「{to}」にすることはできません。").format(
                state=PermitState(permit.state).label, to=PermitState(to).label
            ),
            code="invalid_transition",
        )


def _require_decider(permit: Permit, acting_user: Any) -> None:
    role = policy.require(acting_user, "permit.decide", permit, clause=permit.clause)
    if role != permit.decider_role:
        raise Forbidden(
            _("この種別の申請（{kind}）を決定できるのは{role}です。").format(
                kind=PermitKind(permit.kind).label, role=_role_label(permit.decider_role)
            ),
            clause=permit.clause,
        )


def _role_label(role: str) -> str:
    from sekisho.core.models import Role

    return str(Role(role).label)


@transaction.atomic
def decide_permit(
    permit: Permit, *, acting_user: Any, approve: bool, note: str = "", conditions: str = ""
) -> Permit:
    """Approve or deny a request. The deciding role only, never the requester."""
    permit = _locked(permit)
    _require_decider(permit, acting_user)
    if permit.requester_id == getattr(acting_user, "pk", None):
        raise Forbidden(
            _("自分の申請を自分で決定することはできません。"), code="own_request", clause=permit.clause
        )
    to = PermitState.APPROVED if approve else PermitState.DENIED
    _transition(permit, to)
    if approve and permit.valid_until < timezone.localdate():
        raise Conflict(_("有効期間が既に過ぎているため承諾できません。"), code="already_expired")
    if not approve and not note.strip():
        raise Invalid(_("不承諾の理由を入力してください。"))
    permit.state = to
    permit.decided_by = acting_user
    permit.decided_at = timezone.now()
    permit.decision_note = note.strip()
    permit.conditions = conditions.strip()
    permit.save(update_fields=["state", "decided_by", "decided_at", "decision_note", "conditions"])
    record(
        actor=acting_user,
        action="permit.approve" if approve else "permit.deny",
        contract=permit.contract,
        obj=permit,
        summary={"kind": permit.kind, "note": note, "conditions": conditions},
    )
    return permit


@transaction.atomic
def revoke_permit(permit: Permit, *, acting_user: Any, note: str) -> Permit:
    """Withdraw an approval. What was already done under it stays on record, and nothing new may use it."""
    permit = _locked(permit)
    _require_decider(permit, acting_user)
    _transition(permit, PermitState.REVOKED)
    if not note.strip():
        raise Invalid(_("取消の理由を入力してください。"))
    permit.state = PermitState.REVOKED
    permit.save(update_fields=["state"])
    record(
        actor=acting_user,
        action="permit.revoke",
        contract=permit.contract,
        obj=permit,
        summary={"kind": permit.kind, "note": note},
    )
    return permit


@transaction.atomic
def expire_permits(*, today: dt.date | None = None) -> int:
    """Mark approved permits past their end date as expired (run by ``sekisho tick``)."""
    today = today or timezone.localdate()
    expired = list(
        Permit.objects.select_for_update()
        .select_related("contract")
        .filter(state=PermitState.APPROVED, valid_until__lt=today)
    )
    for permit in expired:
        permit.state = PermitState.EXPIRED
        permit.save(update_fields=["state"])
        record(
            actor="system",
            action="permit.expire",
            contract=permit.contract,
            obj=permit,
            summary={"kind": permit.kind, "valid_until": permit.valid_until},
        )
    return len(expired)


def _permit_in_force(permit: Permit, kind: str, assets: Sequence[Asset]) -> None:
    clause = Permit(kind=kind).clause
    if permit.kind != kind:
        raise Forbidden(
            _("この承諾は「{kind}」の承諾ではありません。").format(kind=PermitKind(kind).label),
            code="wrong_permit",
            clause=clause,
        )
    if not permit.in_force_on(timezone.localdate()):
        raise Forbidden(
            _("有効な承諾がありません（状態: {state}、有効期間: {start}〜{end}）。").format(
                state=PermitState(permit.state).label, start=permit.valid_from, end=permit.valid_until
            ),
            code="permit_not_in_force",
            clause=clause,
        )
    covered = set(permit.assets.values_list("pk", flat=True))
    missing = [a.ref for a in assets if a.pk not in covered]
    if missing:
        raise Forbidden(
            _("承諾の対象に含まれない情報があります: {refs}").format(refs=", ".join(missing)),
            code="asset_not_covered",
            clause=clause,
        )


@transaction.atomic
def use_permit(
    permit: Permit,
    *,
    acting_user: Any,
    kind: str,
    assets: Sequence[Asset],
    note: str = "",
    recipient: str = "",
) -> list[PermitUse]:
    """Record an other-purpose use (R2.2 / P6) or a provision to a third party (P6 / P8) under an approved
    permit. Without one, the act is refused with the clause."""
    if kind not in (PermitKind.OTHER_PURPOSE, PermitKind.THIRD_PARTY):
        raise Invalid(_("この操作で使用できるのは目的外使用と第三者提供の承諾です。"))
    permit = _locked(permit)
    policy.require(acting_user, "permit.use", permit, clause=permit.clause)
    if not assets:
        raise Invalid(_("対象となる台帳情報を1件以上指定してください。"))
    _permit_in_force(permit, kind, assets)
    if kind == PermitKind.THIRD_PARTY and recipient.strip() != permit.recipient:
        raise Forbidden(
            _("承諾された提供先（{recipient}）以外には提供できません。").format(recipient=permit.recipient),
            code="recipient_mismatch",
            clause=permit.clause,
        )
    uses = PermitUse.objects.bulk_create(
        [PermitUse(permit=permit, asset=a, used_by=acting_user, note=note) for a in assets]
    )
    record(
        actor=acting_user,
        action=f"permit.use.{kind}",
        contract=permit.contract,
        obj=permit,
        summary={"assets": sorted(a.ref for a in assets), "note": note, "recipient": recipient},
    )
    if kind == PermitKind.THIRD_PARTY:
        permit.state = PermitState.USED
        permit.save(update_fields=["state"])
        record(
            actor=acting_user,
            action="permit.used",
            contract=permit.contract,
            obj=permit,
            summary={"kind": kind, "reason": "provided"},
        )
    return uses
