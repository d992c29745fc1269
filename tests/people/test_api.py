"""The people API: the same steps and refusals as the pages, as JSON."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from sekisho.core.auth import issue_api_token
from sekisho.people.models import Programme

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    _token, text = issue_api_token(user, acting_user=user, name="t")
    return Client(headers={"Authorization": f"Bearer {text}"})


def _post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_a_new_member_learns_what_is_missing_then_acknowledges_through_the_api(world, listed):
    user, entry = listed()
    api = _client(user)
    base = f"/api/v1/contracts/{world.contract.pk}"
    status = api.get(f"{base}/people/clearance").json()
    programme = Programme.objects.get(contract=world.contract)
    assert status == {
        "cleared": False,
        "error": "training_required",
        "clause": "R2.4.1",
        "message": status["message"],
        "missing_programmes": [programme.pk],
        "personal_info": True,
    }
    [listed_programme] = api.get(f"{base}/people/training").json()
    assert listed_programme["content_sha256"] == programme.current_version.content_sha256
    response = _post(
        api,
        f"{base}/people/training/{programme.pk}/acknowledge",
        {"typed_name": entry.name, "version_id": listed_programme["version_id"]},
    )
    assert response.status_code == 201, response.content
    assert response.json()["content_sha256"] == programme.current_version.content_sha256
    assert api.get(f"{base}/people/clearance").json()["cleared"] is True
    assert api.get(f"{base}/assets").status_code == 200


def test_the_manager_signs_the_pledge_and_the_orderer_downloads_it(world):
    base = f"/api/v1/contracts/{world.contract.pk}/people"
    response = _post(
        _client(world.manager),
        f"{base}/pledges",
        {
            "addressee": "倉敷市長",
            "representative": "代表取締役 某",
            "typed_name": world.manager.display_name,
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["current"] and body["verified"] and len(body["content_sha256"]) == 64
    pdf = _client(world.orderer).get(f"{base}/pledges/{body['version']}/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    versions = _client(world.auditor).get(f"{base}/pledges").json()
    assert [v["current"] for v in versions] == [True, False]


def test_a_wrong_signature_is_refused_with_the_clause(world):
    response = _post(
        _client(world.manager),
        f"/api/v1/contracts/{world.contract.pk}/people/pledges",
        {"addressee": "倉敷市長", "representative": "代表取締役 某", "typed_name": "代筆"},
    )
    assert response.status_code == 422
    assert response.json()["clause"] == "R2.6.1"
