from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from sekisho.compliance.models import Finding
from sekisho.compliance.services import Evaluation, evaluate_contract
from sekisho.core.models import Contract
from sekisho.ledger.models import Asset, LocationKind, Medium, Origin
from sekisho.ledger.services import AssetData, register_asset
from sekisho.permits.models import Permit, PermitKind


@pytest.fixture(autouse=True)
def _period_covers_today(request):
    """The world's contract (and its subcontract permit) runs until well after today whatever day the suite
    runs on, so that only the tests about an ended period or a lapsed permit see one."""
    if "world" not in request.fixturenames:
        yield
        return
    world = request.getfixturevalue("world")
    end = timezone.localdate() + dt.timedelta(days=365)
    Contract.objects.filter(pk__in=[world.contract.pk, world.other_contract.pk]).update(period_end=end)
    Permit.objects.filter(contract=world.contract, kind=PermitKind.SUBCONTRACT).update(valid_until=end)
    world.contract.refresh_from_db()
    world.other_contract.refresh_from_db()
    yield


def evaluate(world: Any, *, now: dt.datetime | None = None, contract: Contract | None = None) -> Evaluation:
    """The scheduled evaluation (as the system account) of the world's contract."""
    return evaluate_contract(contract or world.contract, now=now)


def open_findings(world: Any, rule: str) -> list[Finding]:
    return list(
        Finding.objects.filter(contract=world.contract, rule=rule, resolved_at__isnull=True).order_by("pk")
    )


def one_open(world: Any, rule: str) -> Finding:
    found = open_findings(world, rule)
    assert len(found) == 1, [(f.subject_label, f.message) for f in found]
    return found[0]


def resolved(finding: Finding) -> Finding:
    finding.refresh_from_db()
    assert finding.resolved_at is not None, "the finding is still open"
    return finding


def electronic(world: Any, **over: Any) -> Asset:
    values: dict[str, Any] = dict(
        title="管渠調査報告書（PDF）",
        medium=Medium.ELECTRONIC,
        origin=Origin.DERIVED,
        received_on=timezone.localdate(),
        custodian=world.staff,
        location_kind=LocationKind.VAULT,
    )
    values.update(over)
    return register_asset(world.contract, acting_user=world.manager, data=AssetData(**values))


def paper(world: Any, **over: Any) -> Asset:
    values: dict[str, Any] = dict(
        title="下水道台帳図（紙）",
        medium=Medium.PAPER,
        origin=Origin.PROVIDED,
        received_on=timezone.localdate(),
        custodian=world.staff,
        location_kind=LocationKind.CABINET,
        location="3階書庫A-2",
        quantity=1,
    )
    values.update(over)
    return register_asset(world.contract, acting_user=world.manager, data=AssetData(**values))


@pytest.fixture
def vault_dirs(settings, tmp_path):
    """A vault of the test's own (as tests/vault does), for tests that seal content."""
    settings.VAULT_DIR = tmp_path / "vault"
    settings.SEKISHO_VAULT_KEY_DIR = tmp_path / "keys"
    settings.SEKISHO_MASTER_KEY_FILE = tmp_path / "master.key"
    settings.SEKISHO_VAULT_KEY_BACKUPS = [tmp_path / "key-backup-a", tmp_path / "key-backup-b"]
    settings.SEKISHO_VAULT_BACKEND = "filesystem"
    return tmp_path
