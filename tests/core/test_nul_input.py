from __future__ import annotations

import json

import pytest
from django.test import Client

from sekisho.core.auth import issue_api_token

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    _token, text = issue_api_token(user, acting_user=user, name="t")
    return Client(headers={"Authorization": f"Bearer {text}"})


def test_nul_in_a_query_string_is_a_400_not_a_database_error(world):
    response = _client(world.staff).get(f"/api/v1/contracts/{world.contract.pk}/assets?medium=%00%11")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"


def test_nul_in_a_json_body_is_refused_and_writes_nothing(world):
    from sekisho.permits.models import Permit

    body = json.dumps(
        {
            "kind": "copy",
            "asset_ids": [],
            "reason": "a\u0000b",
            "valid_from": "2026-07-01",
            "valid_until": "2026-08-01",
        }
    )
    response = _client(world.staff).post(
        f"/api/v1/contracts/{world.contract.pk}/permits", data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert not Permit.objects.filter(reason__startswith="a").exists()


def test_ordinary_text_passes(world):
    response = _client(world.staff).get(f"/api/v1/contracts/{world.contract.pk}/assets?q=図面")
    assert response.status_code == 200
