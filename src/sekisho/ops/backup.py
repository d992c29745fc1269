"""``sekisho backup``: the whole deployment in one encrypted archive, its keys in a separate key file.

What goes in: every row of every table, read in one consistent snapshot (a read-only REPEATABLE READ
transaction on PostgreSQL, a read transaction on SQLite's WAL), so the audit chain, its stream heads and the
rows they describe agree with each other even while the application keeps writing; every vault blob those rows
refer to (blobs are written before their rows and never change, so the snapshot's blobs all exist); and, last,
the key material. The run is an audit event of the deployment (``ops.backup``), appended before the snapshot
so the backup holds its own record.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from . import archive, dump, keyfile
from .errors import OpsError
from .progress import Progress

READ_SIZE = 1 << 20


def app_version() -> str:
    try:
        return importlib.metadata.version("sekisho")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


@contextlib.contextmanager
def snapshot() -> Iterator[None]:
    """Every query inside sees the database as of one instant, and writes nothing."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
        return
    if connection.vendor != "sqlite":
        raise OpsError(f"database {connection.vendor!r} is not supported (SQLite or PostgreSQL)")
    # Django opens SQLite transactions IMMEDIATE (a write lock); a backup must not hold the write lock for its
    # whole run, so it opens a plain deferred read transaction itself. WAL keeps writers going meanwhile.
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            cursor.execute("ROLLBACK")


def migration_state() -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in sorted(MigrationRecorder(connection).applied_migrations()):
        applied.setdefault(app, []).append(name)
    return applied


def check_migrated() -> None:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        pending = ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in plan[:5])
        raise OpsError(
            f"適用されていないマイグレーションがあります（{pending}…）。先に `sekisho migrate` を実行してください。"
        )


def _blobs() -> list[tuple[str, str]]:
    """(backend, storage key) of every blob a row refers to, in a stable order."""
    from sekisho.vault.models import TransferPackage, VaultObject

    keys = set(VaultObject.objects.values_list("backend", "storage_key"))
    keys |= set(TransferPackage.objects.values_list("backend", "storage_key"))
    return sorted(keys)


@dataclass
class BackupResult:
    backup_id: uuid.UUID
    archive: Path
    keys: Path
    archive_sha256: str
    archive_size: int
    rows: int
    blobs: int
    seconds: float


def _reserve(path: Path) -> tuple[Path, Any]:
    """A partial file next to *path* (mode 0600), renamed to *path* once complete."""
    if path.exists():
        raise OpsError(f"{path} は既にあります。上書きはしません。")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return partial, os.fdopen(fd, "wb")


def _publish(partial: Path, path: Path) -> None:
    try:
        os.link(partial, path)  # fails instead of overwriting a file that appeared meanwhile
    except FileExistsError as exc:
        raise OpsError(f"{path} は既にあります。上書きはしません。") from exc
    except OSError:  # a filesystem without hard links (some network shares)
        if path.exists():
            raise OpsError(f"{path} は既にあります。上書きはしません。") from None
        os.replace(partial, path)
        return
    partial.unlink()


