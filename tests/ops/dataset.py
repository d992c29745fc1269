"""A realistic deployment to back up, built through the services in a `sekisho shell` subprocess after
`sekisho migrate` and `sekisho demo`: vault uploads (several versions, many segments, an empty file), a
transfer package, a second contract whose key was crypto-shredded, signed and pinned tree heads, an API token,
an authenticator (TOTP) device and enough audit events for stored Merkle nodes.

Run as ``sekisho shell -c "from tests.ops.dataset import build; build()"`` (the working directory is the
repository, so ``tests`` is importable). It prints a JSON summary as its last line."""

from __future__ import annotations

import datetime as dt
import json
import os
from types import SimpleNamespace
from typing import Any

from django.db import transaction

# Plaintext markers: a backup archive must not contain them anywhere.
MAIN_PLAINTEXT = b"KURASHIKI-PIPE-SURVEY-PLAINTEXT "
SHREDDED_PLAINTEXT = b"TAMASHIMA-PUMP-STATION-PLAINTEXT "


def _permit(world: Any, kind: str, assets: list[Any], *, recipient: str = "") -> Any:
    """A permit requested by staff and decided by whoever decides that kind, valid for the contract period."""
    from sekisho.permits import services as permits

    requested = permits.request_permit(
        world.contract,
        acting_user=world.staff,
        kind=kind,
        assets=assets,
        reason="バックアップ試験",
        recipient=recipient,
        valid_from=world.contract.period_start,
        valid_until=world.contract.period_end,
    )
    decider = world.manager if kind == "transfer" else world.orderer
    return permits.decide_permit(requested, acting_user=decider, approve=True)


def build(*, shred: bool = True, demo_password: str | None = None) -> None:
    """The dataset; with *demo_password*, `sekisho demo` first (one process less per test deployment); with
    *shred*, the second contract's key is crypto-shredded at the end of its part."""
    if demo_password is not None:
        import io

        from django.core.management import call_command

        call_command("demo", password=demo_password, stdout=io.StringIO())
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from sekisho.audit import services as audit
    from sekisho.audit.models import AuditStream, MerkleNode
    from sekisho.core import services as core
    from sekisho.core.auth import issue_api_token
    from sekisho.core.models import Contract, Role, User
    from sekisho.vault import transfer
    from tests.people.clearing import clear_contract
    from tests.vault.helpers import electronic_asset, make_pc, put

    admin = core.system_account()
    users = {u.username: u for u in User.objects.all()}
    main = Contract.objects.get(number="倉下建第2026-118号")
    other = Contract.objects.get(number="倉下建第2026-131号")
    world = SimpleNamespace(
        contract=main, manager=users["manager"], staff=users["staff"], orderer=users["orderer"]
    )

    # The main contract: two assets, three versions (one spans many segments, one is empty), a package.
    pc = make_pc(world, name="BACKUP-PC", tag="B-001")
    report = electronic_asset(world, title="管渠調査報告書")
    photos = electronic_asset(world, title="管内調査写真")
    put(report, world.staff, pc, MAIN_PLAINTEXT * 3000, filename="報告書.pdf")
    put(report, world.staff, pc, MAIN_PLAINTEXT * 5 + b"v2", filename="報告書_v2.pdf")
    put(photos, world.staff, pc, b"", filename="empty.bin")
    put(photos, world.staff, pc, os.urandom(50_000), filename="写真.zip")
    import pyrage

    transfer_permit = _permit(world, "transfer", [report], recipient="測量会社")
    transfer.build_package(
        main,
        acting_user=world.staff,
        device=pc.binding,
        permit=transfer_permit,
        assets=[report],
        recipient="測量会社",
        recipient_key=str(pyrage.x25519.Identity.generate().to_public()),
    )

    # The other contract: cleared, content uploaded, then crypto-shredded on the orderer's instruction.
    outsider, orderer = users["outsider"], users["orderer"]
    core.appoint_lead(other, acting_user=admin, user=orderer, role=Role.ORDERER)
    staff_other = core.create_user(
        acting_user=admin,
        username="tamashima_staff",
        password="Kq7-Mizushima-Pump-91",
        display_name="玉島 次郎",
        email="tamashima@example.invalid",
        organisation=outsider.organisation,
    )
    core.add_member(other, acting_user=outsider, user=staff_other, role=Role.STAFF)
    clear_contract(other, outsider, [staff_other])
    other_world = SimpleNamespace(contract=other, manager=outsider, staff=staff_other, orderer=orderer)
    other_pc = make_pc(other_world, name="TAMA-PC", tag="T-001")
    design = electronic_asset(other_world, title="ポンプ場設計図")
    put(design, staff_other, other_pc, SHREDDED_PLAINTEXT * 2000, filename="設計図.dwg")
    if shred:
        shred_other()

    # The audit trail: signed heads, a pinned head, an export, a token and an authenticator device.
    for n in range(40):
        with transaction.atomic():
            audit.record(actor=admin, action="ops.dataset", contract=main, obj=main, summary={"n": n})
    head = audit.sign_tree_head(main, acting_user=orderer, reason="inspection", note="中間検査")
    audit.pin_tree_head(main, acting_user=orderer, head=head.signed(), note="受領")
    audit.export_contract(main, acting_user=users["auditor"])
    audit.sign_due_tree_heads(now=dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=1))
    _token, token_text = issue_api_token(
        users["staff"],
        acting_user=users["staff"],
        name="nightly",
        expires_at=dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=90),
    )
    TOTPDevice.objects.create(user=users["orderer"], name="authenticator", confirmed=True)

    from sekisho.vault.models import Shredding, TransferPackage, VaultObject

    shredded = VaultObject.objects.filter(contract__in=Shredding.objects.values("contract"))
    summary: dict[str, Any] = {
        "streams": {s.key: s.size for s in AuditStream.objects.all()},
        "merkle_nodes": MerkleNode.objects.count(),
        "token": token_text,
        "objects_ok": VaultObject.objects.count() - shredded.count(),
        "objects_shredded": shredded.count(),
        "blobs": VaultObject.objects.count() + TransferPackage.objects.count(),
    }
    print(json.dumps(summary))


