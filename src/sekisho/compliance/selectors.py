"""Read queries of compliance: open findings, the state of every clause of the active profile, the orderer's
overview across contracts, and the snapshots behind the trend charts. Each costs a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from sekisho.core.models import Contract, Membership, Role
from sekisho.incidents.models import Incident, IncidentState

from .models import SEVERITY_ORDER, ComplianceProfile, ComplianceSnapshot, Finding, Severity
from .profile import Clause, Profile, active_profile
from .rules import RULES, RULES_BY_KEY, clauses_of_rule

TREND_DAYS = 90


def open_findings(contract: Contract) -> QuerySet[Finding]:
    return Finding.objects.filter(contract_id=contract.pk, resolved_at__isnull=True).order_by(
        "clause", "severity", "first_seen_at", "pk"
    )


def _by_clause(findings: list[Finding]) -> dict[str, list[Finding]]:
    """Each finding under its own clause and under every clause its rule also decides."""
    result: dict[str, list[Finding]] = {}
    for finding in findings:
        clauses = [finding.clause, *(c for c in clauses_of_rule(finding.rule) if c != finding.clause)]
        for clause in clauses:
            result.setdefault(clause, []).append(finding)
    for listed in result.values():
        listed.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.first_seen_at, f.pk))
    return result


def open_findings_by_clause(contract: Contract) -> dict[str, list[Finding]]:
    return _by_clause(list(open_findings(contract)))


def findings_history(contract: Contract) -> QuerySet[Finding]:
    return Finding.objects.filter(contract_id=contract.pk).order_by("-first_seen_at", "-pk")


# Clauses no rule evaluates are shown as "not evaluated automatically" rather than "ok".
EVALUATED_CLAUSES = frozenset(c for rule in RULES for c in (*rule.clauses, *rule.subject_clauses))


@dataclass
class ClauseState:
    """A clause of the profile with the open findings that bear on it, counted by severity."""

    clause: Clause
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def evaluated(self) -> bool:
        return self.clause.id in EVALUATED_CLAUSES

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def state(self) -> str:
        if self.total:
            return "open"
        return "ok" if self.evaluated else "not_evaluated"

    @property
    def worst(self) -> str | None:
        present = [s for s, n in self.counts.items() if n]
        return min(present, key=lambda s: SEVERITY_ORDER.get(s, 9)) if present else None

    @property
    def high(self) -> int:
        return self.counts.get(Severity.HIGH, 0)

    @property
    def medium(self) -> int:
        return self.counts.get(Severity.MEDIUM, 0)

    @property
    def low(self) -> int:
        return self.counts.get(Severity.LOW, 0)

    @property
    def rules(self) -> list[Any]:
        return [rule for rule in RULES if self.clause.id in (*rule.clauses, *rule.subject_clauses)]


def open_counts_by_clause(contract: Contract) -> dict[str, dict[str, int]]:
    """Open findings counted by clause and severity, each under its own clause and its rule's other clauses:
    one aggregate query, whatever the number of findings."""
    counts: dict[str, dict[str, int]] = {}
    for row in (
        Finding.objects.filter(contract_id=contract.pk, resolved_at__isnull=True)
        .values("rule", "clause", "severity")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        clauses = {row["clause"], *clauses_of_rule(row["rule"])}
        for clause in clauses:
            per = counts.setdefault(clause, {})
            per[row["severity"]] = per.get(row["severity"], 0) + row["n"]
    return counts


def clause_states(contract: Contract, profile: Profile | None = None) -> list[ClauseState]:
    """Every clause of the active profile with its open findings counted (two queries)."""
    profile = profile or active_profile(contract)
    counts = open_counts_by_clause(contract)
    return [ClauseState(clause, counts.get(clause.id, {})) for clause in profile.clauses]


def bearing_on(findings: QuerySet[Finding], clause_id: str) -> QuerySet[Finding]:
    """The findings that bear on *clause_id*: filed under it, or by a rule every finding of which bears on it."""
    rules = [rule.key for rule in RULES if clause_id in rule.clauses]
    return findings.filter(Q(clause=clause_id) | Q(rule__in=rules))


def findings_for_clause(contract: Contract, clause_id: str) -> QuerySet[Finding]:
    return bearing_on(open_findings(contract), clause_id)


def last_evaluated_at(contract: Contract) -> dt.datetime | None:
    return (
        ComplianceSnapshot.objects.filter(contract_id=contract.pk)
        .order_by("-date")
        .values_list("recorded_at", flat=True)
        .first()
    )


def snapshots(contract: Contract, *, days: int = TREND_DAYS) -> list[ComplianceSnapshot]:
    since = timezone.localdate() - dt.timedelta(days=days - 1)
    return list(ComplianceSnapshot.objects.filter(contract_id=contract.pk, date__gte=since).order_by("date"))


def loaded_profiles(contract: Contract) -> QuerySet[ComplianceProfile]:
    return (
        ComplianceProfile.objects.filter(orderer_id=contract.orderer_id)
        .select_related("loaded_by")
        .order_by("-loaded_at", "-pk")
    )


def rule_title(rule_key: str) -> str:
    rule = RULES_BY_KEY.get(rule_key)
    return str(rule.title) if rule is not None else rule_key


# --- the orderer's overview ------------------------------------------------------------------------------


def orderer_contracts(user: Any) -> QuerySet[Contract]:
    """Every contract where *user* is a current orderer officer, whatever the contractor."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Contract.objects.none()
    return Contract.objects.filter(
        pk__in=Membership.objects.current().filter(user_id=user.pk, role=Role.ORDERER).values("contract_id")
    )


