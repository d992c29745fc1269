"""Read queries of the devices app. Lists cost a fixed number of queries whatever their length."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from sekisho.core import policy
from sekisho.core.models import Contract

from .models import CustodyRecord, Device, Medium, PosturePolicy, PostureReport
from .posture import PolicyValues


def policy_values(contract: Contract) -> PolicyValues:
    return PolicyValues.of(PosturePolicy.objects.filter(contract_id=contract.pk).first())


def devices_of(user: Any, contract: Contract) -> QuerySet[Device]:
    return (
        policy.visible(user, Device)
        .filter(contract=contract)
        .select_related("owner", "organisation", "latest_report", "approved_by")
        .order_by("name", "pk")
    )


def posture_history(device: Device) -> QuerySet[PostureReport]:
    return PostureReport.objects.filter(device=device).order_by("-received_at", "-pk")


def media_of(user: Any, contract: Contract) -> QuerySet[Medium]:
    return (
        policy.visible(user, Medium)
        .filter(contract=contract)
        .select_related("custodian", "approved_by", "registered_by")
        .order_by("label", "pk")
    )


def custody_history(medium: Medium) -> QuerySet[CustodyRecord]:
    return CustodyRecord.objects.filter(medium=medium).select_related("custodian", "recorded_by")
