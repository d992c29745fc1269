"""Writing findings in one statement each, whatever their number.

``bulk_create`` and ``bulk_update`` split their rows into batches by the database's parameter limit (on SQLite
about 80 findings a statement), so an evaluation that opens 10,000 findings would cost 120 inserts. Here the
rows travel as one JSON parameter that the database unpacks itself — ``json_each`` on SQLite,
``jsonb_to_recordset`` on PostgreSQL — so opening, changing or resolving any number of findings is one query
each, and the cost of an evaluation does not grow with what it finds.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from .models import Finding

TABLE = Finding._meta.db_table
INSERTED = (
    ("contract_id", "integer"),
    ("rule", "text"),
    ("clause", "text"),
    ("severity", "text"),
    ("subject_type", "text"),
    ("subject_id", "text"),
    ("subject_label", "text"),
    ("message", "text"),
    ("evidence", "jsonb"),
    ("first_seen_at", "timestamptz"),
    ("last_seen_at", "timestamptz"),
)
UPDATED = (("clause", "text"), ("severity", "text"), ("subject_label", "text"), ("message", "text"))


def _moment(value: dt.datetime) -> Any:
    """A datetime as the database stores it (SQLite: UTC text; PostgreSQL: ISO with its offset)."""
    if connection.vendor == "sqlite":
        return connection.ops.adapt_datetimefield_value(value)
    return value.isoformat()


def _payload(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, cls=DjangoJSONEncoder, ensure_ascii=False)


def _sqlite_value(name: str) -> str:
    return f"json_extract(j.value, '$.{name}')"


def insert(rows: list[dict[str, Any]], now: dt.datetime) -> None:
    """Open findings: *rows* carry every column but the two times, which are *now* for all of them."""
    if not rows:
        return
    columns = ", ".join(name for name, _type in INSERTED)
    moment = _moment(now)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            values = ", ".join(
                "%s" if name in ("first_seen_at", "last_seen_at") else _sqlite_value(name)
                for name, _type in INSERTED
            )
            cursor.execute(
                f"INSERT INTO {TABLE} ({columns}) SELECT {values} FROM json_each(%s) AS j",  # noqa: S608
                [moment, moment, _payload(rows)],
            )
        elif connection.vendor == "postgresql":
            record = ", ".join(f"{name} {kind}" for name, kind in INSERTED[:-2])
            cursor.execute(
                f"INSERT INTO {TABLE} ({columns}) SELECT {', '.join(n for n, _t in INSERTED[:-2])}, "  # noqa: S608
                f"%s::timestamptz, %s::timestamptz FROM jsonb_to_recordset(%s::jsonb) AS r({record})",
                [moment, moment, _payload(rows)],
            )
        else:  # pragma: no cover - other databases get Django's batches
            Finding.objects.bulk_create(Finding(**row, first_seen_at=now, last_seen_at=now) for row in rows)


def update(rows: list[dict[str, Any]]) -> None:
    """Write the clause, severity, label, message and evidence of open findings that changed (rows carry "id")."""
    if not rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            sets = ", ".join(
                f"{name} = {_sqlite_value(name)}" for name, _type in (*UPDATED, ("evidence", ""))
            )
            cursor.execute(
                f"UPDATE {TABLE} SET {sets} FROM json_each(%s) AS j "  # noqa: S608
                f"WHERE {TABLE}.id = {_sqlite_value('id')}",
                [_payload(rows)],
            )
        elif connection.vendor == "postgresql":
            fields = (("id", "bigint"), *UPDATED, ("evidence", "jsonb"))
            record = ", ".join(f"{name} {kind}" for name, kind in fields)
            sets = ", ".join(f"{name} = r.{name}" for name, _kind in fields[1:])
            cursor.execute(
                f"UPDATE {TABLE} AS f SET {sets} "  # noqa: S608
                f"FROM jsonb_to_recordset(%s::jsonb) AS r({record}) WHERE f.id = r.id",
                [_payload(rows)],
            )
        else:  # pragma: no cover
            for row in rows:
                Finding.objects.filter(pk=row["id"]).update(**{k: v for k, v in row.items() if k != "id"})


def resolve(ids: list[int], at: dt.datetime) -> None:
    if not ids:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                f"UPDATE {TABLE} SET resolved_at = %s WHERE id IN (SELECT value FROM json_each(%s))",  # noqa: S608
                [_moment(at), json.dumps(ids)],
            )
        elif connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {TABLE} SET resolved_at = %s::timestamptz "  # noqa: S608
                "WHERE id IN (SELECT jsonb_array_elements_text(%s::jsonb)::bigint)",
                [_moment(at), json.dumps(ids)],
            )
        else:  # pragma: no cover
            Finding.objects.filter(pk__in=ids).update(resolved_at=at)
