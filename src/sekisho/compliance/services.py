"""Compliance services: evaluate a contract's live state into findings (on demand and on schedule), and load an
orderer's own wording of the regulation (a profile).

Evaluation is an upsert of findings keyed by (rule, subject): a finding the rules still produce stays open with
its ``first_seen_at``; one they no longer produce is resolved (``resolved_at``); a breach that comes back opens
a new finding. Each evaluation also writes the day's snapshot for the trend charts. The number of queries is
fixed by the rules, not by the number of assets, devices or people (see ``rules``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core import policy
from sekisho.core.errors import Invalid, NotFound
from sekisho.core.models import Contract, Membership, Organisation, Role
from sekisho.incidents.models import IncidentState

from . import bulk
from .models import ComplianceProfile, ComplianceSnapshot, Finding, Severity
from .profile import ProfileError, parse_profile, require_clauses
from .rules import REFERENCED_CLAUSES, RULES, Context, Found

log = logging.getLogger("sekisho.compliance")

# Contracts the scheduled run evaluates: every one not closed (information may be registered while a contract
# is still being prepared).
EVALUATED_STATUSES = (Contract.Status.DRAFT, Contract.Status.ACTIVE, Contract.Status.CLOSING)
AUDIT_LISTED = 50  # findings named in an evaluation's audit event (the counts are always complete)


@dataclass
class Evaluation:
    """What one evaluation found and changed."""

    contract_id: int
    evaluated_at: dt.datetime
    opened: list[Change] = field(default_factory=list)
    resolved: list[Change] = field(default_factory=list)
    open_by_severity: dict[str, int] = field(default_factory=dict)
    training_coverage: float = 100.0
    open_incidents: int = 0

    @property
    def open_count(self) -> int:
        return sum(self.open_by_severity.values())

    @property
    def changed(self) -> bool:
        return bool(self.opened or self.resolved)

    def as_dict(self) -> dict[str, Any]:
        return {
            "contract": self.contract_id,
            "evaluated_at": self.evaluated_at.isoformat(),
            "opened": len(self.opened),
            "resolved": len(self.resolved),
            "open": self.open_count,
            "open_by_severity": self.open_by_severity,
            "training_coverage": self.training_coverage,
            "open_incidents": self.open_incidents,
        }


def run_rules(ctx: Context) -> dict[tuple[str, str, str], tuple[str, Found]]:
    """Every rule's candidates, keyed by (rule, subject_type, subject_id). Reads only."""
    produced: dict[tuple[str, str, str], tuple[str, Found]] = {}
    for rule in RULES:
        for found in rule.evaluate(ctx):
            produced[(rule.key, found.subject_type, found.subject_id)] = (rule.key, found)
    return produced


@dataclass(frozen=True)
class Change:
    """A finding an evaluation opened (``pk`` None: it was written in bulk) or resolved."""

    rule: str
    clause: str
    severity: str
    subject_type: str
    subject_id: str
    pk: int | None = None


OPEN_COLUMNS = ("pk", "rule", "subject_type", "subject_id", "clause", "severity", "subject_label", "message")


def _values(found: Found) -> dict[str, Any]:
    return {
        "clause": found.clause,
        "severity": found.severity,
        "subject_label": found.subject_label[:300],
        "message": found.message[:500],
        "evidence": found.evidence,
    }


def _upsert(
    contract: Contract, produced: dict[tuple[str, str, str], tuple[str, Found]], now: dt.datetime
) -> tuple[list[Change], list[Change]]:
    """Write the findings: one read of the open ones, then at most one statement each to resolve, change,
    touch and open findings, whatever their number (see ``bulk``). Plain tuples and dicts, no model instances:
    at 100k assets the findings are many."""
    existing: dict[tuple[str, str, str], tuple[Any, ...]] = {
        (row[1], row[2], row[3]): row
        for row in Finding.objects.filter(contract_id=contract.pk, resolved_at__isnull=True).values_list(
            *OPEN_COLUMNS, "evidence"
        )
    }
    resolved = [
        Change(row[1], row[4], row[5], row[2], row[3], pk=row[0])
        for key, row in existing.items()
        if key not in produced
    ]
    changed: list[dict[str, Any]] = []
    opened_rows: list[dict[str, Any]] = []
    opened: list[Change] = []
    for key, (rule, found) in produced.items():
        values = _values(found)
        row = existing.get(key)
        if row is None:
            opened_rows.append(
                {
                    "contract_id": contract.pk,
                    "rule": rule,
                    "subject_type": key[1],
                    "subject_id": key[2],
                    **values,
                }
            )
            opened.append(Change(rule, found.clause, found.severity, key[1], key[2]))
        elif row[4:] != (*(values[name] for name in OPEN_COLUMNS[4:]), values["evidence"]):
            changed.append({"id": row[0], **values})
    bulk.resolve([c.pk for c in resolved if c.pk is not None], now)
    bulk.update(changed)
    Finding.objects.filter(contract_id=contract.pk, resolved_at__isnull=True).update(last_seen_at=now)
    bulk.insert(opened_rows, now)
    return opened, resolved


def _snapshot(ctx: Context, evaluation: Evaluation) -> None:
    """The day's row for the trend charts: one per contract and day, the latest evaluation of the day wins."""
    ComplianceSnapshot.objects.update_or_create(
        contract_id=ctx.contract.pk,
        date=ctx.today,
        defaults={
            "open_high": evaluation.open_by_severity.get(Severity.HIGH, 0),
            "open_medium": evaluation.open_by_severity.get(Severity.MEDIUM, 0),
            "open_low": evaluation.open_by_severity.get(Severity.LOW, 0),
            "open_incidents": evaluation.open_incidents,
            "training_coverage": Decimal(str(evaluation.training_coverage)).quantize(Decimal("0.1")),
            "recorded_at": ctx.now,
        },
    )


