"""/api/v1/audit: who gets what on every endpoint, and proofs that a client checks with nothing but the
public key and the signed heads."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from sekisho.audit import keys, merkle, services, signing
from sekisho.audit.models import PinnedHead, TreeHead
from sekisho.audit.verify import verify_export
from sekisho.core.auth import issue_api_token

from .conftest import grow

pytestmark = pytest.mark.django_db

MEMBERS = ("orderer", "manager", "staff", "sub_staff", "auditor")
READERS = ("orderer", "manager", "auditor")


def _client(user) -> Client:
    _token, text = issue_api_token(user, acting_user=user, name="test")
    return Client(headers={"Authorization": f"Bearer {text}"})


def _call(client: Client, method: str, url: str, body: Any = None):
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


class Ctx:
    def __init__(self, world) -> None:
        self.contract = world.contract
        self.head = services.sign_tree_head(world.contract, acting_user=world.orderer)


def _expect(status: int, allowed: tuple[str, ...]) -> dict[str, int]:
    return {p: status if p in allowed else 403 for p in MEMBERS}


BASE = "/api/v1/audit/contracts/{contract_id}"
MATRIX: dict[tuple[str, str], tuple[Callable[[Ctx], Any], str, dict[str, int]]] = {
    ("get", BASE + "/tree-heads"): (lambda c: None, "", _expect(200, READERS)),
    ("post", BASE + "/tree-heads"): (lambda c: {"reason": "inspection"}, "", _expect(201, READERS)),
    ("get", BASE + "/tree-heads/{tree_head_id}"): (lambda c: None, "", _expect(200, READERS)),
    ("get", BASE + "/proofs/inclusion"): (lambda c: None, "?index=0", _expect(200, READERS)),
    ("get", BASE + "/proofs/consistency"): (lambda c: None, "?first=1", _expect(200, READERS)),
    ("get", BASE + "/pins"): (lambda c: None, "", _expect(200, READERS)),
    ("post", BASE + "/pins"): (lambda c: {"tree_head_id": c.head.pk}, "", _expect(201, ("orderer",))),
    ("get", BASE + "/witness"): (lambda c: None, "", _expect(200, READERS)),
    ("post", BASE + "/export"): (lambda c: None, "", _expect(200, READERS)),
}
ROWS = list(MATRIX)


def _url(ctx: Ctx, key: tuple[str, str]) -> str:
    _body, query, _ = MATRIX[key]
    return key[1].format(contract_id=ctx.contract.pk, tree_head_id=ctx.head.pk) + query


def test_every_audit_contract_endpoint_has_a_row(world):
    from sekisho.api.main import api

    paths = api.get_openapi_schema()["paths"]
    routes = {
        (method, path)
        for path, ops in paths.items()
        if path.startswith("/api/v1/audit/contracts/{contract_id}")
        for method in ops
    }
    assert routes == set(MATRIX)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r[0]} {r[1]}")
@pytest.mark.parametrize("persona", MEMBERS)
def test_members_get_what_their_role_allows(world, row, persona):
    ctx = Ctx(world)
    body, _query, expected = MATRIX[row]
    response = _call(_client(getattr(world, persona)), row[0], _url(ctx, row), body(ctx))
    assert response.status_code == expected[persona], response.content
    if response.status_code == 403:
        assert response.json()["error"] == "forbidden"


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r[0]} {r[1]}")
def test_outsider_gets_404_on_every_audit_contract_endpoint(world, row):
    ctx = Ctx(world)
    body, _query, _ = MATRIX[row]
    response = _call(_client(world.outsider), row[0], _url(ctx, row), body(ctx))
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "clause": None, "message": "見つかりません。"}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r[0]} {r[1]}")
def test_anonymous_gets_401_on_every_audit_contract_endpoint(world, row):
    ctx = Ctx(world)
    body, _query, _ = MATRIX[row]
    assert _call(Client(), row[0], _url(ctx, row), body(ctx)).status_code == 401


def test_public_key_is_downloadable_by_any_signed_in_user_but_not_anonymously(world):
    response = _client(world.outsider).get("/api/v1/audit/public-key")
    assert response.status_code == 200
    data = response.json()
    assert data["key_id"] == keys.key_id()
    assert signing.key_id(signing.load_public_key(data["base64"])) == keys.key_id()
    pem = _client(world.staff).get("/api/v1/audit/public-key.pem")
    assert pem.status_code == 200 and "attachment" in pem["Content-Disposition"]
    assert signing.key_id(signing.load_public_key(pem.content)) == keys.key_id()
    assert Client().get("/api/v1/audit/public-key").status_code == 401


def _public_key(client: Client):
    return signing.load_public_key(client.get("/api/v1/audit/public-key").json()["base64"])


def test_inclusion_proof_checks_out_against_the_signed_head_with_only_the_public_key(world):
    grow(world.contract, world.manager, 37)
    head = services.sign_tree_head(world.contract, acting_user=world.orderer)
    client = _client(world.auditor)
    public_key = _public_key(client)
    for index in (0, 17, head.size - 1):
        url = f"/api/v1/audit/contracts/{world.contract.pk}/proofs/inclusion?index={index}"
        data = client.get(url).json()
        sth = signing.TreeHead.from_dict(data["tree_head"])
        assert signing.signature_is_valid(sth, public_key)
        leaf = merkle.leaf_hash(data["event"].encode("utf-8"))
        assert leaf.hex() == data["leaf_hash"]
        merkle.verify_inclusion(
            index, sth.size, leaf, [bytes.fromhex(h) for h in data["proof"]], bytes.fromhex(sth.root_hash)
        )


def test_consistency_proof_between_two_signed_heads_checks_out(world):
    first = services.sign_tree_head(world.contract, acting_user=world.orderer)
    grow(world.contract, world.manager, 21)
    services.sign_tree_head(world.contract, acting_user=world.orderer)
    client = _client(world.orderer)
    data = client.get(
        f"/api/v1/audit/contracts/{world.contract.pk}/proofs/consistency?first={first.size}"
    ).json()
    public_key = _public_key(client)
    one = signing.TreeHead.from_dict(data["first_tree_head"])
    two = signing.TreeHead.from_dict(data["second_tree_head"])
    assert signing.signature_is_valid(one, public_key) and signing.signature_is_valid(two, public_key)
    merkle.verify_consistency(
        one.size,
        two.size,
        bytes.fromhex(one.root_hash),
        bytes.fromhex(two.root_hash),
        [bytes.fromhex(h) for h in data["proof"]],
    )


def test_proofs_before_any_signed_head_or_beyond_the_log_are_refused(world):
    client = _client(world.orderer)
    url = f"/api/v1/audit/contracts/{world.contract.pk}/proofs/inclusion"
    response = client.get(url + "?index=0")
    assert response.status_code == 409
    assert response.json()["error"] == "no_tree_head"
    assert client.get(url + "?index=0&tree_size=100000").status_code == 422
    assert client.get(url + "?index=5&tree_size=3").status_code == 422


def test_tree_head_of_another_contract_is_404_via_own_contract_url(world):
    other = services.sign_tree_head(world.other_contract, acting_user=world.outsider)
    response = _client(world.orderer).get(
        f"/api/v1/audit/contracts/{world.contract.pk}/tree-heads/{other.pk}"
    )
    assert response.status_code == 404
    response = _call(
        _client(world.orderer),
        "post",
        f"/api/v1/audit/contracts/{world.contract.pk}/pins",
        {"tree_head_id": other.pk},
    )
    assert response.status_code == 404


def test_orderer_pins_a_head_saved_as_json_and_the_witness_proves_it(world):
    client = _client(world.orderer)
    created = _call(
        client, "post", f"/api/v1/audit/contracts/{world.contract.pk}/tree-heads", {"note": "月次"}
    )
    saved = created.json()  # what the orderer keeps on their side
    grow(world.contract, world.manager, 18)
    services.sign_tree_head(world.contract, acting_user=world.manager)
    pinned = _call(client, "post", f"/api/v1/audit/contracts/{world.contract.pk}/pins", {"tree_head": saved})
    assert pinned.status_code == 201, pinned.content
    assert pinned.json()["ok"] is True
    witness = client.get(f"/api/v1/audit/contracts/{world.contract.pk}/witness").json()
    assert witness["ok"] is True and witness["failures"] == []
    status = witness["pins"][0]
    current = witness["current"]
    merkle.verify_consistency(
        status["pin"]["size"],
        current["size"],
        bytes.fromhex(status["pin"]["root_hash"]),
        bytes.fromhex(current["root_hash"]),
        [bytes.fromhex(h) for h in status["proof"]],
    )


def test_pinning_a_forged_or_malformed_head_is_refused(world):
    client = _client(world.orderer)
    url = f"/api/v1/audit/contracts/{world.contract.pk}/pins"
    head = services.sign_tree_head(world.contract, acting_user=world.orderer).signed().to_dict()
    head["root_hash"] = "00" * 32
    response = _call(client, "post", url, {"tree_head": head})
    assert response.status_code == 422
    assert response.json()["error"] == "bad_signature"
    head["root_hash"] = "not hex"
    assert _call(client, "post", url, {"tree_head": head}).json()["error"] == "bad_tree_head"
    assert _call(client, "post", url, {}).status_code == 422
    assert not PinnedHead.objects.exists()


def test_witness_shows_a_rewritten_history_loudly(world):
    client = _client(world.orderer)
    seen = signing.sign(
        signing.TreeHead(f"contract:{world.contract.pk}", 4, "42" * 32, "ab" * 32, int(time.time() * 1000)),
        keys.signing_key(),
    )
    pinned = _call(
        client, "post", f"/api/v1/audit/contracts/{world.contract.pk}/pins", {"tree_head": seen.to_dict()}
    )
    assert pinned.status_code == 201
    assert pinned.json()["ok"] is False
    witness = client.get(f"/api/v1/audit/contracts/{world.contract.pk}/witness").json()
    assert witness["ok"] is False
    assert "履歴が書き換えられた" in witness["failures"][0]


def test_export_through_the_api_verifies_offline_with_the_downloaded_key(world, tmp_path):
    client = _client(world.auditor)
    response = client.post(f"/api/v1/audit/contracts/{world.contract.pk}/export")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="sekisho-audit-contract-')
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"".join(response.streaming_content))
    report = verify_export(path, public_key=_public_key(client))
    assert report.ok, report.problems
    head = TreeHead.objects.get(reason="export")
    assert (head.requested_by, report.signed_size) == (world.auditor, head.size)
