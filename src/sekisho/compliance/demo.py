"""The demo's compliance state. On top of what the people demo leaves (福田 大輔 has not acknowledged the
training — R2.4.1), two realistic breaches made through the ordinary services:

- a laptop the information manager approved whose agent never reported its security state (R2.7イ);
- a mis-sent e-mail with 120 residents' names and addresses, reported six days after it was noticed, whose 速報
  is now overdue (R2.8.1 late, P10).

Then both contracts are evaluated once, as the scheduled run would, so the pages have findings and the trend
charts their first day."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from sekisho.core.models import Contract, User
from sekisho.devices import services as devices
from sekisho.devices.models import Device
from sekisho.incidents.services import IncidentData, report_incident
from sekisho.ledger.models import PersonalCategory

from .services import evaluate_contract


def load_compliance_demo(contracts: dict[str, Contract], users: dict[str, User]) -> None:
    contract = contracts["main"]
    laptop = devices.register_device(
        contract,
        acting_user=users["staff"],
        name="調査用ノートPC 3号機",
        kind=Device.Kind.LAPTOP,
        os=Device.OS.WINDOWS,
        asset_tag="KS-NB-0312",
        disk_encryption="BitLocker",
        antivirus="Microsoft Defender",
    )
    devices.approve_device(
        laptop, acting_user=users["manager"], approved_until=timezone.now() + dt.timedelta(days=180)
    )
    report_incident(
        contract,
        acting_user=users["staff"],
        data=IncidentData(
            kind="missent_email",
            title="調査対象者一覧のメール誤送信",
            description="現地調査の日程連絡の際、調査対象者一覧（Excel）を別の協力会社へ誤って送信した。",
            detected_at=timezone.now() - dt.timedelta(days=6),
            has_personal_info=True,
            personal_categories=[PersonalCategory.NAME, PersonalCategory.ADDRESS],
            personal_count=120,
        ),
    )
    for key in ("main", "other"):
        evaluate_contract(contracts[key])
