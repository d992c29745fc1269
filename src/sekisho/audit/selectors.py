from __future__ import annotations

from django.db.models import QuerySet

from sekisho.core.models import Contract

from .models import AuditEvent


def contract_events(contract: Contract) -> QuerySet[AuditEvent]:
    """The contract's events in append order. Callers have already checked ``audit.view``."""
    return AuditEvent.objects.filter(contract=contract).order_by("index")
