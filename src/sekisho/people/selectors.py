"""Read queries of the people app. Each costs a fixed number of queries, whatever the size of the roster."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sekisho.core.models import Contract, Membership, Organisation, Role

from .models import Acknowledgement, Programme, ProgrammeRole, RosterEntry, Subcontract


class AckState:
    CURRENT = "current"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    OUTDATED = "outdated"
    MISSING = "missing"
    NOT_REQUIRED = "not_required"


ACK_STATE_LABELS = {
    AckState.CURRENT: _("確認済"),
    AckState.EXPIRING: _("期限間近"),
    AckState.EXPIRED: _("期限切れ"),
    AckState.OUTDATED: _("旧版のみ確認"),
    AckState.MISSING: _("未確認"),
    AckState.NOT_REQUIRED: _("対象外"),
}


def roster(contract: Contract) -> QuerySet[RosterEntry]:
    return (
        RosterEntry.objects.filter(contract=contract)
        .select_related("organisation", "user")
        .order_by("organisation__kind", "organisation__name", "id")
    )


def programmes(contract: Contract) -> QuerySet[Programme]:
    return (
        Programme.objects.filter(contract=contract)
        .select_related("current_version")
        .prefetch_related(Prefetch("roles", queryset=ProgrammeRole.objects.order_by("role")))
        .order_by("id")
    )


def subcontracts(contract: Contract) -> QuerySet[Subcontract]:
    return (
        Subcontract.objects.filter(contract=contract)
        .select_related("organisation", "permit", "pi_permit", "flowdown_by")
        .order_by("id")
    )


def subcontractor_choices(contract: Contract) -> QuerySet[Organisation]:
    """The subcontractors the contract's information manager may pick when asking for a subcontract (R2.4.3):
    those already working on this contract (members, roster, subcontracts) and those its contractor has
    subcontracted on its other contracts. Never the deployment's whole list: other contractors' subcontractors
    are none of their business. A subcontractor new to them is named instead (``request_subcontract``)."""
    related = (
        Q(pk__in=Membership.objects.filter(contract_id=contract.pk).values("organisation_id"))
        | Q(pk__in=RosterEntry.objects.filter(contract_id=contract.pk).values("organisation_id"))
        | Q(
            pk__in=Subcontract.objects.filter(contract__contractor_id=contract.contractor_id).values(
                "organisation_id"
            )
        )
    )
    return Organisation.objects.filter(related, kind=Organisation.Kind.SUBCONTRACTOR).order_by("name")


@dataclass
class ProgrammeStatus:
    programme: Programme
    state: str
    acknowledgement: Acknowledgement | None = None

    @property
    def label(self) -> str:
        return str(ACK_STATE_LABELS[self.state])


@dataclass
class PersonStatus:
    entry: RosterEntry
    role: str
    statuses: list[ProgrammeStatus] = field(default_factory=list)

    @property
    def role_label(self) -> str:
        return str(Role(self.role).label) if self.role in Role.values else self.role

    @property
    def cleared(self) -> bool:
        return all(
            s.state in (AckState.CURRENT, AckState.EXPIRING, AckState.NOT_REQUIRED) for s in self.statuses
        )


def _state(
    programme: Programme, acks: list[Acknowledgement], required: bool, now: dt.datetime
) -> ProgrammeStatus:
    if not required:
        return ProgrammeStatus(programme, AckState.NOT_REQUIRED, acks[0] if acks else None)
    current = [a for a in acks if a.version_id == programme.current_version_id]
    if not current:
        return ProgrammeStatus(
            programme, AckState.OUTDATED if acks else AckState.MISSING, acks[0] if acks else None
        )
    newest = current[0]
    if newest.expires_at is not None and newest.expires_at <= now:
        return ProgrammeStatus(programme, AckState.EXPIRED, newest)
    if (
        newest.expires_at is not None
        and newest.expires_at - dt.timedelta(days=programme.reminder_days) <= now
    ):
        return ProgrammeStatus(programme, AckState.EXPIRING, newest)
    return ProgrammeStatus(programme, AckState.CURRENT, newest)


def training_matrix(
    contract: Contract, *, now: dt.datetime | None = None, entries: list[RosterEntry] | None = None
) -> tuple[list[Programme], list[PersonStatus]]:
    """Each roster person's state for each programme (four queries). People who never log in count as
    staff (社員等) for the programmes' roles."""
    now = now or timezone.now()
    progs = list(programmes(contract).filter(active=True))
    people = entries if entries is not None else list(roster(contract))
    roles = dict(
        Membership.objects.filter(contract=contract).order_by("started_at").values_list("user_id", "role")
    )
    by_person: dict[int, list[Acknowledgement]] = {}
    for ack in (
        Acknowledgement.objects.filter(contract=contract, entry__isnull=False)
        .select_related("version")
        .order_by("-acknowledged_at", "-id")
    ):
        by_person.setdefault(ack.entry_id or 0, []).append(ack)
    rows: list[PersonStatus] = []
    for entry in people:
        role = roles.get(entry.user_id, Role.STAFF) if entry.user_id else Role.STAFF
        acks = by_person.get(entry.pk, [])
        row = PersonStatus(entry, role)
        for programme in progs:
            required = role in programme.required_roles and programme.current_version_id is not None
            row.statuses.append(
                _state(programme, [a for a in acks if a.programme_id == programme.pk], required, now)
            )
        rows.append(row)
    return progs, rows


def my_acknowledgements(user: Any, contract: Contract) -> dict[int, Acknowledgement]:
    """The user's newest acknowledgement of each programme of the contract (by programme id)."""
    newest: dict[int, Acknowledgement] = {}
    for ack in (
        Acknowledgement.objects.filter(contract=contract, user_id=user.pk)
        .select_related("version")
        .order_by("-acknowledged_at", "-id")
    ):
        newest.setdefault(ack.programme_id, ack)
    return newest
