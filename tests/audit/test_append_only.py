from __future__ import annotations

import hashlib
import itertools

import pytest
from django.db import DatabaseError, connection, transaction

from sekisho.audit.models import AuditEvent, canonical_json, stream_key_for
from sekisho.audit.services import verify_chain
from sekisho.core import services
from sekisho.core.models import Contract

pytestmark = pytest.mark.django_db


def _some_event(world) -> AuditEvent:
    return AuditEvent.objects.filter(contract=world.contract).order_by("index").first()


def test_raw_sql_update_of_an_audit_event_is_refused_by_the_database(world):
    event = _some_event(world)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["forged", event.pk])
    event.refresh_from_db()
    assert event.action != "forged"


def test_raw_sql_delete_of_an_audit_event_is_refused_by_the_database(world):
    event = _some_event(world)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_orm_update_and_delete_are_refused_too(world):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(contract=world.contract).update(action="forged")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(contract=world.contract).delete()
    assert not AuditEvent.objects.filter(action="forged").exists()


def test_each_contract_has_its_own_unbroken_chain(world):
    for contract in (world.contract, world.other_contract):
        events = list(AuditEvent.objects.filter(contract=contract).order_by("index"))
        assert [e.index for e in events] == list(range(len(events)))
        assert events[0].prev_hash == ""
        for prev, event in itertools.pairwise(events):
            assert event.prev_hash == prev.hash
        assert verify_chain(stream_key_for(contract.pk)) is None
    assert verify_chain("deployment") is None


def test_event_hash_is_sha256_of_the_canonical_form(world):
    event = _some_event(world)
    body = event.canonical()
    assert hashlib.sha256(canonical_json(body)).hexdigest() == event.hash
    assert body["stream"] == f"contract:{world.contract.pk}"
    assert body["contract"] == world.contract.pk


def test_event_records_who_what_which_contract_and_request_id(world):
    from sekisho.core.context import reset_request_id, set_request_id

    token = set_request_id("req-test-0001")
    try:
        services.transition_contract(
            world.contract, acting_user=world.manager, to_status=Contract.Status.ACTIVE
        )
    finally:
        reset_request_id(token)
    event = AuditEvent.objects.filter(contract=world.contract).latest("index")
    assert (event.actor, event.actor_label, event.action) == (world.manager, "manager", "contract.transition")
    assert (event.object_type, event.object_id) == ("core.contract", str(world.contract.pk))
    assert event.request_id == "req-test-0001"
    assert event.summary["from"] == "draft"


def test_verify_chain_reports_the_first_event_that_does_not_match(world, monkeypatch):
    # The database refuses to let us tamper, so simulate a tampered row as read back.
    events = list(AuditEvent.objects.filter(contract=world.contract).order_by("index"))
    events[2].action = "forged"

    class FakeQS:
        def __init__(self, rows):
            self.rows = rows

        def order_by(self, *_):
            return self

        def iterator(self, chunk_size=None):
            return iter(self.rows)

    monkeypatch.setattr(AuditEvent.objects, "filter", lambda **kw: FakeQS(events))
    assert verify_chain(stream_key_for(world.contract.pk)) == 2
