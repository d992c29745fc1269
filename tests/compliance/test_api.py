"""The compliance API: findings (open, resolved, by clause), the state of every clause, an evaluation on
demand, and the orderer's profile. (Who gets which status is in tests/api/test_access_matrix.py.)"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from sekisho.compliance.profile import default_profile, shipped_profile_text
from sekisho.core.auth import issue_api_token
from sekisho.ledger.models import Asset, LocationKind

from .conftest import electronic, evaluate

pytestmark = pytest.mark.django_db


def api(user) -> Client:
    _token, text = issue_api_token(user, acting_user=user, name="test")
    return Client(headers={"Authorization": f"Bearer {text}"})


def base(world) -> str:
    return f"/api/v1/contracts/{world.contract.pk}/compliance"


@pytest.fixture
def misplaced(world):
    asset = electronic(world, title="劣化箇所の写真", important=True)
    Asset.objects.filter(pk=asset.pk).update(location_kind=LocationKind.DEVICE, location="PC")
    return asset


def test_evaluate_then_read_the_findings_and_the_clause_states(world, misplaced):
    client = api(world.manager)
    result = client.post(f"{base(world)}/evaluate")
    assert result.status_code == 200
    assert result.json()["opened"] == 1 and result.json()["open_by_severity"] == {"high": 1}
    page = client.get(f"{base(world)}/findings").json()
    assert page["count"] == 1
    finding = page["items"][0]
    assert (finding["clause"], finding["severity"], finding["rule"]) == (
        "R2.7ウ",
        "high",
        "important_outside_vault",
    )
    assert finding["rule_title"] == "重要情報の保管庫外での保管" and finding["resolved_at"] is None
    assert finding["evidence"]["location"] == "PC"
    states = client.get(f"{base(world)}/clauses").json()
    assert states["profile_key"] == "kurashiki" and states["evaluated_at"] is not None
    by_id = {c["id"]: c for c in states["clauses"]}
    assert list(by_id) == list(default_profile().clause_ids)
    assert (by_id["R2.7ウ"]["state"], by_id["R2.7ウ"]["high"]) == ("open", 1)
    assert by_id["R2.6.2イ"]["state"] == "open"
    assert by_id["P5"]["state"] == "ok" and by_id["R1.2"]["state"] == "not_evaluated"


def test_findings_filter_by_clause_and_by_state(world, misplaced):
    client = api(world.orderer)
    evaluate(world)
    assert client.get(f"{base(world)}/findings", {"clause": "R2.6.2イ"}).json()["count"] == 1
    assert client.get(f"{base(world)}/findings", {"clause": "P5"}).json()["count"] == 0
    Asset.objects.filter(pk=misplaced.pk).update(location_kind=LocationKind.VAULT)
    evaluate(world)
    assert client.get(f"{base(world)}/findings").json()["count"] == 0
    resolved = client.get(f"{base(world)}/findings", {"state": "resolved"}).json()
    assert resolved["count"] == 1 and resolved["items"][0]["resolved_at"] is not None
    assert client.get(f"{base(world)}/findings", {"state": "all"}).json()["count"] == 1
    assert client.get(f"{base(world)}/findings", {"state": "nonsense"}).status_code == 422


def test_staff_and_auditors_may_not_evaluate(world):
    for persona in ("staff", "auditor"):
        response = api(getattr(world, persona)).post(f"{base(world)}/evaluate")
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"
    assert api(world.outsider).post(f"{base(world)}/evaluate").json()["error"] == "not_found"


def test_the_orderer_loads_a_profile_and_everyone_reading_sees_it(world):
    body = json.dumps({"content": shipped_profile_text("mlit-standard")})
    response = api(world.orderer).post(f"{base(world)}/profile", data=body, content_type="application/json")
    assert response.status_code == 201
    loaded = response.json()
    assert (loaded["key"], loaded["loaded"], loaded["loaded_by"]) == ("mlit-standard", True, "orderer")
    seen = api(world.auditor).get(f"{base(world)}/profile").json()
    assert seen["key"] == "mlit-standard" and len(seen["clauses"]) == len(default_profile().clauses)
    other = f"/api/v1/contracts/{world.other_contract.pk}/compliance/profile"
    assert api(world.outsider).get(other).json()["key"] == "mlit-standard"  # same orderer, other contractor


def test_a_profile_is_refused_to_the_manager_and_a_broken_one_to_the_orderer(world):
    body = json.dumps({"content": shipped_profile_text("mlit-standard")})
    refused = api(world.manager).post(f"{base(world)}/profile", data=body, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["clause"] == "R2.1"
    broken = api(world.orderer).post(
        f"{base(world)}/profile", data=json.dumps({"content": 'key = "x"'}), content_type="application/json"
    )
    assert broken.status_code == 422 and broken.json()["error"] == "invalid_profile"
    assert api(world.orderer).get(f"{base(world)}/profile").json()["loaded"] is False
