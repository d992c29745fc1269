"""The vault's browser pages: they show the device binding, offer content actions only on a bound session,
and build and confirm transfer packages through the services."""

from __future__ import annotations

import pyrage
import pytest

from sekisho.vault.models import TransferPackage, TransferState

from .helpers import bound_client, electronic_asset, make_pc, permit, put

pytestmark = pytest.mark.django_db


def test_the_vault_page_lists_content_and_offers_upload_only_on_a_bound_session(world, client_for):
    pc = make_pc(world)
    asset = electronic_asset(world)
    put(asset, world.staff, pc, b"content", filename="報告書.pdf")
    url = f"/contracts/{world.contract.pk}/vault/"
    unbound = client_for("staff").get(url)
    assert unbound.status_code == 200
    page = unbound.content.decode()
    assert "報告書.pdf" in page and "sekisho agent open" in page
    assert 'class="inline-form vault-upload"' not in page
    bound = bound_client(world.staff, pc).get(url).content.decode()
    assert 'class="inline-form vault-upload"' in bound
    assert f"/api/v1/contracts/{world.contract.pk}/assets/{asset.pk}/content" in bound
    assert "<script>" not in bound, "no inline script: the CSP allows none"


def test_outsiders_get_404_and_the_orderer_sees_no_actions(world, client_for):
    pc = make_pc(world)
    put(electronic_asset(world), world.staff, pc, b"content")
    url = f"/contracts/{world.contract.pk}/vault/"
    assert client_for("outsider").get(url).status_code == 404
    page = client_for("orderer").get(url).content.decode()
    assert "vault-upload" not in page.replace("vault/vault.js", "")


def test_a_package_is_built_and_received_from_the_pages(world):
    pc = make_pc(world)
    asset = electronic_asset(world)
    put(asset, world.staff, pc, b"for the surveyor")
    p = permit(world, "transfer", [asset], recipient="測量会社")
    client = bound_client(world.staff, pc)
    url = f"/contracts/{world.contract.pk}/vault/transfers/"
    key = str(pyrage.x25519.Identity.generate().to_public())
    response = client.post(url, {"permit": p.pk, "recipient_key": key})
    assert response.status_code == 302, response.content.decode()
    package = TransferPackage.objects.get()
    assert package.recipient == "測量会社" and package.recipient_key == key
    wrong = client.post(f"{url}{package.pk}/receipt/", {"sha256": "0" * 64})
    assert wrong.status_code == 409
    ok = client.post(f"{url}{package.pk}/receipt/", {"sha256": package.sha256, "note": "受領"})
    assert ok.status_code == 302
    package.refresh_from_db()
    assert package.state == TransferState.RECEIVED


def test_building_without_a_bound_device_is_refused_with_the_clause(world, client_for):
    pc = make_pc(world)
    asset = electronic_asset(world)
    put(asset, world.staff, pc, b"x")
    p = permit(world, "transfer", [asset], recipient="測量会社")
    key = str(pyrage.x25519.Identity.generate().to_public())
    response = client_for("staff").post(
        f"/contracts/{world.contract.pk}/vault/transfers/", {"permit": p.pk, "recipient_key": key}
    )
    assert response.status_code == 403
    assert "R2.7ア" in response.content.decode()
    assert not TransferPackage.objects.exists()
