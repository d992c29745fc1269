"""Build the Merkle state of logs that existed before the tree (compact range + stored nodes), and make the
new evidence tables append-only like the events: the database refuses UPDATE and DELETE of Merkle nodes,
signed tree heads and pinned heads (and TRUNCATE on PostgreSQL).

The backfill re-hashes each stream's events in order. The canonical form is copied here on purpose: it is
frozen by every stored hash, and the backfill refuses to run if an event's stored hash does not match it.
"""

import datetime as dt
import hashlib
import json

from django.db import migrations

from sekisho.audit import merkle

STORED_MIN_LEVEL = 4
TABLES = ["audit_merklenode", "audit_treehead", "audit_pinnedhead"]


def _canonical(e):
    body = {
        "stream": f"contract:{e.contract_id}" if e.contract_id is not None else "deployment",
        "index": e.index,
        "contract": e.contract_id,
        "actor": e.actor_id,
        "actor_label": e.actor_label,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "summary": e.summary,
        "occurred_at": e.occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "request_id": e.request_id,
        "prev_hash": e.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def backfill(apps, schema_editor):
    AuditStream = apps.get_model("audit", "AuditStream")
    AuditEvent = apps.get_model("audit", "AuditEvent")
    MerkleNode = apps.get_model("audit", "MerkleNode")
    # Only logs without a tree yet: running it again (or on a log that `record` already keeps) changes nothing.
    for stream in AuditStream.objects.filter(size__gt=0, frontier=b"").order_by("pk"):
        frontier, size, nodes = [], 0, []
        for event in AuditEvent.objects.filter(stream=stream).order_by("index").iterator(chunk_size=2000):
            body = _canonical(event)
            if event.index != size or hashlib.sha256(body).hexdigest() != event.hash:
                raise RuntimeError(f"audit stream {stream.key}: event {event.index} does not match its hash")
            size, completed = merkle.append_subtree(frontier, size, 0, merkle.leaf_hash(body))
            nodes += [
                MerkleNode(stream=stream, level=level, index=index, hash=h)
                for level, index, h in completed
                if level >= STORED_MIN_LEVEL
            ]
            if len(nodes) >= 2000:
                MerkleNode.objects.bulk_create(nodes)
                nodes = []
        MerkleNode.objects.bulk_create(nodes)
        if size != stream.size:
            raise RuntimeError(f"audit stream {stream.key}: {size} events, the stream says {stream.size}")
        AuditStream.objects.filter(pk=stream.pk).update(frontier=merkle.pack_frontier(frontier))


SQLITE_UP = [
    sql
    for table in TABLES
    for sql in (
        f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
            BEGIN SELECT RAISE(ABORT, 'audit evidence is append-only: UPDATE refused'); END""",
        f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
            BEGIN SELECT RAISE(ABORT, 'audit evidence is append-only: DELETE refused'); END""",
    )
]
SQLITE_DOWN = [
    f"DROP TRIGGER IF EXISTS {table}_{what}" for table in TABLES for what in ("no_update", "no_delete")
]
# audit_event_refuse_change() comes from 0002.
POSTGRES_UP = [
    sql
    for table in TABLES
    for sql in (
        f"""CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change()""",
    )
]
POSTGRES_DOWN = [
    f"DROP TRIGGER IF EXISTS {table}_{what} ON {table}"
    for table in TABLES
    for what in ("no_update_delete", "no_truncate")
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise RuntimeError(
                f"no append-only triggers for database {schema_editor.connection.vendor!r}; "
                "Sekisho supports SQLite and PostgreSQL"
            )
        for sql in statements:
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_merkle_tree_heads_pins")]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        ),
    ]
