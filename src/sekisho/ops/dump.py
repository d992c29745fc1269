"""The database in a portable form: one JSON Lines stream per model, in dependency order, that loads into SQLite
or PostgreSQL alike (not pg_dump, not a SQLite file).

A table's stream is a header line ``{"model": "core.user", "columns": [...], "types": [...]}`` and then one
JSON array per row, in primary-key order, values in the header's column order. Values are JSON where JSON
has the type, and text Django's own ``to_python`` reads back otherwise: date-times in ISO 8601 with their
offset, UUIDs and decimals as text, binary as base64, durations in ISO 8601.

Rows are read with ``values_list`` (no model instances, no signals) and written back with ``bulk_create`` on
the *historical* model of the archive's migration state, which neither calls ``save()`` nor sends signals: a
restore writes no audit event and runs no side effect of the application's own code.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.apps import apps as global_apps
from django.db import models
from django.utils.duration import duration_iso_string

BATCH = 1000
COMPRESS_LEVEL = 6


def backed_up_models(registry: Any = global_apps) -> list[type[models.Model]]:
    """Every model with a table of its own (auto-created many-to-many tables included), parents before the
    models that refer to them; ties in label order, so the order is the same on every run."""
    candidates = [
        m
        for m in registry.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy and not m._meta.swapped
    ]
    by_label = {m._meta.label_lower: m for m in candidates}
    needs: dict[str, set[str]] = {}
    for model in candidates:
        deps = set()
        for f in model._meta.concrete_fields:
            if f.is_relation and f.related_model is not None:
                target = f.related_model._meta.concrete_model._meta.label_lower
                if target in by_label and target != model._meta.label_lower:
                    deps.add(target)
        needs[model._meta.label_lower] = deps
    ordered: list[type[models.Model]] = []
    done: set[str] = set()
    pending = sorted(by_label)
    while pending:
        ready = [label for label in pending if needs[label] <= done]
        if not ready:  # a cycle: foreign keys are checked at commit, so any order loads; keep it stable
            ready = [pending[0]]
        for label in ready:
            ordered.append(by_label[label])
            done.add(label)
        pending = [label for label in pending if label not in done]
    return ordered


def columns(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    if model._meta.parents:
        raise ValueError(f"{model._meta.label}: multi-table inheritance is not supported by the backup")
    return list(model._meta.concrete_fields)


def _value_field(f: models.Field[Any, Any]) -> models.Field[Any, Any]:
    """The field whose type a column holds: a foreign key holds its target's."""
    while f.is_relation and getattr(f, "target_field", None) is not None:
        f = f.target_field  # type: ignore[attr-defined]
    return f


def _encode_datetime(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.date | dt.time) else v


def _encode_binary(v: Any) -> Any:
    return None if v is None else base64.b64encode(bytes(v)).decode("ascii")


def _encode_text(v: Any) -> Any:
    return None if v is None else str(v)


def _encode_duration(v: Any) -> Any:
    return None if v is None else duration_iso_string(v)


def _plain(v: Any) -> Any:
    if isinstance(v, uuid.UUID | decimal.Decimal):
        return str(v)
    return v


_ENCODERS: dict[str, Callable[[Any], Any]] = {
    "DateTimeField": _encode_datetime,
    "DateField": _encode_datetime,
    "TimeField": _encode_datetime,
    "BinaryField": _encode_binary,
    "UUIDField": _encode_text,
    "DecimalField": _encode_text,
    "DurationField": _encode_duration,
}


def type_name(f: models.Field[Any, Any]) -> str:
    return _value_field(f).get_internal_type()


def encoder(f: models.Field[Any, Any]) -> Callable[[Any], Any]:
    return _ENCODERS.get(type_name(f), _plain)


def table_lines(model: type[models.Model], on_row: Callable[[], None] | None = None) -> Iterator[bytes]:
    """The model's JSON Lines stream, read in primary-key order through a cursor (constant memory)."""
    fields = columns(model)
    names = [f.attname for f in fields]
    encode = [encoder(f) for f in fields]
    header = {"model": model._meta.label_lower, "columns": names, "types": [type_name(f) for f in fields]}
    yield (json.dumps(header, ensure_ascii=False) + "\n").encode("utf-8")
    rows = model._base_manager.order_by("pk").values_list(*names).iterator(chunk_size=2000)
    for row in rows:
        values = [enc(v) for enc, v in zip(encode, row, strict=True)]
        yield (json.dumps(values, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        if on_row is not None:
            on_row()


def gzip_chunks(chunks: Iterable[bytes], batch: int = 1 << 16) -> Iterator[bytes]:
    """gzip the stream (JSON of many similar rows shrinks five- to tenfold), in pieces of about *batch*."""
    zipper = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, 31)
    pending: list[bytes] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= batch:
            out = zipper.compress(b"".join(pending))
            pending, size = [], 0
            if out:
                yield out
    yield zipper.compress(b"".join(pending)) + zipper.flush()


def gunzip_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a gzip stream, one at a time (a line never needs more than itself in memory)."""
    unzipper = zlib.decompressobj(31)
    rest = b""
    for chunk in chunks:
        data = rest + unzipper.decompress(chunk)
        *lines, rest = data.split(b"\n")
        yield from lines
    rest += unzipper.flush()
    if not unzipper.eof:
        raise ValueError("the compressed table ends early")
    if rest:
        yield rest


class Loader:
    """Loads one table's stream into *model* (a historical model of the archive's migration state)."""

    def __init__(self, model: type[models.Model], header: dict[str, Any], using: str) -> None:
        self.model = model
        self.using = using
        by_attname = {f.attname: f for f in columns(model)}
        names = header.get("columns")
        if not isinstance(names, list) or set(names) != set(by_attname):
            raise ValueError(
                f"{model._meta.label_lower}: the archive's columns {names} are not the table's "
                f"{sorted(by_attname)} at the archive's migration state"
            )
        self.names = names
        self.fields = [by_attname[n] for n in names]
        self.decode = [_decoder(f) for f in self.fields]
        for f in self.fields:
            # bulk_create calls pre_save: an auto_now field would overwrite the restored value with "now".
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                f.auto_now = f.auto_now_add = False  # type: ignore[attr-defined]
        self.rows = 0

    def load(self, lines: Iterable[bytes]) -> int:
        batch: list[models.Model] = []
        for line in lines:
            if not line:
                continue
            values = json.loads(line)
            kwargs = {n: dec(v) for n, dec, v in zip(self.names, self.decode, values, strict=True)}
            batch.append(self.model(**kwargs))
            if len(batch) >= BATCH:
                self._flush(batch)
                batch = []
        self._flush(batch)
        return self.rows

    def _flush(self, batch: list[models.Model]) -> None:
        if batch:
            self.model._base_manager.using(self.using).bulk_create(batch, batch_size=BATCH)
            self.rows += len(batch)


def _decoder(f: models.Field[Any, Any]) -> Callable[[Any], Any]:
    target = _value_field(f)
    kind = target.get_internal_type()
    if kind == "JSONField":
        return lambda v: v
    to_python = target.to_python
    return lambda v: None if v is None else to_python(v)
