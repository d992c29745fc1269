"""The vault over HTTP: raw streaming uploads from a device-bound session or with a ticket of a signed
client, streamed downloads, transfer packages and shredding through the API."""

from __future__ import annotations

import hashlib
import json
import os
from urllib.parse import quote

import pyrage
import pytest
from django.test import Client

from sekisho.core.auth import issue_api_token
from sekisho.vault.models import TransferPackage, VaultObject

from .helpers import bound_client, electronic_asset, make_pc, permit, signed_headers

pytestmark = pytest.mark.django_db


def base(world, asset) -> str:
    return f"/api/v1/contracts/{world.contract.pk}/assets/{asset.pk}"


def upload(client: Client, world, asset, data: bytes, name: str = "報告書.pdf", **extra):
    return client.put(
        f"{base(world, asset)}/content",
        data=data,
        content_type="application/octet-stream",
        HTTP_X_SEKISHO_FILENAME=quote(name),
        **extra,
    )


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def token_client(user) -> Client:
    _token, text = issue_api_token(user, acting_user=user, name="vault")
    return Client(headers={"Authorization": f"Bearer {text}"})


def test_device_bound_session_uploads_and_downloads(world):
    pc = make_pc(world)
    asset = electronic_asset(world)
    client = bound_client(world.staff, pc)
    data = os.urandom(30_000)
    response = upload(
        client, world, asset, data, HTTP_X_SEKISHO_CONTENT_SHA256=hashlib.sha256(data).hexdigest()
    )
    assert response.status_code == 201, response.content
    out = response.json()
    assert out["version"] == 1 and out["filename"] == "報告書.pdf" and out["size"] == len(data)
    assert out["device_uid"] == str(pc.device.uid)
    got = client.get(f"{base(world, asset)}/content")
    assert got.status_code == 200
    assert body(got) == data
    assert got["Content-Length"] == str(len(data))
    assert got["X-Sekisho-Content-SHA256"] == hashlib.sha256(data).hexdigest()
    assert "filename*=UTF-8''%E5%A0%B1%E5%91%8A%E6%9B%B8.pdf" in got["Content-Disposition"]
    assert got["Cache-Control"] == "no-store"
    listing = client.get(f"{base(world, asset)}/versions").json()
    assert [v["version"] for v in listing] == [1]


def test_a_session_without_a_device_binding_is_refused_with_the_clause(world, client_for):
    asset = electronic_asset(world)
    response = upload(client_for("staff"), world, asset, b"data")
    assert response.status_code == 403
    assert response.json()["clause"] == "R2.7ア"
    assert not VaultObject.objects.exists()


def test_upload_needs_a_content_length(world):
    pc = make_pc(world)
    asset = electronic_asset(world)
    client = bound_client(world.staff, pc)
    response = client.generic(
        "PUT",
        f"{base(world, asset)}/content",
        data=b"",
        content_type="application/octet-stream",
        CONTENT_LENGTH="",
    )
    assert response.status_code == 422
    assert response.json()["error"] == "length_required"


def test_a_signed_client_downloads_with_its_device_key(world):
    pc = make_pc(world)
    asset = electronic_asset(world)
    upload(bound_client(world.staff, pc), world, asset, b"signed download")
    client = token_client(world.staff)
    path = f"{base(world, asset)}/content"
    response = client.get(path, **signed_headers(pc, "GET", path))
    assert response.status_code == 200
    assert body(response) == b"signed download"
    unsigned = client.get(path)
    assert unsigned.status_code == 403 and unsigned.json()["clause"] == "R2.7ア"


def test_a_signed_client_uploads_a_large_file_with_a_ticket(world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000  # the body is streamed, never read into memory at once
    pc = make_pc(world)
    asset = electronic_asset(world)
    client = token_client(world.staff)
    path = f"{base(world, asset)}/content/ticket"
    ticket = client.post(path, data=b"", content_type="application/json", **signed_headers(pc, "POST", path))
    assert ticket.status_code == 200, ticket.content
    data = os.urandom(200_000)
    response = upload(
        client, world, asset, data, "big.bin", HTTP_X_SEKISHO_VAULT_TICKET=ticket.json()["ticket"]
    )
    assert response.status_code == 201, response.content
    assert VaultObject.objects.get().sha256 == hashlib.sha256(data).hexdigest()
    # The ticket is the staff member's, for this asset: useless to anyone else.
    other = electronic_asset(world, title="別")
    refused = upload(client, world, other, b"x", HTTP_X_SEKISHO_VAULT_TICKET=ticket.json()["ticket"])
    assert refused.status_code == 403 and refused.json()["clause"] == "R2.7ア"
    forged = upload(client, world, asset, b"x", HTTP_X_SEKISHO_VAULT_TICKET="forged:ticket")
    assert forged.status_code == 403


def test_a_damaged_object_gives_an_error_not_content(world, vault_dirs):
    pc = make_pc(world)
    asset = electronic_asset(world)
    client = bound_client(world.staff, pc)
    upload(client, world, asset, b"short file")
    obj = VaultObject.objects.get()
    path = vault_dirs / "vault" / obj.storage_key
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    response = client.get(f"{base(world, asset)}/content")
    assert response.status_code == 500
    assert response.json()["error"] == "vault_damaged"


def test_transfer_package_through_the_api(world):
    pc = make_pc(world)
    asset = electronic_asset(world)
    client = bound_client(world.staff, pc)
    upload(client, world, asset, b"to the subcontractor", "図面.dwg")
    identity = pyrage.x25519.Identity.generate()
    p = permit(world, "transfer", [asset], recipient="測量会社")
    url = f"/api/v1/contracts/{world.contract.pk}/transfers"
    request = {
        "permit_id": p.pk,
        "asset_ids": [asset.pk],
        "recipient": "測量会社",
        "recipient_key": str(identity.to_public()),
    }
    created = client.post(url, data=json.dumps(request), content_type="application/json")
    assert created.status_code == 201, created.content
    package = created.json()
    assert package["state"] == "built" and package["manifest"]["files"][0]["path"].endswith("図面.dwg")
    blob = body(client.get(f"{url}/{package['id']}/package"))
    assert hashlib.sha256(blob).hexdigest() == package["sha256"]
    assert b"to the subcontractor" in pyrage.decrypt(blob, [identity])
    again = client.post(url, data=json.dumps(request), content_type="application/json")
    assert again.status_code == 403 and again.json()["clause"] == "R2.7オ"
    receipt = client.post(
        f"{url}/{package['id']}/receipt",
        data=json.dumps({"sha256": package["sha256"], "note": "受領しました"}),
        content_type="application/json",
    )
    assert receipt.status_code == 200 and receipt.json()["state"] == "received"
    assert TransferPackage.objects.get().received_by == world.staff


def test_shredding_through_the_api(world):
    pc = make_pc(world)
    asset = electronic_asset(world)
    client = bound_client(world.staff, pc)
    upload(client, world, asset, b"to be destroyed")
    p = permit(world, "destruction", [asset])
    manager = bound_client(world.manager, make_pc(world, world.manager, name="MGR", tag="V-009"))
    response = manager.post(
        f"/api/v1/contracts/{world.contract.pk}/vault/shred",
        data=json.dumps({"permit_id": p.pk}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["objects_count"] == 1 and response.json()["key_store_locations"] == 3
    gone = client.get(f"{base(world, asset)}/content")
    assert gone.status_code == 409 and gone.json()["clause"] == "R2.5"