@dataclass
class ContractRow:
    contract: Contract
    high: int = 0
    medium: int = 0
    low: int = 0
    clauses: int = 0
    open_incidents: int = 0
    training_coverage: Any = None
    evaluated_at: dt.datetime | None = None

    @property
    def total(self) -> int:
        return self.high + self.medium + self.low


def orderer_overview(user: Any) -> list[ContractRow]:
    """Counts per contract of the orderer's contracts: four queries whatever the number of contracts."""
    contracts = list(
        orderer_contracts(user).select_related("contractor", "orderer").order_by("orderer__name", "number")
    )
    ids = [c.pk for c in contracts]
    rows = {c.pk: ContractRow(c) for c in contracts}
    for values in (
        Finding.objects.filter(contract_id__in=ids, resolved_at__isnull=True)
        .values("contract_id")
        .annotate(
            high=Count("pk", filter=Q(severity=Severity.HIGH)),
            medium=Count("pk", filter=Q(severity=Severity.MEDIUM)),
            low=Count("pk", filter=Q(severity=Severity.LOW)),
            clauses=Count("clause", distinct=True),
        )
    ):
        row = rows[values["contract_id"]]
        row.high, row.medium, row.low, row.clauses = (
            values["high"],
            values["medium"],
            values["low"],
            values["clauses"],
        )
    for contract_id, count in (
        Incident.objects.filter(contract_id__in=ids)
        .exclude(state=IncidentState.CLOSED)
        .values("contract_id")
        .annotate(n=Count("pk"))
        .values_list("contract_id", "n")
    ):
        rows[contract_id].open_incidents = count
    latest = (
        ComplianceSnapshot.objects.filter(contract_id__in=ids)
        .values("contract_id")
        .annotate(last=Max("date"))
        .values_list("contract_id", "last")
    )
    wanted = Q()
    for contract_id, last in latest:
        wanted |= Q(contract_id=contract_id, date=last)
    if wanted:
        for snap in ComplianceSnapshot.objects.filter(wanted).only(
            "contract_id", "training_coverage", "recorded_at"
        ):
            rows[snap.contract_id].training_coverage = snap.training_coverage
            rows[snap.contract_id].evaluated_at = snap.recorded_at
    return [rows[i] for i in ids]


@dataclass(frozen=True)
class TrendPoint:
    date: dt.date
    high: int
    medium: int
    low: int
    incidents: int
    coverage: float

    @property
    def findings(self) -> int:
        return self.high + self.medium + self.low


def trend(contract_ids: list[int], *, days: int = TREND_DAYS) -> list[TrendPoint]:
    """Daily totals over *contract_ids* (coverage averaged): one query."""
    since = timezone.localdate() - dt.timedelta(days=days - 1)
    rows = (
        ComplianceSnapshot.objects.filter(contract_id__in=contract_ids, date__gte=since)
        .values("date")
        .annotate(
            high=Sum("open_high"),
            medium=Sum("open_medium"),
            low=Sum("open_low"),
            incidents=Sum("open_incidents"),
            coverage_sum=Sum("training_coverage"),
            n=Count("pk"),
        )
        .order_by("date")
    )
    return [
        TrendPoint(
            r["date"],
            r["high"] or 0,
            r["medium"] or 0,
            r["low"] or 0,
            r["incidents"] or 0,
            float(r["coverage_sum"] or 0) / (r["n"] or 1),
        )
        for r in rows
    ]
