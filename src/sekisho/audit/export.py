"""Writing an export file (the format is described in ``verify``): a header line with the signed tree head and
the public key, then the events' canonical bytes, one per line. Streams in constant memory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from . import keys, signing
from .canonical import canonical_json
from .models import CANONICAL_COLUMNS, AuditEvent, canonical_of
from .services import Export
from .verify import EXPORT_FORMAT, EXPORT_VERSION, LEAF_RULE


def header(export: Export) -> dict[str, object]:
    head = export.tree_head
    public_key = keys.public_key()
    contract = export.contract
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "stream": head.stream.key,
        "contract": {"id": contract.pk, "number": contract.number, "title": contract.title},
        "exported_at": dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"),
        "exported_by": export.exported_by,
        "events": head.size,
        "leaf": LEAF_RULE,
        "tree_head": head.signed().to_dict(),
        "public_key": {
            "algorithm": "Ed25519",
            "base64": signing.public_key_b64(public_key),
            "key_id": signing.key_id(public_key),
        },
    }


def export_lines(export: Export, *, chunk_size: int = 5000) -> Iterator[bytes]:
    """The file, line by line. Events 0 … size-1 never change, so reading them after the export's
    transaction has committed gives exactly what the tree head signed."""
    yield canonical_json(header(export)) + b"\n"
    head = export.tree_head
    rows = (
        AuditEvent.objects.filter(stream_id=head.stream_id, index__lt=head.size)
        .order_by("index")
        .values_list(*CANONICAL_COLUMNS)
        .iterator(chunk_size=chunk_size)
    )
    for row in rows:
        yield canonical_json(canonical_of(*row)) + b"\n"
