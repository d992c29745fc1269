"""Transfer packages: only under an approved transfer permit, encrypted to the recipient in the age format,
readable by the stock age and tar tools, confirmed by the recipient."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile

import pyrage
import pytest

from sekisho.core.errors import Conflict, Forbidden, Invalid
from sekisho.devices import services as devices
from sekisho.ledger.models import AssetState
from sekisho.permits import services as permits
from sekisho.permits.models import PermitState, PermitUse
from sekisho.vault import transfer
from sekisho.vault.models import TransferPackage, TransferState
from sekisho.vault.storage import get_storage
from tests.tools import require_tool

from .helpers import electronic_asset, make_pc, permit, put

pytestmark = pytest.mark.django_db
RECIPIENT = "有限会社テスト測量 本社"


@pytest.fixture
def identity():
    return pyrage.x25519.Identity.generate()


@pytest.fixture
def setup(world):
    pc = make_pc(world)
    a1 = electronic_asset(world, title="管渠調査報告書")
    a2 = electronic_asset(world, title="TVカメラ調査写真")
    put(a1, world.staff, pc, b"report v1")
    put(a1, world.staff, pc, b"report v2 " * 5000, filename="報告書.pdf")
    put(a2, world.staff, pc, bytes(range(256)) * 300, filename="photo 001.jpg")
    return pc, a1, a2


def build(world, pc, p, assets, identity, **kw):
    return transfer.build_package(
        world.contract,
        acting_user=world.staff,
        device=pc.binding,
        permit=p,
        assets=assets,
        recipient=kw.pop("recipient", RECIPIENT),
        recipient_key=str(identity.to_public()),
        **kw,
    )


def package_bytes(package: TransferPackage) -> bytes:
    reader = get_storage(package.backend).open(package.storage_key)
    try:
        return reader.read()
    finally:
        reader.close()


def test_no_package_without_a_permit_of_the_information_manager(world, setup, identity):
    pc, a1, _a2 = setup
    requested = permit(world, "transfer", [a1], recipient=RECIPIENT, approve=False)
    with pytest.raises(Forbidden) as info:
        build(world, pc, requested, [a1], identity)
    assert (info.value.clause, info.value.code) == ("R2.7オ", "permit_not_in_force")
    denied = permits.decide_permit(
        permit(world, "transfer", [a1], recipient=RECIPIENT, approve=False),
        acting_user=world.manager,
        approve=False,
        note="不要",
    )
    with pytest.raises(Forbidden):
        build(world, pc, denied, [a1], identity)
    other_kind = permit(world, "third_party", [a1], recipient=RECIPIENT)
    with pytest.raises(Forbidden) as info:
        build(world, pc, other_kind, [a1], identity)
    assert info.value.code == "wrong_permit"
    assert not TransferPackage.objects.exists()
    assert list(get_storage().keys("packages/")) == []


def test_the_permit_must_name_every_asset_and_the_recipient(world, setup, identity):
    pc, a1, a2 = setup
    p = permit(world, "transfer", [a1], recipient=RECIPIENT)
    with pytest.raises(Forbidden) as info:
        build(world, pc, p, [a1, a2], identity)
    assert info.value.code == "asset_not_covered"
    with pytest.raises(Forbidden) as info:
        build(world, pc, p, [a1], identity, recipient="別の会社")
    assert info.value.code == "recipient_mismatch"


def test_a_revoked_permit_builds_nothing(world, setup, identity):
    pc, a1, _a2 = setup
    p = permit(world, "transfer", [a1], recipient=RECIPIENT)
    permits.revoke_permit(p, acting_user=world.manager, note="中止")
    with pytest.raises(Forbidden):
        build(world, pc, p, [a1], identity)


def test_the_recipient_key_must_be_an_age_x25519_key(world, setup):
    pc, a1, _a2 = setup
    p = permit(world, "transfer", [a1], recipient=RECIPIENT)
    with pytest.raises(Invalid) as info:
        transfer.build_package(
            world.contract,
            acting_user=world.staff,
            device=pc.binding,
            permit=p,
            assets=[a1],
            recipient=RECIPIENT,
            recipient_key="ssh-ed25519 AAAA",
        )
    assert info.value.code == "bad_recipient_key"


def test_a_package_opens_with_the_stock_age_and_tar_tools(world, setup, identity, tmp_path):
    age = require_tool("age")
    pc, a1, a2 = setup
    p = permit(world, "transfer", [a1, a2], recipient=RECIPIENT)
    package = build(world, pc, p, [a1, a2], identity)
    blob = package_bytes(package)
    assert blob.startswith(b"age-encryption.org/v1\n")
    assert hashlib.sha256(blob).hexdigest() == package.sha256 and len(blob) == package.size
    (tmp_path / "key.txt").write_text(str(identity) + "\n")
    (tmp_path / "package.age").write_bytes(blob)
    plain = subprocess.run(
        [age, "-d", "-i", str(tmp_path / "key.txt"), str(tmp_path / "package.age")],
        capture_output=True,
        check=True,
    ).stdout
    listing = subprocess.run(["tar", "-t"], input=plain, capture_output=True, check=True).stdout.decode()
    assert listing.splitlines() == [
        "manifest.json",
        "SHA256SUMS",
        f"files/{a1.ref}/報告書.pdf",
        f"files/{a2.ref}/photo 001.jpg",
    ]
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["tar", "-x", "-C", str(out)], input=plain, check=True)
    assert (out / "files" / a1.ref / "報告書.pdf").read_bytes() == b"report v2 " * 5000
    assert (out / "files" / a2.ref / "photo 001.jpg").read_bytes() == bytes(range(256)) * 300
    subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=out, check=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["permit"]["id"] == p.pk and manifest["recipient"] == RECIPIENT
    assert [(f["ref"], f["version"]) for f in manifest["files"]] == [(a1.ref, 2), (a2.ref, 1)]


def test_a_package_opens_with_pyrage_and_the_wrong_identity_opens_nothing(world, setup, identity):
    pc, a1, _a2 = setup
    p = permit(world, "transfer", [a1], recipient=RECIPIENT)
    blob = package_bytes(build(world, pc, p, [a1], identity))
    with tarfile.open(fileobj=io.BytesIO(pyrage.decrypt(blob, [identity]))) as tar:
        assert tar.getnames()[0] == "manifest.json"
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(blob, [pyrage.x25519.Identity.generate()])
    assert b"report v2" not in blob


def test_building_uses_the_permit_and_puts_the_assets_in_transit_until_receipt(
    world, setup, identity, django_capture_on_commit_callbacks
):
    pc, a1, _a2 = setup
    p = permit(world, "transfer", [a1], recipient=RECIPIENT)
    package = build(world, pc, p, [a1], identity)
    p.refresh_from_db()
    a1.refresh_from_db()
    assert p.state == PermitState.USED
    assert PermitUse.objects.filter(permit=p, asset=a1).exists()
    assert a1.state == AssetState.IN_TRANSIT
    with pytest.raises(Forbidden):
        build(world, pc, p, [a1], identity)  # one permit, one package
    with pytest.raises(Conflict):
        transfer.confirm_receipt(package, acting_user=world.sub_staff, sha256="0" * 64)
    with django_capture_on_commit_callbacks(execute=True):
        done = transfer.confirm_receipt(
            package, acting_user=world.sub_staff, sha256=package.sha256, note="受領"
        )
    a1.refresh_from_db()
    assert done.state == TransferState.RECEIVED and a1.state == AssetState.HELD
    assert not get_storage().exists(package.storage_key), "the stored package goes once received"
    with pytest.raises(Conflict):
        transfer.confirm_receipt(package, acting_user=world.sub_staff, sha256=package.sha256)


def test_a_physical_transfer_needs_an_approved_encrypted_medium(world, setup, identity):
    pc, a1, _a2 = setup
    p = permit(world, "transfer", [a1], recipient=RECIPIENT)
    plain_usb = devices.register_medium(
        world.contract,
        acting_user=world.manager,
        label="USB-平文",
        kind="usb",
        security_function="none",
        serial_number="SN-1",
    )
    with pytest.raises(Forbidden) as info:
        build(world, pc, p, [a1], identity, medium=plain_usb)
    assert info.value.clause == "R2.7エ"
    secure = devices.register_medium(
        world.contract,
        acting_user=world.manager,
        label="USB-暗号化",
        kind="usb",
        security_function="hardware_encryption",
        serial_number="SN-2",
    )
    with pytest.raises(Forbidden) as info:
        build(world, pc, p, [a1], identity, medium=secure)
    assert info.value.clause == "R2.7エ", "registered but not approved"
    devices.approve_medium(secure, acting_user=world.manager)
    package = build(world, pc, p, [a1], identity, medium=secure)
    assert package.medium == secure and package.manifest["medium"]["label"] == "USB-暗号化"


def test_building_needs_an_approved_device(world, setup, identity):
    _pc, a1, _a2 = setup
    p = permit(world, "transfer", [a1], recipient=RECIPIENT)
    with pytest.raises(Forbidden) as info:
        transfer.build_package(
            world.contract,
            acting_user=world.staff,
            device=None,
            permit=p,
            assets=[a1],
            recipient=RECIPIENT,
            recipient_key=str(identity.to_public()),
        )
    assert info.value.clause == "R2.7ア"


def test_a_damaged_blob_builds_no_package(world, setup, identity):
    pc, a1, _a2 = setup
    obj = a1.versions.order_by("-version").first()
    path = get_storage().root / obj.storage_key  # type: ignore[attr-defined]
    data = bytearray(path.read_bytes())
    data[-3] ^= 1
    path.write_bytes(bytes(data))
    p = permit(world, "transfer", [a1], recipient=RECIPIENT)
    from sekisho.vault.services import VaultDamaged

    with pytest.raises(VaultDamaged):
        build(world, pc, p, [a1], identity)
    assert not TransferPackage.objects.exists()
    storage = get_storage()
    assert list(storage.keys("packages/")) == [] and list(storage.partials()) == []
