"""Reminders of incident deadlines (R2.8.1, P10): once per deadline crossed, to the orderer officers and the
information managers of the contract. Run by ``sekisho incidents_tick`` (to be folded into ``sekisho tick``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core.models import Membership, Role, User
from sekisho.notifications.services import notify

from . import deadlines
from .models import DeadlineReminder, Incident, IncidentSettings, IncidentState
from .services import incident_url


@transaction.atomic
def remind_overdue(now: dt.datetime | None = None) -> list[DeadlineReminder]:
    """Notify once per deadline crossed (run by ``sekisho tick``): the orderer officers and the information
    managers of the contract. Idempotent: a reminder row per (incident, deadline, due date) is the memory.

    A bounded number of queries whatever the number of incidents."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    # Locking the open incidents makes two ticks at once queue instead of reminding twice.
    incidents = list(
        Incident.objects.select_for_update(of=("self",))
        .exclude(state=IncidentState.CLOSED)
        .select_related("contract")
        .prefetch_related("reminders")
        .order_by("contract_id", "id")
    )
    if not incidents:
        return []
    contract_ids = {i.contract_id for i in incidents}
    settings_by_contract = {
        s.contract_id: s for s in IncidentSettings.objects.filter(contract_id__in=contract_ids)
    }
    due: list[tuple[Incident, deadlines.Deadline]] = []
    for incident in incidents:
        sent = {(r.key, r.due_on) for r in incident.reminders.all()}
        for deadline in incident.deadlines_for(settings_by_contract.get(incident.contract_id)):
            if deadline.is_overdue(today) and (deadline.key, deadline.due) not in sent:
                due.append((incident, deadline))
    if not due:
        return []
    people = _people_by_contract(contract_ids, (Role.ORDERER, Role.MANAGER))
    reminders = DeadlineReminder.objects.bulk_create(
        [DeadlineReminder(incident=i, key=d.key, due_on=d.due, sent_at=now) for i, d in due],
        ignore_conflicts=True,
    )
    for incident, deadline in due:
        record(
            actor="system",
            action="incident.reminder",
            contract=incident.contract,
            obj=incident,
            summary={"ref": incident.ref, "deadline": deadline.key, "due": deadline.due},
        )
        notify(
            people.get(incident.contract_id, []),
            contract=incident.contract,
            subject=_("期限超過: {label} {contract} {ref}").format(
                label=deadline.label, contract=incident.contract.number, ref=incident.ref
            ),
            body=_("事案{ref}の「{label}」の期限（{due}）を過ぎています。").format(
                ref=incident.ref, label=deadline.label, due=deadline.due.isoformat()
            ),
            url=incident_url(incident),
        )
    return reminders


def _people_by_contract(contract_ids: Iterable[int], roles: Iterable[str]) -> dict[int, list[User]]:
    found: dict[int, list[User]] = {}
    memberships = (
        Membership.objects.current()
        .filter(contract_id__in=list(contract_ids), role__in=list(roles), user__is_active=True)
        .select_related("user")
        .order_by("contract_id", "user__username")
    )
    for membership in memberships:
        found.setdefault(membership.contract_id, []).append(membership.user)
    return found