def create_backup(
    output: Path,
    keys_output: Path,
    *,
    recipients: list[Any],
    passphrase: str | None,
    progress: Progress,
) -> BackupResult:
    """Write the archive to *output* and its key file to *keys_output* (neither may exist)."""
    started = time.monotonic()
    output, keys_output = output.absolute(), keys_output.absolute()
    if output == keys_output:
        raise OpsError("アーカイブと鍵ファイルは別のファイルにしてください。")
    if not recipients and passphrase is None:
        raise OpsError("鍵ファイルの受取人（--recipient）かパスフレーズを指定してください。")
    for path in (output, keys_output):
        if path.exists():
            raise OpsError(f"{path} は既にあります。上書きはしません。")
    check_migrated()
    backup_id = uuid.uuid4()
    created = dt.datetime.now(tz=dt.UTC)
    data_key = AESGCM.generate_key(bit_length=256)
    _record_backup(backup_id, output)
    partial, fh = _reserve(output)
    try:
        with fh:
            writer = archive.ArchiveWriter(
                fh, backup_id=backup_id, data_key=data_key, mtime=created.timestamp(), spool_dir=output.parent
            )
            header: dict[str, Any] = {
                "format": archive.FORMAT,
                "version": archive.VERSION,
                "backup_id": str(backup_id),
                "created_at": created.isoformat(timespec="seconds"),
                "app_version": app_version(),
                "note": "Sekisho backup. Every other member is encrypted; the keys are in the separate key file.",
            }
            writer.add_plain(archive.HEADER_MEMBER, json.dumps(header, indent=1).encode("utf-8"))
            with snapshot():
                manifest = _write_snapshot(writer, header, progress)
            material = keyfile.KeyFile(
                backup_id=backup_id,
                created_at=header["created_at"],
                archive_name=output.name,
                archive_sha256="",
                archive_size=0,
                data_key=data_key,
                secret_key="",
                audit_key=b"",
                master_key=None,
            )
            keyfile.collect(material)  # after the snapshot: a key shredded meanwhile is not carried
            manifest["key_store"] = {
                "service": material.key_service,
                "contract_keys": material.contract_keys(),
                "tombstones": material.tombstones(),
            }
            sha256, size = writer.close(manifest)
            fh.flush()
            os.fsync(fh.fileno())
        material.archive_sha256, material.archive_size = sha256, size
        sealed = keyfile.seal(material, recipients=recipients, passphrase=passphrase)
        _publish(partial, output)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    try:
        keys_partial, keys_fh = _reserve(keys_output)
        with keys_fh:
            keys_fh.write(sealed)
            keys_fh.flush()
            os.fsync(keys_fh.fileno())
        _publish(keys_partial, keys_output)
    except BaseException:
        output.unlink()  # an archive without its key file is worthless: do not leave one behind
        raise
    rows = sum(m["rows"] for m in manifest["models"])
    return BackupResult(
        backup_id, output, keys_output, sha256, size, rows, len(manifest["blobs"]), time.monotonic() - started
    )


def _record_backup(backup_id: uuid.UUID, output: Path) -> None:
    from sekisho.audit.services import record

    with transaction.atomic():
        record(
            actor="system",
            action="ops.backup",
            summary={"backup_id": str(backup_id), "archive": output.name},
        )


def _write_snapshot(
    writer: archive.ArchiveWriter, header: dict[str, Any], progress: Progress
) -> dict[str, Any]:
    models = dump.backed_up_models()
    counts = {m._meta.label_lower: m._base_manager.count() for m in models}
    progress.phase("データベース", sum(counts.values()), " 行")
    model_entries = []
    for model in models:
        label = model._meta.label_lower
        rows = 0

        def on_row() -> None:
            nonlocal rows
            rows += 1
            progress.advance(1)

        entry = writer.add_spooled(
            f"db/{label}.jsonl.gz",
            dump.gzip_chunks(dump.table_lines(model, on_row)),
            kind="db",
            model=label,
        )
        entry["rows"] = rows
        model_entries.append(
            {"model": label, "table": model._meta.db_table, "member": entry["name"], "rows": rows}
        )
    progress.finish()
    progress.note(f"データベース: {len(models)} 表、{sum(m['rows'] for m in model_entries):,} 行")
    blobs = _blobs()
    from sekisho.vault.storage import get_storage

    storages: dict[str, Any] = {}
    sizes = []
    for backend, key in blobs:
        storage = storages.setdefault(backend, get_storage(backend))
        sizes.append(storage.size(key))
    progress.phase("保管庫のファイル", sum(sizes), "bytes")
    blob_entries = []
    for n, ((backend, key), size) in enumerate(zip(blobs, sizes, strict=True), start=1):
        reader = storages[backend].open(key)
        try:
            entry = writer.add_sealed(
                f"blobs/{n:06d}", size, _read_blob(reader, progress), kind="blob", backend=backend, key=key
            )
        finally:
            reader.close()
        blob_entries.append({"backend": backend, "key": key, "member": entry["name"], "size": size})
    progress.finish()
    progress.note(f"保管庫: {len(blobs)} ファイル")
    return {
        "format": archive.FORMAT,
        "version": archive.VERSION,
        "backup_id": header["backup_id"],
        "created_at": header["created_at"],
        "app_version": header["app_version"],
        "database": connection.vendor,
        "migrations": migration_state(),
        "models": model_entries,
        "blobs": blob_entries,
        "members": writer.entries,
    }


def _read_blob(reader: Any, progress: Progress) -> Iterator[bytes]:
    while True:
        data = reader.read(READ_SIZE)
        if not data:
            return
        progress.advance(len(data))
        yield data
