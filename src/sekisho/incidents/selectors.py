"""Read queries of incidents: the lists (per contract, and the orderer's across contracts), each incident with
its deadlines, and its timeline. Every list costs a bounded number of queries, whatever the row count."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sekisho.audit.models import AuditEvent
from sekisho.core import policy
from sekisho.core.models import Contract, Membership, Role, User

from . import deadlines
from .deadlines import Deadline
from .models import Incident, IncidentSettings


@dataclass
class Row:
    """An incident with its deadlines as of *today*."""

    incident: Incident
    deadlines: list[Deadline]
    today: dt.date

    @property
    def overdue(self) -> list[Deadline]:
        return [d for d in self.deadlines if d.is_overdue(self.today)]

    @property
    def upcoming(self) -> Deadline | None:
        """The earliest deadline still to be met."""
        pending = [d for d in self.deadlines if d.required and d.met_on is None]
        return min(pending, key=lambda d: d.due, default=None) if self.incident.is_open else None

    def deadline(self, key: str) -> Deadline | None:
        return next((d for d in self.deadlines if d.key == key), None)

    @property
    def prompt(self) -> Deadline | None:
        return self.deadline(deadlines.Key.PROMPT_REPORT)

    @property
    def final(self) -> Deadline | None:
        return self.deadline(deadlines.Key.FINAL_REPORT)

    @property
    def notice(self) -> Deadline | None:
        return self.deadline(deadlines.Key.ORDERER_NOTICE)


def settings_for(contract_ids: set[int] | list[int]) -> dict[int, IncidentSettings]:
    return {s.contract_id: s for s in IncidentSettings.objects.filter(contract_id__in=list(contract_ids))}


def rows(incidents: list[Incident], *, today: dt.date | None = None) -> list[Row]:
    today = today or timezone.localdate()
    by_contract = settings_for({i.contract_id for i in incidents})
    return [Row(i, i.deadlines_for(by_contract.get(i.contract_id)), today) for i in incidents]


def _listed(qs: QuerySet[Incident]) -> QuerySet[Incident]:
    return qs.select_related("contract", "contract__contractor", "reported_by").order_by(
        "-detected_at", "-id"
    )


def contract_incidents(user: Any, contract: Contract) -> QuerySet[Incident]:
    return _listed(policy.visible(user, Incident).filter(contract=contract))


def orderer_incidents(user: Any) -> QuerySet[Incident]:
    """Every incident of every contract where *user* is a current orderer officer, across contractors."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Incident.objects.none()
    orderer_of = Membership.objects.current().filter(user_id=user.pk, role=Role.ORDERER).values("contract_id")
    return _listed(Incident.objects.filter(contract_id__in=orderer_of))


def is_orderer_anywhere(user: Any) -> bool:
    return Membership.objects.current().filter(user_id=user.pk, role=Role.ORDERER).exists()


def incident(user: Any, contract: Contract, incident_id: int) -> Incident:
    found = (
        policy.visible(user, Incident)
        .select_related("contract", "contract__orderer", "contract__contractor", "reported_by", "closed_by")
        .prefetch_related("assets")
        .filter(pk=incident_id, contract=contract)
        .first()
    )
    if found is None:
        from sekisho.core.errors import NotFound

        raise NotFound(_("見つかりません。"))
    return found


# --- the timeline ---------------------------------------------------------------------------------------------

EVENT_LABELS = {
    "incident.report": _("報告"),
    "incident.orderer_notified": _("発注者へ通知"),
    "incident.start_investigation": _("調査開始"),
    "incident.record_cause": _("原因の記録"),
    "incident.record_corrective_measures": _("是正・補完措置の記録"),
    "incident.record_prevention": _("再発防止策の記録"),
    "incident.close": _("完了（発注者確認）"),
    "incident.return": _("差戻し（発注者の指示）"),
    "incident.revise": _("事実関係の更新"),
    "incident.authority_report.prompt": _("速報を記録（個人情報保護委員会）"),
    "incident.authority_report.final": _("確報を記録（個人情報保護委員会）"),
    "incident.reminder": _("期限超過の督促"),
}


@dataclass(frozen=True)
class Moment:
    at: dt.datetime
    label: str
    actor: str
    detail: str = ""


def _detail(event: AuditEvent, names: dict[str, str]) -> str:
    summary = event.summary or {}
    if event.action == "incident.orderer_notified":
        return str(_("通知先: {to}")).format(to="、".join(names.get(u, u) for u in summary.get("to", [])))
    if event.action == "incident.reminder":
        return str(deadlines.LABELS.get(summary.get("deadline", ""), ""))
    if event.action.startswith("incident.authority_report."):
        return str(summary.get("reported_on", ""))
    for key in ("orderer_instruction", "note"):
        if summary.get(key):
            return str(summary[key])
    if event.action == "incident.revise":
        return ", ".join(sorted(summary.get("changed", {})))
    return ""


def timeline(incident: Incident) -> list[Moment]:
    """What happened, in order: occurrence and detection (facts), then every recorded step (audit events)."""
    moments: list[Moment] = []
    if incident.occurred_at:
        moments.append(Moment(incident.occurred_at, str(_("発生")), ""))
    moments.append(Moment(incident.detected_at, str(_("覚知")), ""))
    found = (
        AuditEvent.objects.filter(
            contract_id=incident.contract_id, object_type="incidents.incident", object_id=str(incident.pk)
        )
        .select_related("actor")
        .order_by("index")
    )
    events = list(found)
    # The audit trail records usernames (as they were); the timeline shows people's names.
    told = {
        u for e in events if e.action == "incident.orderer_notified" for u in (e.summary or {}).get("to", [])
    }
    names = {u.username: str(u) for u in User.objects.filter(username__in=told)} if told else {}
    for event in events:
        actor = str(event.actor) if event.actor is not None else str(_("システム"))
        label = EVENT_LABELS.get(event.action, event.action)
        moments.append(Moment(event.occurred_at, str(label), actor, _detail(event, names)))
    return sorted(moments, key=lambda m: m.at)
