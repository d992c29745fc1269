"""What appending keeps (the compact range, stored subtrees), the proofs built from it, signed tree heads and
their periodic job, and the append-only protection of the new evidence tables."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction

from sekisho.audit import keys, merkle, proofs, selectors, services, signing
from sekisho.audit.models import (
    STORED_MIN_LEVEL,
    AuditEvent,
    AuditStream,
    MerkleNode,
    PinnedHead,
    TreeHead,
    TreeHeadReason,
    stream_key_for,
)
from sekisho.core.errors import Forbidden, Invalid, NotFound
from sekisho.core.models import Contract

from ..factories import PERIOD
from .conftest import grow

pytestmark = pytest.mark.django_db


def _leaves(stream: AuditStream) -> list[bytes]:
    events = AuditEvent.objects.filter(stream=stream).order_by("index")
    return [merkle.leaf_hash(e.canonical_bytes()) for e in events]


def test_appending_keeps_the_compact_range_and_every_stored_subtree_of_16_or_more(world):
    grow(world.contract, world.manager, 70)
    stream = selectors.contract_stream(world.contract)
    leaves = _leaves(stream)
    assert stream.size == len(leaves)
    assert proofs.current_root(stream) == merkle.root_of_leaf_hashes(leaves)
    stored = dict(
        ((level, index), bytes(h))
        for level, index, h in MerkleNode.objects.filter(stream=stream).values_list("level", "index", "hash")
    )
    expected = {
        (level, index): merkle.subtree_hash(leaves[index << level : (index + 1) << level])
        for level in range(STORED_MIN_LEVEL, stream.size.bit_length())
        for index in range(stream.size >> level)
    }
    assert stored == expected
    assert proofs.check_stream(stream) == []


def test_every_event_has_an_inclusion_proof_from_the_stored_state(world):
    grow(world.contract, world.manager, 40)
    stream = selectors.contract_stream(world.contract)
    leaves = _leaves(stream)
    for size in (stream.size, 33, 32, 17, 16, 5):
        root = merkle.root_of_leaf_hashes(leaves[:size])
        for index in range(size):
            proof = proofs.inclusion(stream, index, size)
            assert proof.leaf_hash == leaves[index]
            merkle.verify_inclusion(index, size, proof.leaf_hash, proof.proof, root)
            assert (
                hashlib.sha256(proof.event).hexdigest()
                == AuditEvent.objects.get(stream=stream, index=index).hash
            )


def test_consistency_proofs_from_the_stored_state_verify_across_block_boundaries(world):
    grow(world.contract, world.manager, 45)
    stream = selectors.contract_stream(world.contract)
    leaves = _leaves(stream)
    n = stream.size
    for first, second in [(0, n), (1, n), (15, 16), (16, 17), (16, 48), (17, 33), (31, n), (32, n), (n, n)]:
        proof = proofs.consistency(stream, first, second)
        assert proof.first_root == merkle.root_of_leaf_hashes(leaves[:first])
        assert proof.second_root == merkle.root_of_leaf_hashes(leaves[:second])
        merkle.verify_consistency(first, second, proof.first_root, proof.second_root, proof.proof)


def test_proofs_beyond_the_log_or_backwards_are_refused(world):
    stream = selectors.contract_stream(world.contract)
    with pytest.raises(Invalid):
        proofs.inclusion(stream, 0, stream.size + 1)
    with pytest.raises(Invalid):
        proofs.inclusion(stream, stream.size, stream.size)
    with pytest.raises(Invalid):
        proofs.consistency(stream, 3, 2)


def _legacy_log(world, count: int) -> AuditStream:
    """A log as it was before the Merkle tree: events and chain head only, no compact range, no nodes."""
    contract = Contract.objects.create(
        number="OLD-1",
        title="旧契約",
        orderer=world.orderer_org,
        contractor=world.contractor_org,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
    )
    stream = AuditStream.objects.create(key=stream_key_for(contract.pk), contract=contract)
    prev = ""
    for i in range(count):
        event = AuditEvent(
            stream=stream,
            index=i,
            contract=contract,
            actor_label="legacy",
            action="legacy.event",
            summary={"i": i},
            occurred_at=dt.datetime(2026, 4, 1, 9, 0, i, tzinfo=dt.UTC),
            prev_hash=prev,
        )
        event.hash = event.compute_hash()
        event.save(force_insert=True)
        prev = event.hash
    AuditStream.objects.filter(pk=stream.pk).update(size=count, head_hash=prev)
    stream.refresh_from_db()
    return stream


def test_migration_builds_the_tree_of_logs_that_predate_it(world):
    stream = _legacy_log(world, 37)
    with pytest.raises(proofs.IncompleteTree):
        proofs.inclusion(stream, 0, 37)  # nothing stored yet: reported, not silently re-hashed
    migration = importlib.import_module("sekisho.audit.migrations.0004_merkle_backfill_and_append_only")
    migration.backfill(apps, None)
    migration.backfill(apps, None)  # idempotent: logs that already have a tree are left alone
    stream.refresh_from_db()
    assert proofs.check_stream(stream) == []
    assert proofs.current_root(stream) == merkle.root_of_leaf_hashes(_leaves(stream))
    proof = proofs.inclusion(stream, 20, 37)
    merkle.verify_inclusion(20, 37, proof.leaf_hash, proof.proof, proofs.current_root(stream))


@pytest.mark.parametrize("model", [MerkleNode, TreeHead, PinnedHead])
def test_merkle_nodes_tree_heads_and_pins_are_append_only(world, model):
    head = services.sign_tree_head(world.contract, acting_user=world.orderer)
    services.pin_tree_head(world.contract, acting_user=world.orderer, head=head.signed())
    grow(world.contract, world.manager, 16)
    row = model.objects.order_by("pk").first()
    table = model._meta.db_table
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"UPDATE {table} SET stream_id = stream_id WHERE id = %s", [row.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table} WHERE id = %s", [row.pk])
    assert model.objects.filter(pk=row.pk).exists()


def test_requested_tree_head_is_signed_by_the_deployment_key_and_covers_its_own_record(world):
    head = services.sign_tree_head(
        world.contract, acting_user=world.auditor, reason=TreeHeadReason.INSPECTION
    )
    stream = selectors.contract_stream(world.contract)
    assert head.size == stream.size
    last = AuditEvent.objects.get(stream=stream, index=head.size - 1)
    assert (last.action, last.actor, last.summary["reason"]) == (
        "audit.sign_tree_head",
        world.auditor,
        "inspection",
    )
    assert head.head_hash == last.hash
    assert head.root_hash == proofs.current_root(stream).hex()
    assert signing.signature_is_valid(head.signed(), keys.public_key())
    assert head.key_id == keys.key_id()
    assert (head.reason, head.requested_by) == ("inspection", world.auditor)


@pytest.mark.parametrize(
    ("persona", "error"), [("staff", Forbidden), ("sub_staff", Forbidden), ("outsider", NotFound)]
)
def test_signing_a_head_is_refused_to_staff_and_outsiders(world, persona, error):
    with pytest.raises(error):
        services.sign_tree_head(world.contract, acting_user=getattr(world, persona))
    assert not TreeHead.objects.exists()


def test_signing_for_an_unknown_reason_is_refused(world):
    with pytest.raises(Invalid):
        services.sign_tree_head(world.contract, acting_user=world.orderer, reason=TreeHeadReason.EXPORT)


def test_periodic_job_signs_grown_logs_once_and_leaves_a_quiet_deployment_alone(world):
    heads = services.sign_due_tree_heads()
    signed = {h.stream.key: h.size for h in heads}
    streams = {s.key: s.size for s in AuditStream.objects.all()}
    assert signed == streams  # every log, the deployment log included (with the job's own record)
    deployment_events = AuditEvent.objects.filter(stream__key="deployment").order_by("-index")
    job = deployment_events.first()
    assert job.action == "audit.sign_due"
    assert (
        job.summary["streams"][stream_key_for(world.contract.pk)]
        == streams[stream_key_for(world.contract.pk)]
    )
    count = AuditEvent.objects.count()
    later = dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=1)
    assert services.sign_due_tree_heads(now=later) == []
    assert AuditEvent.objects.count() == count  # nothing happened, so nothing is recorded or signed


def test_periodic_job_waits_for_the_interval_before_signing_a_grown_log_again(world, settings):
    settings.SEKISHO_STH_INTERVAL_MINUTES = 60
    services.sign_due_tree_heads()
    grow(world.contract, world.manager, 1)
    now = dt.datetime.now(tz=dt.UTC)
    assert services.sign_due_tree_heads(now=now + dt.timedelta(minutes=10)) == []
    heads = services.sign_due_tree_heads(now=now + dt.timedelta(minutes=61))
    contract_key = stream_key_for(world.contract.pk)
    assert {h.stream.key for h in heads} == {contract_key, "deployment"}
    assert all(h.reason == TreeHeadReason.INTERVAL for h in heads)


class _TriggersOff:
    """What an attacker with the database's owner account can do: switch the append-only triggers off. The
    test's transaction rolls the DDL back afterwards (both SQLite and PostgreSQL have transactional DDL)."""

    def __enter__(self) -> None:
        with connection.cursor() as cur:
            if connection.vendor == "sqlite":
                cur.execute("DROP TRIGGER audit_event_no_update")
            else:  # deferred foreign-key checks must run first, or PostgreSQL refuses to ALTER the table
                cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cur.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_update_delete")

    def __exit__(self, *exc: object) -> None:
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SET CONSTRAINTS ALL DEFERRED")


