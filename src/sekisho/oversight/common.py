"""Small helpers the oversight services share: who is told, text checks, the contract's state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.core.errors import Conflict, Invalid
from sekisho.core.models import Contract, Membership, User

from .models import CLAUSE

MAX_TEXT = 10_000
MAX_DAYS_AHEAD = 366


def members(contract: Contract | int, *roles: str) -> list[User]:
    """The active users holding one of *roles* in the contract now (ended and lapsed memberships excluded)."""
    contract_id = contract if isinstance(contract, int) else contract.pk
    return [
        m.user
        for m in Membership.objects.current()
        .filter(contract_id=contract_id, role__in=roles, user__is_active=True)
        .select_related("user")
        .order_by("user__username")
    ]


def text(value: str | None, label: str, *, required: bool = True, max_length: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Invalid(_("{label}を入力してください。").format(label=label))
    if len(value) > max_length:
        raise Invalid(_("{label}は{max}文字以内で入力してください。").format(label=label, max=max_length))
    return value


def due_date(value: Any, label: str, *, today: dt.date | None = None) -> dt.date:
    """A due date from today up to a year ahead."""
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise Invalid(_("{label}を日付で指定してください。").format(label=label))
    today = today or timezone.localdate()
    if value < today:
        raise Invalid(_("{label}は今日以降の日付にしてください。").format(label=label), code="due_in_past")
    if value > today + dt.timedelta(days=MAX_DAYS_AHEAD):
        raise Invalid(_("{label}は1年以内の日付にしてください。").format(label=label), code="due_too_far")
    return value


def require_not_closed(contract: Contract) -> None:
    if contract.status == Contract.Status.CLOSED:
        raise Conflict(
            _("完了した契約では報告の求めや検査の記録はできません。"), code="contract_closed", clause=CLAUSE
        )


def invalid_transition(what: str, state_label: str, to_label: str) -> Conflict:
    return Conflict(
        _("「{state}」の{what}を「{to}」にすることはできません。").format(
            what=what, state=state_label, to=to_label
        ),
        code="invalid_transition",
        clause=CLAUSE,
    )
