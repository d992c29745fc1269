"""Subcontractors (R2.4.3, P8): the orderer's permit, the flow-down of this regulation, and the separate
consent to let them handle personal information.

Permits are the ordinary permits of kind SUBCONTRACT, decided by the orderer in the permits workflow: one for
the subcontract itself (R2.4.3) and, only if the subcontractor is to handle personal information, a second
one for that (P8: "発注者の承諾があるときを除き、第三者に取り扱わせてはならない"). Keeping the P8 consent
as its own permit lets the orderer allow the subcontract and still refuse the personal information.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core import policy
from sekisho.core.errors import Conflict, Forbidden, Invalid
from sekisho.core.models import Contract, Membership, Organisation, Role
from sekisho.permits import services as permits
from sekisho.permits.models import Permit, PermitKind, PermitState

from . import texts
from .models import Subcontract
from .services import OPEN_STATES, roster_entry_of

PI_REASON_PREFIX = "【個人情報の取扱い（個人情報取扱特記事項第8）】"
# A permit that may still become (or is) in force; a subcontract with one cannot be asked for again.
LIVE_STATES = (PermitState.REQUESTED, PermitState.APPROVED)


def _request(
    contract: Contract,
    *,
    acting_user: Any,
    organisation: Organisation,
    reason: str,
    purpose: str,
    valid_from: dt.date,
    valid_until: dt.date,
) -> Permit:
    return permits.request_permit(
        contract,
        acting_user=acting_user,
        kind=PermitKind.SUBCONTRACT,
        reason=reason,
        recipient=organisation.name,
        purpose=purpose,
        valid_from=valid_from,
        valid_until=valid_until,
    )


def _subcontractor_named(contract: Contract, *, acting_user: Any, name: str) -> Organisation:
    """The subcontractor of that exact name: one already in the deployment, or a new one (recorded in the
    contract's audit trail). Naming is how a subcontractor new to this contractor comes in, since the choices
    never list the deployment's others (``selectors.subcontractor_choices``)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise Invalid(_("再委託先・下請負者の名称を200文字以内で入力してください。"), clause="R2.4.3")
    found = Organisation.objects.filter(name=name).first()
    if found is not None:
        if found.kind != Organisation.Kind.SUBCONTRACTOR:
            raise Invalid(
                _("この名称は再委託先・下請負者の名称として使えません。別の名称を入力してください。"),
                clause="R2.4.3",
            )
        return found
    try:
        with transaction.atomic():
            organisation = Organisation.objects.create(name=name, kind=Organisation.Kind.SUBCONTRACTOR)
    except IntegrityError:  # named at the same moment by someone else
        return _subcontractor_named(contract, acting_user=acting_user, name=name)
    record(
        actor=acting_user,
        action="organisation.create",
        contract=contract,
        obj=organisation,
        summary={"name": name, "kind": organisation.kind, "for": "subcontract.request"},
    )
    return organisation


@transaction.atomic
def request_subcontract(
    contract: Contract,
    *,
    acting_user: Any,
    organisation: Organisation | None = None,
    new_organisation: str = "",
    scope: str,
    responsible_name: str,
    reason: str,
    valid_from: dt.date,
    valid_until: dt.date,
    responsible_title: str = "",
    personal_info: bool = False,
) -> Subcontract:
    """Ask the orderer to allow a subcontract (R2.4.3), and, if the subcontractor is to handle personal
    information, for that consent too (P8). Asking again is possible once an earlier request was denied,
    revoked or has expired. The subcontractor is *organisation*, or the one named *new_organisation*."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, "subcontract.manage", contract)
    if contract.status not in OPEN_STATES:
        raise Conflict(_("完了した契約では申請できません。"), code="contract_closed")
    if (organisation is None) == (not new_organisation.strip()):
        raise Invalid(
            _("再委託先・下請負者を一覧から選ぶか、新しい再委託先の名称を入力してください（どちらか一方）。"),
            clause="R2.4.3",
        )
    if organisation is None:
        organisation = _subcontractor_named(contract, acting_user=acting_user, name=new_organisation)
    if organisation.kind != Organisation.Kind.SUBCONTRACTOR:
        raise Invalid(_("再委託先には再委託先・下請負者の区分の組織を指定してください。"), clause="R2.4.3")
    if not scope.strip() or not responsible_name.strip():
        raise Invalid(_("再委託する業務の範囲と再委託先の責任者を入力してください。"), clause="R2.4.3")
    existing = (
        Subcontract.objects.select_for_update().filter(contract=contract, organisation=organisation).first()
    )
    if existing is not None and existing.permit.state in LIVE_STATES:
        raise Conflict(_("この再委託先は既に申請済み又は承諾済みです。"), code="duplicate", clause="R2.4.3")
    permit = _request(
        contract,
        acting_user=acting_user,
        organisation=organisation,
        reason=reason,
        purpose=scope,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    pi_permit = None
    if personal_info:
        pi_permit = _request(
            contract,
            acting_user=acting_user,
            organisation=organisation,
            reason=PI_REASON_PREFIX + reason,
            purpose=scope,
            valid_from=valid_from,
            valid_until=valid_until,
        )
    if existing is None:
        sub = Subcontract.objects.create(
            contract=contract,
            organisation=organisation,
            scope=scope.strip(),
            permit=permit,
            pi_permit=pi_permit,
            responsible_name=responsible_name.strip(),
            responsible_title=responsible_title.strip(),
            requested_by=acting_user,
        )
    else:
        sub = existing
        sub.scope, sub.permit = scope.strip(), permit
        sub.pi_permit = pi_permit or sub.pi_permit
        sub.responsible_name, sub.responsible_title = responsible_name.strip(), responsible_title.strip()
        # The flow-down was acknowledged for the earlier subcontract; the new one is acknowledged anew.
        sub.flowdown_typed_name, sub.flowdown_at, sub.flowdown_sha256, sub.flowdown_by = "", None, "", None
        sub.save()
    record(
        actor=acting_user,
        action="subcontract.request",
        contract=contract,
        obj=sub,
        summary={
            "organisation": organisation.name,
            "scope": sub.scope,
            "permit": permit.pk,
            "personal_info_permit": pi_permit.pk if pi_permit else None,
            "responsible": sub.responsible_name,
        },
    )
    return sub


@transaction.atomic
def request_personal_info_consent(
    sub: Subcontract, *, acting_user: Any, reason: str, valid_from: dt.date, valid_until: dt.date
) -> Subcontract:
    """Ask the orderer's consent for an existing subcontractor to handle personal information (P8)."""
    sub = (
        Subcontract.objects.select_for_update(of=("self",))
        .select_related("contract", "organisation", "pi_permit")
        .get(pk=sub.pk)
    )
    policy.require(acting_user, "subcontract.manage", sub.contract)
    if sub.pi_permit is not None and sub.pi_permit.state in LIVE_STATES:
        raise Conflict(
            _("個人情報の取扱いの承諾は既に申請済み又は承諾済みです。"), code="duplicate", clause="P8"
        )
    sub.pi_permit = _request(
        sub.contract,
        acting_user=acting_user,
        organisation=sub.organisation,
        reason=PI_REASON_PREFIX + reason,
        purpose=sub.scope,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    sub.save(update_fields=["pi_permit"])
    record(
        actor=acting_user,
        action="subcontract.request_personal_info",
        contract=sub.contract,
        obj=sub,
        summary={"organisation": sub.organisation.name, "permit": sub.pi_permit.pk},
    )
    return sub


@transaction.atomic
def acknowledge_flowdown(sub: Subcontract, *, acting_user: Any, typed_name: str) -> Subcontract:
    """The subcontractor's responsible person acknowledges this regulation's flow-down (R2.4.3): typed by
    that person as a member of the contract from the subcontractor, or recorded by the information manager
    from the paper they signed. Either way the name must be the responsible person's."""
    sub = Subcontract.objects.select_for_update().select_related("contract", "organisation").get(pk=sub.pk)
    role = policy.require(acting_user, "subcontract.flowdown", sub.contract)
    if sub.contract.status not in OPEN_STATES:
        raise Conflict(_("完了した契約では確認できません。"), code="contract_closed")
    if role != Role.MANAGER:
        own_org = (
            Membership.objects.current()
            .filter(contract=sub.contract, user_id=acting_user.pk, organisation=sub.organisation)
            .exists()
        )
        entry = roster_entry_of(acting_user, sub.contract)
        own_name = entry.name if entry is not None else (acting_user.display_name or acting_user.username)
        if not own_org or not texts.same_name(own_name, sub.responsible_name):
            raise Forbidden(
                _("再委託先の確認は、その再委託先の責任者又は情報管理責任者が行います。"), clause="R2.4.3"
            )
    if not texts.same_name(typed_name, sub.responsible_name):
        raise Invalid(
            _("署名欄には再委託先の責任者の氏名（{name}）を入力してください。").format(
                name=sub.responsible_name
            ),
            code="name_mismatch",
            clause="R2.4.3",
        )
    sub.flowdown_typed_name = typed_name.strip()
    sub.flowdown_at = timezone.now()
    sub.flowdown_sha256 = texts.sha256_text(texts.FLOWDOWN_TEXT)
    sub.flowdown_by = acting_user
    sub.save(update_fields=["flowdown_typed_name", "flowdown_at", "flowdown_sha256", "flowdown_by"])
    record(
        actor=acting_user,
        action="subcontract.flowdown",
        contract=sub.contract,
        obj=sub,
        summary={
            "organisation": sub.organisation.name,
            "typed_name": sub.flowdown_typed_name,
            "sha256": sub.flowdown_sha256,
            "version": texts.FLOWDOWN_VERSION,
            "on_behalf": role == Role.MANAGER,
        },
    )
    return sub
