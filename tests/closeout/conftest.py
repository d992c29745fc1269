"""A contract at its end: a ledger of originals, copies and derivatives (paper and electronic, some with
personal information, some sealed in the vault), moved to close-out (closing) by the orderer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from sekisho.closeout import services as closeout
from sekisho.core import services as core
from sekisho.core.models import Contract
from sekisho.ledger.models import Asset, LocationKind, Medium, Origin
from sekisho.ledger.services import AssetData, register_asset
from sekisho.permits import services as permits
from tests.vault.helpers import PC, make_pc, put

TODAY = dt.date(2026, 8, 3)
DAY = dt.date(2026, 7, 1)


@pytest.fixture(autouse=True)
def vault_dirs(settings, tmp_path):
    """Each test its own vault, key store and key-store backups."""
    settings.VAULT_DIR = tmp_path / "vault"
    settings.SEKISHO_VAULT_KEY_DIR = tmp_path / "keys"
    settings.SEKISHO_MASTER_KEY_FILE = tmp_path / "master.key"
    settings.SEKISHO_VAULT_KEY_BACKUPS = [tmp_path / "key-backup-a", tmp_path / "key-backup-b"]
    settings.SEKISHO_VAULT_SEGMENT_SIZE = 4096
    settings.SEKISHO_VAULT_BACKEND = "filesystem"
    return tmp_path


@pytest.fixture(autouse=True)
def freeze_today(monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    return TODAY


def paper(world: Any, **over: Any) -> AssetData:
    values: dict[str, Any] = dict(
        title="下水道台帳図（紙）",
        medium=Medium.PAPER,
        origin=Origin.PROVIDED,
        received_on=DAY,
        custodian=world.staff,
        location_kind=LocationKind.CABINET,
        location="3階書庫A-2",
        quantity=2,
    )
    values.update(over)
    return AssetData(**values)


def electronic(world: Any, **over: Any) -> AssetData:
    values: dict[str, Any] = dict(
        title="管渠調査結果（CSV）",
        medium=Medium.ELECTRONIC,
        origin=Origin.DERIVED,
        received_on=DAY,
        custodian=world.staff,
        location_kind=LocationKind.VAULT,
        important=True,
    )
    values.update(over)
    return AssetData(**values)


PERSONAL = dict(
    has_personal_info=True,
    personal_categories=["name", "address"],
    personal_count=320,
    personal_purpose="下水道使用者への立入調査の連絡",
    personal_necessity="調査日の事前連絡に必要",
)


def register(world: Any, data: AssetData, permit: Any = None) -> Asset:
    return register_asset(world.contract, acting_user=world.manager, data=data, permit=permit)


def approved_permit(world: Any, kind: str, assets: list[Asset], **extra: Any) -> Any:
    permit = permits.request_permit(
        world.contract,
        acting_user=world.staff,
        kind=kind,
        assets=assets,
        reason="試験",
        valid_from=DAY,
        valid_until=dt.date(2027, 3, 1),
        **extra,
    )
    return permits.decide_permit(permit, acting_user=world.orderer, approve=True)


@dataclass
class Ledger:
    drawing: Asset  # paper the orderer lent
    drawing_copy: Asset  # a paper copy of it, under the orderer's copy permit (R2.3)
    residents: Asset  # paper list of residents the orderer lent (personal information)
    report: Asset  # the contractor's report, sealed in the vault
    photos: Asset  # survey photos, sealed in the vault
    notes: Asset  # electronic working notes on an approved PC (no vault content)
    pc: PC

    @property
    def all(self) -> list[Asset]:
        return [self.drawing, self.drawing_copy, self.residents, self.report, self.photos, self.notes]


def build_ledger(world: Any) -> Ledger:
    if world.contract.status == Contract.Status.DRAFT:
        core.transition_contract(world.contract, acting_user=world.manager, to_status=Contract.Status.ACTIVE)
    drawing = register(world, paper(world))
    copy_permit = permits.request_permit(
        world.contract,
        acting_user=world.staff,
        kind="copy",
        assets=[drawing],
        reason="現地調査用に1部複写",
        copies=1,
        valid_from=DAY,
        valid_until=dt.date(2027, 3, 1),
    )
    copy_permit = permits.decide_permit(copy_permit, acting_user=world.orderer, approve=True)
    drawing_copy = register(
        world,
        paper(world, title="下水道台帳図（写し）", origin=Origin.COPY, parent=drawing, quantity=1),
        copy_permit,
    )
    residents = register(world, paper(world, title="排水設備の使用者名簿", quantity=1, **PERSONAL))
    report = register(world, electronic(world, title="管渠調査報告書"))
    photos = register(world, electronic(world, title="調査写真", important=False, **PERSONAL))
    notes = register(
        world,
        electronic(
            world, title="作業メモ", important=False, location_kind=LocationKind.DEVICE, location="PC"
        ),
    )
    pc = make_pc(world)
    put(report, world.staff, pc, b"REPORT " * 2000, "report.pdf")
    put(photos, world.staff, pc, b"PHOTO " * 3000, "photos.zip")
    return Ledger(drawing, drawing_copy, residents, report, photos, notes, pc)


def start_closing(world: Any) -> None:
    core.transition_contract(world.contract, acting_user=world.orderer, to_status=Contract.Status.CLOSING)
    world.contract.refresh_from_db()


@pytest.fixture
def ledger(world) -> Ledger:
    return build_ledger(world)


@pytest.fixture
def closing(world, ledger) -> Ledger:
    start_closing(world)
    return ledger


@pytest.fixture
def opened(world, closing) -> Ledger:
    closeout.open_closeout(world.contract, acting_user=world.manager, note="業務完了")
    return closing


def item_ids(*assets: Asset) -> list[int]:
    from sekisho.closeout.models import CloseOutItem

    return list(
        CloseOutItem.objects.filter(asset__in=assets).order_by("asset_id").values_list("pk", flat=True)
    )


def resolve_everything(world: Any, ledger: Ledger) -> None:
    """Return the originals (receipt confirmed), destroy the copy and the notes by hand and the vault by
    crypto-shredding, all on the orderer's instruction."""
    from sekisho.closeout import destruction

    c = world.contract
    closeout.hand_over(c, acting_user=world.manager, item_ids=item_ids(ledger.drawing, ledger.residents))
    closeout.confirm_receipt(
        c, acting_user=world.orderer, item_ids=item_ids(ledger.drawing, ledger.residents)
    )
    gone = item_ids(ledger.drawing_copy, ledger.notes, ledger.report, ledger.photos)
    permit = destruction.instruct(c, acting_user=world.orderer, kind="destruction", item_ids=gone)
    destruction.destroy(
        c,
        acting_user=world.manager,
        item_ids=item_ids(ledger.drawing_copy),
        method="shredder",
        destroyed_on=TODAY,
        witness="倉敷 太郎",
    )
    destruction.destroy(
        c,
        acting_user=world.manager,
        item_ids=item_ids(ledger.notes),
        method="data_erasure",
        destroyed_on=TODAY,
        witness="児島",
    )
    destruction.shred_vault(c, acting_user=world.manager, permit_id=permit.pk)
