"""Uploads that try something: a path in the file name, a zip bomb, a body larger than allowed. Each is
refused (or, for a name, reduced to a plain name) with the error contract, never a 5xx, and nothing lands
outside the vault."""

from __future__ import annotations

import io
import json
import zipfile
from urllib.parse import quote

import pytest
from django.test import Client

from sekisho.core.auth import issue_api_token
from sekisho.ledger.models import Asset

pytestmark = pytest.mark.django_db

TRAVERSALS = ["../../../../etc/passwd", "..\\..\\windows\\system32\\evil.dll", "/etc/shadow", "a/../../b.txt"]


@pytest.fixture
def vault(settings, tmp_path):
    settings.VAULT_DIR = tmp_path / "vault"
    settings.SEKISHO_VAULT_KEY_DIR = tmp_path / "keys"
    settings.SEKISHO_MASTER_KEY_FILE = tmp_path / "master.key"
    settings.SEKISHO_VAULT_KEY_BACKUPS = []
    settings.SEKISHO_VAULT_BACKEND = "filesystem"
    return tmp_path


def _api(user) -> Client:
    _token, text = issue_api_token(user, acting_user=user, name="uploads")
    return Client(raise_request_exception=False, headers={"Authorization": f"Bearer {text}"})


@pytest.mark.parametrize("name", TRAVERSALS)
def test_a_path_in_the_vault_file_name_is_reduced_to_a_plain_name(world, vault, name):
    from tests.vault.helpers import bound_client, electronic_asset, make_pc

    pc = make_pc(world)
    asset = electronic_asset(world)
    client = bound_client(world.staff, pc)
    response = client.put(
        f"/api/v1/contracts/{world.contract.pk}/assets/{asset.pk}/content",
        data=b"survey data",
        content_type="application/octet-stream",
        HTTP_X_SEKISHO_FILENAME=quote(name),
    )
    assert response.status_code == 201, response.content
    stored = response.json()["filename"]
    assert "/" not in stored and "\\" not in stored and not stored.startswith("."), stored
    files = [p for p in vault.rglob("*") if p.is_file()]
    assert files and all(p.is_relative_to(vault) for p in files)
    assert not any(p.name in ("passwd", "shadow", "evil.dll", "b.txt") for p in files)


@pytest.mark.parametrize("name", TRAVERSALS)
def test_a_path_in_the_import_file_name_writes_nothing_anywhere(world, tmp_path, name):
    body = "名称,媒体,由来,受領・作成日,管理者,保管場所の種別,数量\n図面,紙,発注者から貸与・提供,2026/07/01,staff,書庫・保管室,1\n"
    upload = io.BytesIO(body.encode())
    upload.name = name
    response = _api(world.manager).post(
        f"/api/v1/contracts/{world.contract.pk}/assets/import", {"file": upload}
    )
    assert response.status_code in (201, 422), response.content
    assert not (tmp_path / "etc").exists()


def _zip_bomb(size: int = 96 << 20) -> bytes:
    """An .xlsx-looking zip whose sheet inflates ~1000 times: far past the importer's ratio limit."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            block = b" " * (1 << 20)
            for _ in range(size >> 20):
                part.write(block)
    return out.getvalue()


def test_a_zip_bomb_is_refused_before_it_is_inflated(world):
    bomb = _zip_bomb()
    assert len(bomb) < 1 << 20
    upload = io.BytesIO(bomb)
    upload.name = "ledger.xlsx"
    before = Asset.objects.count()
    response = _api(world.manager).post(
        f"/api/v1/contracts/{world.contract.pk}/assets/import", {"file": upload}
    )
    assert response.status_code == 422, response.content
    assert response.json()["error"] == "import_file_invalid"
    assert Asset.objects.count() == before


def test_an_import_larger_than_the_cap_is_refused_by_name(world, settings):
    settings.SEKISHO_IMPORT_MAX_BYTES = 64 * 1024
    upload = io.BytesIO(b"a,b\n" * (40 * 1024))
    upload.name = "ledger.csv"
    response = _api(world.manager).post(
        f"/api/v1/contracts/{world.contract.pk}/assets/import", {"file": upload}
    )
    assert response.status_code == 422, response.content
    assert response.json()["error"] == "import_file_invalid"
    assert "大きすぎます" in response.json()["message"]


def test_a_json_body_larger_than_allowed_is_refused_not_a_5xx(world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    body = json.dumps({"title": "x" * (128 * 1024), "medium": "paper"})
    response = _api(world.manager).post(
        f"/api/v1/contracts/{world.contract.pk}/assets", data=body, content_type="application/json"
    )
    assert 400 <= response.status_code < 500, response.status_code
    assert response.status_code in (400, 413)


def test_a_form_body_larger_than_allowed_is_refused_not_a_5xx(world, settings):
    from tests.conftest import verified_client

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    client = verified_client(world.manager)
    client.raise_request_exception = False
    response = client.post(f"/contracts/{world.contract.pk}/ledger/new/", {"title": "x" * (128 * 1024)})
    assert 400 <= response.status_code < 500, response.status_code
