"""Crypto-shredding: on the orderer's destruction permit the contract key goes from the key store and every
key-store backup, and then nothing of the contract decrypts — not the vault, not a data backup of it."""

from __future__ import annotations

import io
import shutil

import pytest
from django.core.management import call_command

from sekisho.audit.models import AuditEvent
from sekisho.core.errors import Conflict, Forbidden
from sekisho.ledger.models import AssetState
from sekisho.permits.models import PermitState
from sekisho.vault import crypto, services
from sekisho.vault.keystore import LocalKeyService
from sekisho.vault.models import Shredding, VaultObject
from sekisho.vault.storage import FilesystemStorage

from .helpers import electronic_asset, get, make_pc, permit, put

pytestmark = pytest.mark.django_db


@pytest.fixture
def filled(world, backend):
    pc = make_pc(world)
    a1 = electronic_asset(world, title="報告書")
    a2 = electronic_asset(world, title="写真")
    put(a1, world.staff, pc, b"REPORT-PLAINTEXT " * 1000)
    put(a1, world.staff, pc, b"REPORT-PLAINTEXT v2 " * 1000)
    put(a2, world.staff, pc, b"PHOTO-PLAINTEXT " * 3000)
    return pc, a1, a2


def destruction_permit(world, assets):
    return permit(world, "destruction", assets)


def test_shredding_needs_the_orderers_destruction_permit(world, filled):
    _pc, a1, a2 = filled
    with pytest.raises(Forbidden) as info:
        services.shred_contract(
            world.contract, acting_user=world.manager, permit=permit(world, "transfer", [a1], recipient="x")
        )
    assert (info.value.code, info.value.clause) == ("wrong_permit", "R2.5")
    requested = permit(world, "destruction", [a1, a2], approve=False)
    with pytest.raises(Forbidden) as info:
        services.shred_contract(world.contract, acting_user=world.manager, permit=requested)
    assert info.value.code == "permit_not_in_force"
    with pytest.raises(Forbidden):
        services.shred_contract(
            world.contract, acting_user=world.staff, permit=destruction_permit(world, [a1, a2])
        )
    assert not Shredding.objects.exists()


def test_the_permit_must_cover_everything_the_key_destroys(world, filled):
    _pc, a1, _a2 = filled
    with pytest.raises(Forbidden) as info:
        services.shred_contract(
            world.contract, acting_user=world.manager, permit=destruction_permit(world, [a1])
        )
    assert info.value.code == "asset_not_covered"


def test_after_shredding_nothing_of_the_contract_decrypts(world, filled, vault_dirs, backend):
    pc, a1, a2 = filled
    # A data backup of the vault taken before the shredding (filesystem: a copy of the directory).
    if backend == "filesystem":
        shutil.copytree(vault_dirs / "vault", vault_dirs / "data-backup")
    p = destruction_permit(world, [a1, a2])
    shredding = services.shred_contract(
        world.contract, acting_user=world.manager, permit=p, note="完了時廃棄"
    )
    assert shredding.objects_count == 3 and len(shredding.key_ids) == 1
    assert len(shredding.locations) == 3, "the key store and its two backups"
    a1.refresh_from_db()
    p.refresh_from_db()
    assert a1.state == AssetState.DESTROYED and p.state == PermitState.USED
    event = AuditEvent.objects.get(action="vault.shred")
    assert event.summary["objects"] == 3 and event.summary["key_ids"] == shredding.key_ids

    # The vault refuses, naming the clause.
    with pytest.raises(Conflict):
        get(a1, world.staff, pc)
    # Every blob, opened directly with every key store location there is, stays shut.
    stores = [vault_dirs / "keys", *[vault_dirs / f"key-backup-{x}" for x in "ab"]]
    blobs = []
    for obj in VaultObject.objects.all():
        if backend == "filesystem":
            blobs.append((obj, (vault_dirs / "vault" / obj.storage_key).read_bytes()))
            blobs.append((obj, (vault_dirs / "data-backup" / obj.storage_key).read_bytes()))
        else:
            from sekisho.vault.storage import get_storage

            reader = get_storage("s3").open(obj.storage_key)
            blobs.append((obj, reader.read()))
    assert blobs
    for directory in stores:
        keys = LocalKeyService(directory, vault_dirs / "master.key")
        for obj, blob in blobs:
            with pytest.raises(crypto.KeyUnavailable):
                list(
                    crypto.decrypt_stream(
                        io.BytesIO(blob).read,
                        keys=keys,
                        contract_id=obj.contract_id,
                        object_id=obj.uid,
                        context=services.object_context(obj),
                    )
                )
    # No key file of the contract survives anywhere, and no new one can be made.
    for directory in stores:
        assert not (directory / f"contract-{world.contract.pk}.key").exists()
    with pytest.raises(crypto.KeyUnavailable):
        LocalKeyService(vault_dirs / "keys", vault_dirs / "master.key").current_key_id(world.contract.pk)


