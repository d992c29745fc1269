"""Putting and getting content through the services, on both storage backends."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from sekisho.audit.models import AuditEvent
from sekisho.core.errors import Conflict, Forbidden, Invalid, NotFound
from sekisho.devices import services as devices
from sekisho.devices.policy import DeviceRefused
from sekisho.vault import services
from sekisho.vault.models import VaultObject
from sekisho.vault.storage import get_storage

from .helpers import electronic_asset, get, make_pc, paper_asset, put

pytestmark = pytest.mark.django_db


def files_under(path) -> list:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def test_put_and_get_round_trip_on_each_backend(world, backend):
    pc = make_pc(world)
    asset = electronic_asset(world)
    data = os.urandom(50_000)
    obj = put(asset, world.staff, pc, data, filename="調査報告書.pdf")
    assert (obj.version, obj.size, obj.backend) == (1, len(data), backend)
    assert obj.sha256 == hashlib.sha256(data).hexdigest()
    assert obj.filename == "調査報告書.pdf"
    assert obj.device == pc.device
    assert get(asset, world.staff, pc) == data
    assert get_storage(backend).size(obj.storage_key) == obj.stored_size
    event = AuditEvent.objects.filter(action="vault.upload").get()
    assert event.summary["sha256"] == obj.sha256 and event.summary["device"] == str(pc.device.uid)


def test_large_object_uses_multipart_upload_on_s3(world, s3_settings):
    s3_settings.SEKISHO_VAULT_SEGMENT_SIZE = 1 << 20
    pc = make_pc(world)
    asset = electronic_asset(world)
    data = os.urandom(12 << 20)  # three 5 MiB parts
    obj = put(asset, world.staff, pc, data)
    assert get(asset, world.staff, pc) == data
    storage = get_storage("s3")
    head = storage.client.head_object(Bucket=storage.bucket, Key=obj.storage_key)
    assert head["ETag"].strip('"').endswith("-3"), "a multipart object's ETag ends with its part count"


def test_a_new_upload_is_a_new_version_and_old_versions_stay_readable(world):
    pc = make_pc(world)
    asset = electronic_asset(world)
    put(asset, world.staff, pc, b"first draft")
    second = put(asset, world.manager, make_pc(world, world.manager, name="MGR-PC", tag="V-002"), b"final")
    assert second.version == 2
    assert get(asset, world.staff, pc) == b"final"
    assert get(asset, world.staff, pc, version=1) == b"first draft"
    with pytest.raises(NotFound):
        get(asset, world.staff, pc, version=3)


def test_the_stored_blob_is_ciphertext(world, vault_dirs):
    pc = make_pc(world)
    marker = b"KURASHIKI-PERSONAL-DATA-" * 1000
    put(electronic_asset(world), world.staff, pc, marker)
    blobs = files_under(vault_dirs / "vault")
    assert len(blobs) == 1
    assert b"KURASHIKI-PERSONAL-DATA" not in blobs[0].read_bytes()


def test_upload_without_an_approved_device_is_refused_with_r27a(world):
    asset = electronic_asset(world)
    with pytest.raises(DeviceRefused) as info:
        services.upload_version(
            asset, acting_user=world.staff, device=None, read=io.BytesIO(b"x").read, length=1, filename="a"
        )
    assert info.value.clause == "R2.7ア"
    assert not VaultObject.objects.exists()


def test_a_device_failing_its_posture_loses_access(world):
    pc = make_pc(world, healthy=False)
    with pytest.raises(DeviceRefused) as info:
        put(electronic_asset(world), world.staff, pc, b"x")
    assert info.value.clause == "R2.7イ"


def test_a_revoked_device_can_no_longer_get_content(world):
    pc = make_pc(world)
    asset = electronic_asset(world)
    put(asset, world.staff, pc, b"x")
    devices.revoke_device(pc.device, acting_user=world.manager, reason="異動")
    with pytest.raises(DeviceRefused) as info:
        get(asset, world.staff, pc)
    assert info.value.clause == "R2.7ア"


@pytest.mark.parametrize("persona", ["orderer", "auditor"])
def test_the_orderer_side_cannot_put_or_get_content(world, persona):
    pc = make_pc(world)
    asset = electronic_asset(world)
    put(asset, world.staff, pc, b"x")
    user = getattr(world, persona)
    with pytest.raises(Forbidden):
        put(asset, user, pc, b"y")
    with pytest.raises(Forbidden):
        get(asset, user, pc)


def test_outsiders_learn_nothing(world):
    pc = make_pc(world)
    asset = electronic_asset(world)
    with pytest.raises(NotFound):
        put(asset, world.outsider, pc, b"y")


def test_paper_assets_cannot_hold_vault_content(world):
    with pytest.raises(Invalid) as info:
        put(paper_asset(world), world.staff, make_pc(world), b"scan")
    assert info.value.clause == "R2.6.2イ"


def test_only_assets_kept_in_the_vault_take_content(world):
    asset = electronic_asset(world, important=False, location="device")
    with pytest.raises(Conflict) as info:
        put(asset, world.staff, make_pc(world), b"x")
    assert info.value.clause == "R2.7ウ"


class Disconnects:
    """A client that sends part of the body and goes away."""

    def __init__(self, data: bytes, after: int, how: str) -> None:
        self.stream = io.BytesIO(data[:after])
        self.how = how

    def read(self, n: int) -> bytes:
        chunk = self.stream.read(n)
        if not chunk and self.how == "error":
            raise OSError("connection reset by peer")
        return chunk


@pytest.mark.parametrize("how", ["short_body", "error"])
def test_an_interrupted_upload_leaves_no_version_and_no_file(world, vault_dirs, backend, how):
    pc = make_pc(world)
    asset = electronic_asset(world)
    data = os.urandom(100_000)
    with pytest.raises(services.UploadInterrupted):
        services.upload_version(
            asset,
            acting_user=world.staff,
            device=pc.binding,
            read=Disconnects(data, 30_000, how).read,
            length=len(data),
            filename="a.bin",
        )
    assert not VaultObject.objects.exists()
    assert not AuditEvent.objects.filter(action="vault.upload").exists()
    assert files_under(vault_dirs / "vault") == []
    storage = get_storage(backend)
    assert list(storage.keys()) == [] and list(storage.partials()) == []


def test_a_sha256_the_sender_states_must_match(world, vault_dirs):
    pc = make_pc(world)
    with pytest.raises(Invalid) as info:
        services.upload_version(
            electronic_asset(world),
            acting_user=world.staff,
            device=pc.binding,
            read=io.BytesIO(b"abc").read,
            length=3,
            filename="a",
            expected_sha256="0" * 64,
        )
    assert info.value.code == "sha256_mismatch"
    assert not VaultObject.objects.exists() and files_under(vault_dirs / "vault") == []


def test_a_damaged_blob_is_refused_before_any_plaintext(world, vault_dirs):
    pc = make_pc(world)
    asset = electronic_asset(world)
    obj = put(asset, world.staff, pc, os.urandom(3000))
    blob = get_storage().root / obj.storage_key  # type: ignore[attr-defined]
    damaged = bytearray(blob.read_bytes())
    damaged[-5] ^= 1
    blob.write_bytes(bytes(damaged))
    with pytest.raises(services.VaultDamaged):
        services.open_version(asset, acting_user=world.staff, device=pc.binding)


def test_damage_past_the_first_segments_stops_the_stream_before_the_damaged_segment(world, vault_dirs):
    pc = make_pc(world)
    asset = electronic_asset(world)
    data = os.urandom(10 * 4096 + 100)
    obj = put(asset, world.staff, pc, data)
    blob = get_storage().root / obj.storage_key  # type: ignore[attr-defined]
    damaged = bytearray(blob.read_bytes())
    header = len(damaged) - obj.stored_size + (obj.stored_size - 11 * 16 - len(data))
    damaged[header + 6 * (4096 + 16) + 1] ^= 1  # inside segment 6
    blob.write_bytes(bytes(damaged))
    download = services.open_version(asset, acting_user=world.staff, device=pc.binding)
    got = []
    with pytest.raises(services.VaultDamaged):
        for chunk in download.chunks:
            got.append(chunk)
    assert b"".join(got) == data[: 5 * 4096], "segments 0-4 only: segment 5 is held back, 6 is damaged"