def test_an_event_rewritten_behind_the_triggers_is_caught_by_check_and_by_the_next_export(world, exported):
    from sekisho.audit.verify import verify_export

    grow(world.contract, world.manager, 20)
    stream = selectors.contract_stream(world.contract)
    with _TriggersOff(), connection.cursor() as cur:
        cur.execute(
            "UPDATE audit_auditevent SET action = %s WHERE stream_id = %s AND "
            + connection.ops.quote_name("index")
            + " = %s",
            ["asset.nothing_happened", stream.pk, 3],
        )
    assert any("連番3" in problem for problem in proofs.check_stream(stream))
    report = verify_export(exported(), public_key=keys.public_key())
    assert not report.ok
    assert report.first_bad_index == 3


def test_check_reports_a_tree_head_or_stored_node_that_does_not_match_the_events(world):
    stream = selectors.contract_stream(world.contract)
    TreeHead.objects.create(
        stream=stream,
        size=stream.size,
        root_hash="00" * 32,
        head_hash=stream.head_hash,
        timestamp_ms=1,
        key_id="x",
        signature="x",
        reason=TreeHeadReason.REQUEST,
    )
    MerkleNode.objects.create(stream=stream, level=12, index=0, hash=b"\x00" * 32)
    problems = proofs.check_stream(stream)
    assert any("一致しません" in p and "ツリーヘッド" in p for p in problems)
    assert any("署名が正しくありません" in p for p in problems)
    assert any("Merkleノード" in p for p in problems)
