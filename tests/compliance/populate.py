"""A contract's live state in bulk, for the query-count test (a few rows against many) and for
bench/bench_compliance.py (100k assets, 500 staff, 1,000 devices).

Rows go straight into the tables with bulk_create: the point is to measure reading them, not 100k single
registrations. The mix breaks clauses the way a busy, imperfect contract does — some important files kept on
PCs, personal information without a stated purpose, copies whose permit was revoked, expired device approvals,
PCs whose agent never reported, staff who have not acknowledged the training, incidents past their deadlines,
subcontractors who have not acknowledged the flow-down — so that every rule produces findings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from sekisho.core.models import Contract, Membership, Organisation, Role, User
from sekisho.devices.models import Device, PostureReport
from sekisho.incidents.models import Incident
from sekisho.ledger.models import Asset, AssetState, LocationKind, Medium, Origin
from sekisho.people.models import (
    AckMethod,
    Acknowledgement,
    Programme,
    RosterEntry,
    StaffCategory,
    Subcontract,
)
from sekisho.permits.models import Permit, PermitKind, PermitState

BATCH = 5000


@dataclass
class Sizes:
    assets: int
    staff: int
    devices: int
    incidents: int = 0
    subcontracts: int = 0
    # One asset in *every* breaks each of the three ledger rules (10: 30% of the ledger breaks something).
    every: int = 10

    @classmethod
    def scaled(cls, n: int) -> Sizes:
        return cls(assets=n, staff=n, devices=n, incidents=n, subcontracts=n)


def _bulk(model: Any, rows: list[Any]) -> list[Any]:
    made: list[Any] = []
    for start in range(0, len(rows), BATCH):
        made += model.objects.bulk_create(rows[start : start + BATCH])
    return made


def healthy_facts(now: dt.datetime) -> dict[str, Any]:
    return {
        "platform": "windows",
        "disk_encryption": True,
        "antivirus_enabled": True,
        "antivirus_definitions_updated": (now - dt.timedelta(days=1)).isoformat(),
        "os_updated": (now - dt.timedelta(days=5)).isoformat(),
        "firewall_enabled": True,
        "screen_lock_enabled": True,
        "screen_lock_minutes": 5,
    }


def populate(contract: Contract, manager: User, staff: User, sizes: Sizes, *, tag: str = "") -> None:
    """Fill *contract* (already cleared: tests/people/clearing.py) with *sizes* of everything."""
    now = timezone.now()
    today = timezone.localdate()
    tag = tag or str(contract.pk)
    _assets(contract, manager, staff, sizes.assets, today, sizes.every)
    _devices(contract, manager, staff, sizes.devices, now)
    _staff(contract, manager, sizes.staff, now, tag)
    _incidents(contract, staff, sizes.incidents, now)
    _subcontracts(contract, manager, sizes.subcontracts, today, tag)


def _assets(contract: Contract, manager: User, staff: User, count: int, today: dt.date, every: int) -> None:
    revoked = Permit.objects.create(
        contract=contract,
        kind=PermitKind.COPY,
        requester=staff,
        reason="現地調査用の写し",
        copies=count,
        valid_from=contract.period_start,
        valid_until=contract.period_end,
        state=PermitState.REVOKED,
        decided_by=manager,
        decided_at=timezone.now(),
    )
    original = Asset.objects.create(
        contract=contract,
        ref=f"P-{contract.pk}",
        title="下水道台帳図（原本）",
        medium=Medium.PAPER,
        origin=Origin.PROVIDED,
        received_on=contract.period_start,
        custodian=staff,
        location_kind=LocationKind.CABINET,
        quantity=1,
        created_by=manager,
    )
    rows = []
    for n in range(count):
        fields: dict[str, Any] = {
            "contract": contract,
            "ref": f"A-{n:06d}",
            "title": f"管渠調査票 No.{n}",
            "medium": Medium.ELECTRONIC,
            "origin": Origin.DERIVED,
            "received_on": today,
            "custodian": staff,
            "location_kind": LocationKind.VAULT,
            "important": n % 5 == 0,
            "created_by": manager,
        }
        if n % every == 1:  # important, kept on a PC (R2.7ウ)
            fields.update(important=True, location_kind=LocationKind.DEVICE, location=f"PC-{n % 40:03d}")
        elif n % every == 2:  # personal information without a purpose (P5)
            fields.update(has_personal_info=True, personal_categories=["name"], personal_count=10)
        elif n % every == 3:  # a paper copy under a revoked permit (R2.3)
            fields.update(
                medium=Medium.PAPER,
                origin=Origin.COPY,
                parent_id=original.pk,
                root_id=original.pk,
                location_kind=LocationKind.CABINET,
                quantity=1,
                permit_id=revoked.pk,
            )
        elif n % 10 == 4:
            fields["state"] = AssetState.RETURNED
        elif n % 7 == 5:  # personal information with its purpose stated (no finding)
            fields.update(
                has_personal_info=True,
                personal_categories=["name", "address"],
                personal_count=40,
                personal_purpose="排水設備調査の立会い依頼",
                personal_necessity="対象世帯への連絡のため",
            )
        rows.append(Asset(**fields))
    _bulk(Asset, rows)


def _devices(contract: Contract, manager: User, staff: User, count: int, now: dt.datetime) -> None:
    rows = [
        Device(
            contract=contract,
            name=f"PC-{n:04d}",
            kind=Device.Kind.LAPTOP,
            os=Device.OS.WINDOWS,
            asset_tag=f"D-{n:05d}",
            owner=staff,
            organisation_id=contract.contractor_id,
            registered_by=staff,
            status=Device.Status.APPROVED if n % 4 else Device.Status.REVOKED,
            approved_by=manager,
            approved_at=now - dt.timedelta(days=100),
            # every third approval has expired (R2.7ア)
            approved_until=now - dt.timedelta(days=1) if n % 3 == 0 else now + dt.timedelta(days=90),
            public_key=f"{n:064d}",
        )
        for n in range(count)
    ]
    devices = _bulk(Device, rows)
    # Half report; of those, every fifth fails (R2.7イ); the others never reported (stale, low).
    reports = [
        PostureReport(
            device_id=d.pk,
            received_at=now - dt.timedelta(hours=1),
            collected_at=now - dt.timedelta(hours=1),
            platform="windows",
            facts={**healthy_facts(now), "disk_encryption": n % 5 != 0},
            passed=n % 5 != 0,
            failures=[] if n % 5 else [{"control": "disk_encryption", "message": "off"}],
        )
        for n, d in enumerate(devices)
        if n % 2 == 0
    ]
    made = _bulk(PostureReport, reports)
    by_device = {r.device_id: r.pk for r in made}
    for device in devices:
        device.latest_report_id = by_device.get(device.pk)
    Device.objects.bulk_update(devices, ["latest_report"], batch_size=BATCH)


def _staff(contract: Contract, manager: User, count: int, now: dt.datetime, tag: str) -> None:
    contractor = Organisation.objects.get(pk=contract.contractor_id)
    users = _bulk(
        User,
        [
            User(username=f"c{tag}-staff{n}", display_name=f"社員 {n}", organisation=contractor)
            for n in range(count)
        ],
    )
    _bulk(
        Membership,
        [Membership(user=u, contract=contract, role=Role.STAFF, organisation=contractor) for u in users],
    )
    # Every tenth member is not on the roster at all (R2.4.1); the roster also has people who never log in.
    entries = _bulk(
        RosterEntry,
        [
            RosterEntry(
                contract=contract,
                organisation=contractor,
                user=u if n % 10 else None,
                name=f"社員 {n}",
                category=StaffCategory.EMPLOYEE if n % 3 else StaffCategory.DISPATCHED,
                started_on=contract.period_start,
                created_by=manager,
                left_at=now - dt.timedelta(days=3) if n % 25 == 0 else None,
            )
            for n, u in enumerate(users)
        ],
    )
    programme = Programme.objects.select_related("current_version").get(contract=contract)
    version = programme.current_version
    assert version is not None
    _bulk(
        Acknowledgement,
        [
            Acknowledgement(
                contract=contract,
                programme=programme,
                version=version,
                entry=entry,
                typed_name=entry.name,
                content_sha256=version.content_sha256,
                acknowledged_at=now - dt.timedelta(days=1),
                expires_at=now + dt.timedelta(days=300),
                method=AckMethod.SESSION,
                recorded_by=manager,
            )
            for n, entry in enumerate(entries)
            if n % 2 == 0  # half have acknowledged (R2.4.1 for the other half)
        ],
    )


def _incidents(contract: Contract, staff: User, count: int, now: dt.datetime) -> None:
    _bulk(
        Incident,
        [
            Incident(
                contract=contract,
                ref=f"I-{n + 100}",
                kind="loss",
                title=f"調査票の紛失 {n}",
                description="現地で紛失",
                # 15–24 days ago: the 速報 is overdue (even across the year-end closure), the 確報 not yet.
                detected_at=now - dt.timedelta(days=15 + n % 10),
                reported_at=now - dt.timedelta(days=15 + n % 10),
                notified_at=now - dt.timedelta(days=15 + n % 10),
                reported_by=staff,
                has_personal_info=True,
                personal_categories=["name"],
                personal_count=150,
                state="orderer_notified",
            )
            for n in range(count)
        ],
    )


def _subcontracts(contract: Contract, manager: User, count: int, today: dt.date, tag: str) -> None:
    orgs = _bulk(
        Organisation,
        [Organisation(name=f"下請{tag}-{n}", kind=Organisation.Kind.SUBCONTRACTOR) for n in range(count)],
    )
    permits = _bulk(
        Permit,
        [
            Permit(
                contract=contract,
                kind=PermitKind.SUBCONTRACT,
                requester=manager,
                reason="測量",
                valid_from=contract.period_start,
                valid_until=contract.period_end,
                state=PermitState.APPROVED,
            )
            for _ in orgs
        ],
    )
    _bulk(
        Subcontract,
        [
            Subcontract(
                contract=contract,
                organisation=org,
                scope="現地測量",
                permit=permit,
                responsible_name=f"責任者 {n}",
                requested_by=manager,
                flowdown_at=timezone.now() if n % 2 else None,  # half not flowed down (R2.4.3)
            )
            for n, (org, permit) in enumerate(zip(orgs, permits, strict=True))
        ],
    )