def shred_other() -> None:
    """Crypto-shred the second contract on its orderer's destruction permit."""
    from sekisho.core.models import Contract, User
    from sekisho.ledger.models import Asset
    from sekisho.vault import services as vault

    other = Contract.objects.get(number="倉下建第2026-131号")
    world = SimpleNamespace(
        contract=other,
        manager=User.objects.get(username="outsider"),
        staff=User.objects.get(username="tamashima_staff"),
        orderer=User.objects.get(username="orderer"),
    )
    assets = list(Asset.objects.filter(contract=other, versions__isnull=False).distinct())
    destruction = _permit(world, "destruction", assets)
    vault.shred_contract(other, acting_user=world.manager, permit=destruction, note="完了時廃棄")


def upload_big(size: int) -> None:
    """One version of *size* bytes in the main contract, streamed from a generator (never whole in memory)."""
    from sekisho.core.models import Contract, User
    from sekisho.vault import services as vault
    from tests.vault.helpers import electronic_asset, make_pc

    main = Contract.objects.get(number="倉下建第2026-118号")
    world = SimpleNamespace(
        contract=main, manager=User.objects.get(username="manager"), staff=User.objects.get(username="staff")
    )
    pc = make_pc(world, name="BIG-PC", tag="B-BIG")
    asset = electronic_asset(world, title="大容量データ")
    block = os.urandom(1 << 20)
    remaining = size

    def read(n: int) -> bytes:
        nonlocal remaining
        out = block[: min(n, remaining, len(block))]
        remaining -= len(out)
        return out

    vault.upload_version(
        asset, acting_user=world.staff, device=pc.binding, read=read, length=size, filename="big.bin"
    )
