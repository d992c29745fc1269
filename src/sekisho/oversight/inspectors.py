"""Time-limited inspectors (R3): an orderer officer lets a person of the orderer read the contract (the auditor
role: read everything, change nothing) until a set time. The access stops at that instant — the policy treats a
membership past its ``expires_at`` as ended, with or without ``sekisho tick`` — and the tick then ends the
membership for the record (``core.services.end_lapsed_memberships``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.core import policy
from sekisho.core import services as core
from sekisho.core.errors import Invalid
from sekisho.core.models import Contract, Membership, Role, User
from sekisho.notifications.services import notify

from .models import CLAUSE

# An inspection takes days, not years: a longer grant is an ordinary auditor membership.
MAX_GRANT = dt.timedelta(days=90)
MIN_GRANT = dt.timedelta(minutes=5)


@transaction.atomic
def grant_inspector(
    contract: Contract, *, acting_user: Any, user: User, expires_at: dt.datetime
) -> Membership:
    """Give *user* (of the orderer) read-only access to the contract until *expires_at* (R3)."""
    policy.require(acting_user, "inspector.grant", contract, clause=CLAUSE)
    if timezone.is_naive(expires_at):
        raise Invalid(_("終了日時にはタイムゾーンが必要です。"), code="naive_datetime")
    now = timezone.now()
    if expires_at < now + MIN_GRANT:
        raise Invalid(_("終了日時は5分以上先の日時にしてください。"), code="expiry_in_past", clause=CLAUSE)
    if expires_at > now + MAX_GRANT:
        raise Invalid(
            _("検査員の閲覧権限は90日以内で設定してください。"), code="expiry_too_far", clause=CLAUSE
        )
    membership = core.add_member(
        contract, acting_user=acting_user, user=user, role=Role.AUDITOR, expires_at=expires_at
    )
    notify(
        [user],
        contract=contract,
        subject=_("検査員としての閲覧権限: {contract}").format(contract=contract.number),
        body=_("契約{contract}を閲覧できます（変更はできません）。期限: {until}").format(
            contract=contract.number, until=timezone.localtime(expires_at).strftime("%Y-%m-%d %H:%M")
        ),
        url=reverse("web:contract-detail", args=[contract.pk]),
    )
    return membership


def grantable_users(contract: Contract) -> list[User]:
    """People of the orderer's organisation who hold no current role in the contract."""
    current = Membership.objects.current().filter(contract=contract).values("user_id")
    return list(
        User.objects.filter(organisation_id=contract.orderer_id, is_active=True)
        .exclude(pk__in=current)
        .order_by("username")
    )
