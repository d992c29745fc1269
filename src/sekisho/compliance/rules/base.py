"""What a rule is and what it produces."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from sekisho.core.models import Contract
from sekisho.core.wareki import to_wareki


@dataclass(frozen=True)
class Found:
    """One breach a rule sees now. (rule, subject_type, subject_id) identifies it across evaluations."""

    clause: str
    severity: str
    subject_type: str
    subject_id: str
    subject_label: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """The contract under evaluation and the instant it is evaluated at. Rules may leave figures in ``stats``
    (e.g. the training coverage for the daily snapshot) so that nothing is queried twice."""

    contract: Contract
    now: dt.datetime = field(default_factory=timezone.now)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def today(self) -> dt.date:
        return timezone.localdate(self.now)


@dataclass(frozen=True)
class Rule:
    key: str
    # Clauses every finding of this rule bears on: each finding is shown under these and under its own clause.
    clauses: tuple[str, ...]
    title: Any  # lazily translated
    evaluate: Callable[[Context], Iterable[Found]]
    # Clause ids the rule files a finding under depending on its subject (e.g. R2.3 for paper, P7 for
    # personal information): such a finding is shown under its own clause only (plus ``clauses``).
    subject_clauses: tuple[str, ...] = ()


def label(*parts: Any, limit: int = 300) -> str:
    return " ".join(str(p) for p in parts if p not in (None, ""))[:limit]


def jdate(value: dt.datetime | dt.date | None) -> str:
    """A date for a finding's message, in 和暦 (local date for a moment)."""
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        value = timezone.localdate(value)
    return to_wareki(value)


def iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None
