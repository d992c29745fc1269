"""Everything a deployment holds, written as JSON to compare two deployments: every row of every model (read
through model instances and ``value_from_object``, a path independent of the backup's own ``values_list``
dump), every vault blob's SHA-256, and the key material's SHA-256.

Run inside the deployment: ``sekisho shell -c "from tests.ops.snapshot import write; write('out.json')"``.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any


def _normal(value: Any) -> Any:
    """One form per value, whatever the database gave back (SQLite and PostgreSQL differ in types)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | memoryview | bytearray):
        return "b64:" + base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID | decimal.Decimal | dt.timedelta):
        return str(value)
    if isinstance(value, dict | list):
        return "json:" + json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def rows() -> dict[str, dict[str, Any]]:
    from django.apps import apps

    out: dict[str, dict[str, Any]] = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if not meta.managed or meta.proxy:
            continue
        fields = list(meta.concrete_fields)
        table = [
            [_normal(f.value_from_object(obj)) for f in fields]
            for obj in model._base_manager.order_by("pk").iterator(chunk_size=2000)
        ]
        out[meta.label_lower] = {"columns": [f.attname for f in fields], "rows": table}
    return out


def blobs() -> dict[str, str]:
    from django.conf import settings

    from sekisho.vault.storage import get_storage

    out = {}
    storage = get_storage(settings.SEKISHO_VAULT_BACKEND)
    for key in sorted(storage.keys()):
        digest = hashlib.sha256()
        reader = storage.open(key)
        try:
            while chunk := reader.read(1 << 20):
                digest.update(chunk)
        finally:
            reader.close()
        out[key] = digest.hexdigest()
    return out


def keys() -> dict[str, str]:
    from django.conf import settings

    def sha(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""

    out = {
        "secret_key": hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest(),
        "audit_key": sha(Path(settings.SEKISHO_AUDIT_KEY_FILE)),
        "master_key": sha(Path(settings.SEKISHO_MASTER_KEY_FILE)),
    }
    directory = Path(settings.SEKISHO_VAULT_KEY_DIR)
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if path.name.startswith("contract-"):
                out[f"keys/{path.name}"] = sha(path)
    return out


def write(path: str, token: str = "") -> None:
    """The snapshot; with *token*, also whose API token it is (does the deployment accept it?), asked after
    the snapshot was taken because using a token records when it was last used."""
    from sekisho.core.auth import user_for_token

    snapshot: dict[str, Any] = {"rows": rows(), "blobs": blobs(), "keys": keys(), "probe": {}}
    if token:
        user = user_for_token(token)
        snapshot["probe"]["token_user"] = user.username if user is not None else None
    Path(path).write_text(json.dumps(snapshot, ensure_ascii=False), encoding="utf-8")
