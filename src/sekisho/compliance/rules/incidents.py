"""Rules over incidents: deadlines passed (the incidents app's own deadline computation) — the report to the
orderer (R2.8.1), the personal-information law's reports (P10) — and investigations left open too long
(R2.8.2)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sekisho.incidents import deadlines
from sekisho.incidents.models import Incident, IncidentSettings, IncidentState

from .base import Context, Found, Rule, jdate, label

INCIDENT = "incidents.incident"
# R2.8.2 asks for cause, supplementary measures and prevention 「速やかに」: an incident still short of its
# prevention plan when the 確報 period (30 days, awareness being day 1) is over is overdue for it.
INVESTIGATION_DAYS = deadlines.FINAL_REPORT_DAYS
DEADLINE_CLAUSE = {
    deadlines.Key.ORDERER_NOTICE: "R2.8.1",
    deadlines.Key.PROMPT_REPORT: "P10",
    deadlines.Key.FINAL_REPORT: "P10",
}


def _incidents(ctx: Context) -> tuple[list[Incident], IncidentSettings | None]:
    """Incidents that can still have something overdue (open ones, and closed ones whose personal-information
    reports are missing), with the contract's deadline settings: two queries, memoised for both rules."""
    cached = ctx.stats.get("_incidents")
    if cached is None:
        found = list(
            Incident.objects.filter(contract_id=ctx.contract.pk)
            .filter(
                ~Q(state=IncidentState.CLOSED)
                | Q(has_personal_info=True, near_miss=False, final_reported_on__isnull=True)
            )
            .order_by("pk")
        )
        cached = (found, IncidentSettings.objects.filter(contract_id=ctx.contract.pk).first())
        ctx.stats["_incidents"] = cached
    return cached


def deadlines_passed(ctx: Context) -> Iterator[Found]:
    incidents, contract_settings = _incidents(ctx)
    today = ctx.today
    for incident in incidents:
        overdue = [d for d in incident.deadlines_for(contract_settings) if d.is_overdue(today)]
        for deadline in overdue:
            days = (today - deadline.due).days
            yield Found(
                clause=DEADLINE_CLAUSE[deadline.key],
                severity="high",
                subject_type=INCIDENT,
                # One finding per incident and deadline: a met deadline resolves only its own finding.
                subject_id=f"{incident.pk}:{deadline.key}",
                subject_label=label(incident.ref, incident.title),
                message=_("{deadline}の期限（{due}）を{days}日過ぎています。").format(
                    deadline=deadline.label, due=jdate(deadline.due), days=days
                ),
                evidence={
                    "ref": incident.ref,
                    "deadline": deadline.key,
                    "due": deadline.due.isoformat(),
                    "state": incident.state,
                },
            )


def investigation_overdue(ctx: Context) -> Iterator[Found]:
    incidents, _settings = _incidents(ctx)
    today = ctx.today
    done = {IncidentState.PREVENTION, IncidentState.CLOSED}
    for incident in incidents:
        if incident.state in done:
            continue
        due = deadlines.nth_day(incident.aware_on, INVESTIGATION_DAYS)
        if today <= due:
            continue
        yield Found(
            clause="R2.8.2",
            severity="medium",
            subject_type=INCIDENT,
            subject_id=str(incident.pk),
            subject_label=label(incident.ref, incident.title),
            message=_(
                "覚知から{days}日を過ぎても原因の究明・再発防止策が完了していません（状態: {state}）。"
            ).format(days=(today - incident.aware_on).days + 1, state=IncidentState(incident.state).label),
            evidence={
                "ref": incident.ref,
                "state": incident.state,
                "aware_on": incident.aware_on.isoformat(),
                "due": due.isoformat(),
            },
        )


INCIDENT_RULES = (
    Rule(
        "incident_deadline_passed",
        (),
        gettext_lazy("事故報告の期限超過"),
        deadlines_passed,
        subject_clauses=("R2.8.1", "P10"),
    ),
    Rule(
        "incident_investigation_overdue",
        ("R2.8.2",),
        gettext_lazy("事故の原因究明・再発防止の遅延"),
        investigation_overdue,
    ),
)