def _listed(findings: list[Change]) -> list[dict[str, str]]:
    return [
        {
            "rule": f.rule,
            "clause": f.clause,
            "severity": f.severity,
            "subject": f"{f.subject_type}:{f.subject_id}",
        }
        for f in findings[:AUDIT_LISTED]
    ]


@transaction.atomic
def evaluate_contract(
    contract: Contract, *, acting_user: Any = None, now: dt.datetime | None = None
) -> Evaluation:
    """Evaluate every rule on the contract's live state and upsert its findings (R3: the orderer's view of the
    contractor's management; R2.9 / P11: the findings history is the evidence). *acting_user* None is the
    scheduled run (acting as the system account); a person needs ``compliance.evaluate``."""
    from sekisho.core.services import system_account

    if acting_user is not None:
        policy.require(acting_user, "compliance.evaluate", contract, clause="R3")
    # One evaluation of a contract at a time: two at once would both open the same finding.
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    ctx = Context(contract=contract, now=now or timezone.now())
    # Messages are stored as the record of what was found, in the deployment's language whoever asked.
    with translation.override(settings.LANGUAGE_CODE):
        produced = run_rules(ctx)
    opened, resolved = _upsert(contract, produced, ctx.now)
    incidents, _settings = ctx.stats.get("_incidents", ([], None))
    evaluation = Evaluation(
        contract_id=contract.pk,
        evaluated_at=ctx.now,
        opened=opened,
        resolved=resolved,
        open_by_severity={
            str(s): n for s, n in Counter(found.severity for _r, found in produced.values()).items()
        },
        training_coverage=float(ctx.stats.get("training_coverage", 100.0)),
        open_incidents=sum(1 for i in incidents if i.state != IncidentState.CLOSED),
    )
    _snapshot(ctx, evaluation)
    if evaluation.changed:
        record(
            actor=acting_user if acting_user is not None else system_account(),
            action="compliance.evaluate",
            contract=contract,
            obj=contract,
            summary={
                "opened": len(opened),
                "resolved": len(resolved),
                "open": evaluation.open_count,
                "open_by_severity": evaluation.open_by_severity,
                "opened_findings": _listed(opened),
                "resolved_findings": _listed(resolved),
                "scheduled": acting_user is None,
            },
        )
    return evaluation


def evaluate_all(*, now: dt.datetime | None = None) -> int:
    """The scheduled run (``sekisho tick``): every contract not closed, each in its own transaction so
    one failure does not undo the others. Returns the number of contracts evaluated."""
    count = 0
    failed: list[int] = []
    for contract in Contract.objects.filter(status__in=EVALUATED_STATUSES).order_by("pk"):
        try:
            evaluate_contract(contract, now=now)
            count += 1
        except Exception:  # one contract's failure must not stop the others; logged, then reported below
            log.exception("compliance evaluation of contract %s failed", contract.pk)
            failed.append(contract.pk)
    if failed:
        raise RuntimeError(f"compliance evaluation failed for contract(s) {failed}")
    return count


# --- profiles ----------------------------------------------------------------------------------------------


def _orderer_contract(user: Any, target: Contract | Organisation) -> Contract:
    """The contract through which *user* acts for the orderer organisation *target* (or *target* itself)."""
    if isinstance(target, Contract):
        return target
    contract = (
        Contract.objects.filter(
            orderer=target,
            pk__in=Membership.objects.current()
            .filter(user_id=getattr(user, "pk", 0) or 0, role=Role.ORDERER)
            .values("contract_id"),
        )
        .order_by("pk")
        .first()
    )
    if contract is None:
        raise NotFound(_("見つかりません。"))
    return contract


@transaction.atomic
def load_profile(
    orderer_user: Any, contract_or_org: Contract | Organisation, toml_text: str
) -> ComplianceProfile:
    """Load the orderer's own wording of the regulation (a profile, TOML) for every contract of the orderer's
    organisation (R2.1: the orderer's instructions). Every clause a rule references must be in it; clauses of
    its own are welcome. Only an orderer officer may load one."""
    contract = _orderer_contract(orderer_user, contract_or_org)
    policy.require(orderer_user, "compliance.profile", contract, clause="R2.1")
    try:
        profile = parse_profile(toml_text)
        require_clauses(profile, REFERENCED_CLAUSES)
    except ProfileError as exc:
        raise Invalid(
            _("規定プロファイルを読み込めません: {reason}").format(reason=exc), code="invalid_profile"
        ) from exc
    orderer = Organisation.objects.get(pk=contract.orderer_id)
    row = ComplianceProfile.objects.create(
        orderer=orderer,
        key=profile.key[:60],
        name=profile.name_ja[:300],
        content=toml_text,
        content_sha256=hashlib.sha256(toml_text.encode("utf-8")).hexdigest(),
        loaded_at=timezone.now(),
        loaded_by=orderer_user,
    )
    record(
        actor=orderer_user,
        action="compliance.profile_load",
        contract=contract,
        obj=row,
        summary={
            "orderer": orderer.name,
            "key": row.key,
            "name": row.name,
            "clauses": len(profile.clauses),
            "sha256": row.content_sha256,
        },
    )
    return row