def test_no_upload_after_shredding(world, filled):
    pc, a1, a2 = filled
    a3 = electronic_asset(world, title="後から")
    services.shred_contract(
        world.contract, acting_user=world.manager, permit=destruction_permit(world, [a1, a2])
    )
    with pytest.raises(Conflict) as info:
        put(a3, world.staff, pc, b"new")
    assert (info.value.code, info.value.clause) == ("key_destroyed", "R2.5")
    assert not VaultObject.objects.filter(asset=a3).exists()


def test_other_contracts_keep_their_keys(world, filled, vault_dirs):
    _pc, a1, a2 = filled
    keys = LocalKeyService(vault_dirs / "keys", vault_dirs / "master.key")
    other = keys.current_key_id(world.other_contract.pk)
    services.shred_contract(
        world.contract, acting_user=world.manager, permit=destruction_permit(world, [a1, a2])
    )
    assert keys.current_key_id(world.other_contract.pk) == other


def test_an_unreachable_key_store_backup_stops_the_shredding_and_changes_nothing(
    world, filled, settings, tmp_path
):
    _pc, a1, a2 = filled
    settings.SEKISHO_VAULT_KEY_BACKUPS = [*settings.SEKISHO_VAULT_KEY_BACKUPS, tmp_path / "offline"]
    with pytest.raises(Conflict) as info:
        services.shred_contract(
            world.contract, acting_user=world.manager, permit=destruction_permit(world, [a1, a2])
        )
    assert info.value.code == "keystore_unreachable"
    a1.refresh_from_db()
    assert a1.state == AssetState.HELD and not Shredding.objects.exists()
    assert (tmp_path / "keys" / f"contract-{world.contract.pk}.key").exists()


def test_verify_reports_shredded_objects_and_damage(world, vault_dirs):
    pc = make_pc(world)
    a1 = electronic_asset(world, title="報告書")
    obj = put(a1, world.staff, pc, b"x" * 10_000)
    put(a1, world.staff, pc, b"y" * 10_000)
    path = FilesystemStorage(vault_dirs / "vault").root / obj.storage_key
    data = bytearray(path.read_bytes())
    data[200] ^= 1
    path.write_bytes(bytes(data))
    (vault_dirs / "vault" / "objects" / "stray.skv").write_bytes(b"junk")
    partial = path.with_name(path.name.replace(".skv", "-x.skv") + ".partial-0123456789abcdef")
    partial.write_bytes(b"half")
    out = io.StringIO()
    with pytest.raises(Exception, match="1 件"):
        call_command("vault", "verify", stdout=out)
    text = out.getvalue()
    assert "damaged" in text and "ok " in text
    assert "orphan    filesystem:objects/stray.skv" in text
    assert "partial" in text
    with pytest.raises(Exception, match="1 件"):
        call_command("vault", "verify", "--clean", stdout=io.StringIO())
    assert partial.exists(), "a young partial may be an upload in progress: --clean spares it for 24 hours"
    out = io.StringIO()
    with pytest.raises(Exception, match="1 件"):
        call_command("vault", "verify", "--clean", "--older-than", "0", stdout=out)
    assert not partial.exists() and not (vault_dirs / "vault" / "objects" / "stray.skv").exists()
    assert AuditEvent.objects.filter(action="vault.verify").count() == 3
