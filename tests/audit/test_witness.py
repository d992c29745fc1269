"""The witness: heads the orderer pins, and Sekisho's proof that its log still extends every one of them."""

from __future__ import annotations

import logging
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sekisho.audit import keys, merkle, proofs, selectors, services, signing
from sekisho.audit.models import AuditEvent, PinnedHead
from sekisho.core.errors import Forbidden, Invalid, NotFound

from .conftest import grow

pytestmark = pytest.mark.django_db


def _forged_head(world, *, size: int, root: bytes, key=None) -> signing.TreeHead:
    """A head signed with the deployment key (or *key*) that need not match the log."""
    stream = selectors.contract_stream(world.contract)
    return signing.sign(
        signing.TreeHead(
            stream=stream.key,
            size=size,
            root_hash=root.hex(),
            head_hash="ab" * 32,
            timestamp_ms=int(time.time() * 1000),
        ),
        key or keys.signing_key(),
    )


def test_pinned_heads_are_proved_consistent_with_the_latest_head(world):
    first = services.sign_tree_head(world.contract, acting_user=world.orderer)
    services.pin_tree_head(world.contract, acting_user=world.orderer, head=first.signed(), note="着手時")
    grow(world.contract, world.manager, 30)
    second = services.sign_tree_head(world.contract, acting_user=world.manager)
    services.pin_tree_head(world.contract, acting_user=world.orderer, head=second.signed())
    grow(world.contract, world.staff, 3)
    latest = services.sign_tree_head(world.contract, acting_user=world.auditor)
    report = proofs.witness(selectors.contract_stream(world.contract))
    assert report.ok and report.failures == []
    assert report.current == latest
    for status in report.pins:
        # The orderer can check each proof with nothing but the two signed roots.
        merkle.verify_consistency(
            status.pin.size,
            latest.size,
            bytes.fromhex(status.pin.root_hash),
            bytes.fromhex(latest.root_hash),
            status.proof,
        )


def test_pinning_is_an_audit_event_of_the_contract(world):
    head = services.sign_tree_head(world.contract, acting_user=world.orderer)
    pin = services.pin_tree_head(world.contract, acting_user=world.orderer, head=head.signed(), note="確認済")
    event = AuditEvent.objects.filter(contract=world.contract).latest("index")
    assert (event.action, event.actor) == ("audit.pin", world.orderer)
    assert event.summary == {
        "size": head.size,
        "root_hash": head.root_hash,
        "timestamp_ms": head.timestamp_ms,
        "note": "確認済",
    }
    assert (pin.size, pin.root_hash, pin.signature, pin.pinned_by) == (
        head.size,
        head.root_hash,
        head.signature,
        world.orderer,
    )


@pytest.mark.parametrize(
    ("persona", "error"),
    [("manager", Forbidden), ("auditor", Forbidden), ("staff", Forbidden), ("outsider", NotFound)],
)
def test_only_the_orderer_pins(world, persona, error):
    head = services.sign_tree_head(world.contract, acting_user=world.orderer)
    with pytest.raises(error):
        services.pin_tree_head(world.contract, acting_user=getattr(world, persona), head=head.signed())
    assert not PinnedHead.objects.exists()


def test_a_head_not_signed_by_this_deployment_is_refused(world):
    stream = selectors.contract_stream(world.contract)
    impostor = _forged_head(
        world, size=stream.size, root=proofs.current_root(stream), key=Ed25519PrivateKey.generate()
    )
    with pytest.raises(Invalid) as refused:
        services.pin_tree_head(world.contract, acting_user=world.orderer, head=impostor)
    assert refused.value.code == "bad_signature"
    assert not PinnedHead.objects.exists()


def test_a_head_of_another_contract_is_refused(world):
    other = services.sign_tree_head(world.other_contract, acting_user=world.outsider)
    with pytest.raises(Invalid) as refused:
        services.pin_tree_head(world.contract, acting_user=world.orderer, head=other.signed())
    assert refused.value.code == "wrong_stream"


def test_rewritten_history_fails_the_witness_loudly(world, caplog):
    # The orderer pinned a head before someone rewrote events 0…4 (and re-hashed the tree): the pinned root
    # is no longer the root of the first five events.
    seen = _forged_head(world, size=5, root=b"\x42" * 32)
    services.pin_tree_head(world.contract, acting_user=world.orderer, head=seen)
    services.sign_tree_head(world.contract, acting_user=world.orderer)
    with caplog.at_level(logging.ERROR, logger="sekisho.audit"):
        report = proofs.witness(selectors.contract_stream(world.contract))
    assert not report.ok
    assert "履歴が書き換えられた" in report.failures[0]
    assert "witness FAILED" in caplog.text


def test_rolled_back_log_fails_the_witness_loudly(world):
    stream = selectors.contract_stream(world.contract)
    # A head from a longer log than the one now in the database: events were removed or a backup restored.
    seen = _forged_head(world, size=stream.size + 5, root=b"\x17" * 32)
    services.pin_tree_head(world.contract, acting_user=world.orderer, head=seen)
    report = proofs.witness(selectors.contract_stream(world.contract))
    assert not report.ok
    assert "短くなっています" in report.failures[0]


def test_a_pin_newer_than_the_latest_signed_head_is_checked_against_the_current_tree(world):
    services.sign_tree_head(world.contract, acting_user=world.orderer)
    grow(world.contract, world.manager, 20)
    stream = selectors.contract_stream(world.contract)
    # A genuine head of the current tree that never made it into the table of heads.
    genuine = _forged_head(world, size=stream.size, root=proofs.current_root(stream))
    services.pin_tree_head(world.contract, acting_user=world.orderer, head=genuine)
    report = proofs.witness(selectors.contract_stream(world.contract))
    assert report.ok, report.failures
