"""``sekisho restore``: bring a backup back into an EMPTY deployment (a new database, an empty vault and key
store), then check it.

The order, and why:

1. open the key file (wrong identity or passphrase: refused) and refuse a deployment that holds data;
2. read the whole archive once and check every segment and every hash against the manifest and the key file
   — a damaged or tampered archive is refused here, naming the member, before anything is written;
3. migrate the empty database to the archive's migration state (not further: the rows fit that schema), with
   the migration executor, which sends no signals;
4. in one transaction: load every table with the historical models of that state (``bulk_create``: primary
   keys kept, no ``save()``, no signals, no audit events), write the vault blobs, put the keys in place,
   compare the row counts with the manifest, reset PostgreSQL's sequences. Any failure rolls the rows back and
   removes the blobs and keys written;
5. ``migrate`` to the code's current state (the upgrade of an old backup happens here, by the same migrations
   as any upgrade), record the restore in the deployment's audit log (``ops.restore``);
6. the restore check (``check.py``).

The audit tables refuse UPDATE and DELETE (database triggers) but not INSERT, so their rows load like any other.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps.registry import Apps
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import DatabaseError

from . import archive, dump, keyfile
from .check import CheckReport, check_deployment
from .errors import NotEmpty, OpsError
from .progress import Progress

# Rows `migrate` itself creates (post_migrate): a migrated but unused database is still empty.
MIGRATE_TABLES = {"django_migrations", "django_content_type", "auth_permission"}


@dataclass
class RestoreResult:
    backup_id: uuid.UUID
    created_at: str
    rows: int
    blobs: int
    keys: list[int]
    tombstones: list[int]
    kept_shredded: list[int]
    check: CheckReport
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def open_keys(path: Path, *, identities: list[Path], passphrase: str | None) -> keyfile.KeyFile:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OpsError(f"鍵ファイル {path} を読めません: {exc.strerror}") from exc
    return keyfile.open_keyfile(data, identities=keyfile.read_identities(identities), passphrase=passphrase)


def verify(archive_path: Path, keys: keyfile.KeyFile, progress: Progress) -> dict[str, Any]:
    """Check the archive completely against the key file; the manifest if it holds."""
    if not archive_path.is_file():
        raise OpsError(f"アーカイブ {archive_path} がありません。")
    progress.phase("アーカイブの検証", archive_path.stat().st_size, "bytes")
    try:
        manifest = archive.verify_archive(
            archive_path,
            data_key=keys.data_key,
            backup_id=keys.backup_id,
            archive_sha256=keys.archive_sha256,
            on_member=progress.advance,
        )
    finally:
        progress.finish()
    if manifest.get("format") != archive.FORMAT or manifest.get("version") != archive.VERSION:
        raise OpsError(
            f"対応していない形式のバックアップです: {manifest.get('format')} {manifest.get('version')}"
        )
    return manifest


# --- the deployment must be empty --------------------------------------------------------------------------------


def contents() -> list[str]:
    """What this deployment already holds (empty list: nothing)."""
    found = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            if table in MIGRATE_TABLES:
                continue
            cursor.execute(f"SELECT 1 FROM {quote(table)} LIMIT 1")  # noqa: S608 - a name from the catalogue
            if cursor.fetchone() is not None:
                found.append(f"データベースの表 {table}")
    found += [f"鍵保管庫の {name}" for name in keyfile.key_store_in_use()]
    return found


def blobs_present(backends: set[str]) -> list[str]:
    from sekisho.vault.storage import get_storage

    found = []
    for backend in sorted(backends):
        storage = get_storage(backend)
        for prefix in ("objects/", "packages/"):
            first = next(iter(storage.keys(prefix)), None)
            if first is not None:
                found.append(f"保管庫（{backend}）の {first}")
    return found


def refuse_unless_empty(found: list[str]) -> None:
    if found:
        listed = "\n".join(f"  - {item}" for item in found[:10])
        raise NotEmpty(
            "復元先の配備は空ではありません。復元は空の配備（新しいデータベース、空の保管庫と鍵保管庫）にだけ行います。"
            f"何も変更していません。\n{listed}\n"
            "(The deployment is not empty; restore only into a new database with an empty vault and key store. "
            "Nothing was changed.)"
        )


# --- migrations ---------------------------------------------------------------------------------------------------


def _targets(executor: MigrationExecutor, recorded: dict[str, list[str]]) -> list[tuple[str, str | None]]:
    graph = executor.loader.graph
    unknown = [
        f"{app}.{name}" for app, names in recorded.items() for name in names if (app, name) not in graph.nodes
    ]
    if unknown:
        raise OpsError(
            "このバックアップは、この版の Sekisho が知らないマイグレーションの状態で作られています"
            f"（{', '.join(unknown[:5])}）。バックアップを作った版以降の Sekisho で復元してください。"
        )
    targets: list[tuple[str, str | None]] = []
    for app in sorted(executor.loader.migrated_apps):
        names = set(recorded.get(app, []))
        if not names:
            targets.append((app, None))
            continue
        for name in sorted(names):
            children = {child.key for child in graph.node_map[(app, name)].children}
            if not any(c[0] == app and c[1] in names for c in children):
                targets.append((app, name))
    return targets


def migrate_to_archive_state(manifest: dict[str, Any]) -> Apps:
    """Bring the schema to the archive's migration state; the historical models of that state."""
    executor = MigrationExecutor(connection)
    targets = _targets(executor, manifest["migrations"])
    try:
        state = executor.migrate(targets, plan=executor.migration_plan(targets))
    except IrreversibleError as exc:
        raise OpsError(
            "復元先のデータベースはこのバックアップより新しい状態にマイグレーションされていて、戻せません。"
            f"新しい空のデータベースに復元してください。({exc})"
        ) from exc
    return state.apps


# --- the restore ------------------------------------------------------------------------------------------------


def restore(
    archive_path: Path,
    keys_path: Path,
    *,
    identities: list[Path],
    passphrase: str | None,
    progress: Progress,
) -> RestoreResult:
    started = time.monotonic()
    keys = open_keys(keys_path, identities=identities, passphrase=passphrase)
    refuse_unless_empty(contents())
    manifest = verify(archive_path, keys, progress)
    backends = {b["backend"] for b in manifest["blobs"]}
    refuse_unless_empty(blobs_present(backends))
    progress.note(f"アーカイブを確認しました: バックアップ {keys.backup_id}（{manifest['created_at']}）")
    historical = migrate_to_archive_state(manifest)
    installed = keyfile.Installed()
    written: list[tuple[str, str]] = []
    try:
        with transaction.atomic():
            rows = _load(archive_path, keys, manifest, historical, written, progress)
            keyfile.install(keys, installed)
            _reset_sequences(historical, manifest)
    except BaseException:
        _remove_blobs(written)
        installed.undo()
        raise
    keyfile.sync_key_backups()
    try:
        call_command("migrate", interactive=False, verbosity=0)
    except Exception as exc:
        raise OpsError(
            f"バックアップの内容は復元しました（マイグレーションの状態はバックアップの時点）が、今の版への `migrate` に"
            f"失敗しました: {exc}。原因を取り除いて `sekisho migrate` を実行してください。"
        ) from exc
    _record_restore(keys, manifest, archive_path, rows, installed)
    report = check_deployment(progress)
    return RestoreResult(
        backup_id=keys.backup_id,
        created_at=manifest["created_at"],
        rows=rows,
        blobs=len(written),
        keys=installed.keys,
        tombstones=installed.tombstones,
        kept_shredded=installed.kept_shredded,
        check=report,
        warnings=installed.warnings,
        seconds=time.monotonic() - started,
    )


def _load(
    archive_path: Path,
    keys: keyfile.KeyFile,
    manifest: dict[str, Any],
    historical: Apps,
    written: list[tuple[str, str]],
    progress: Progress,
) -> int:
    from sekisho.vault.storage import get_storage

    models = {m["member"]: m for m in manifest["models"]}
    blobs = {b["member"]: b for b in manifest["blobs"]}
    _clear_migrate_rows(historical)
    progress.phase("データベースの復元", sum(m["rows"] for m in manifest["models"]), " 行")
    total = 0
    reader = archive.ArchiveReader(archive_path, data_key=keys.data_key, backup_id=keys.backup_id)
    blob_phase = False
    try:
        for member in reader.members():
            if member.name in models:
                total += _load_table(member, models[member.name], historical, progress)
            elif member.name in blobs:
                if not blob_phase:
                    progress.finish()
                    progress.note(f"データベース: {total:,} 行")
                    progress.phase("保管庫の復元", sum(b["size"] for b in manifest["blobs"]), "bytes")
                    blob_phase = True
                entry = blobs[member.name]
                writer = get_storage(entry["backend"]).writer(entry["key"])
                try:
                    for chunk in member.plaintext():
                        writer.write(chunk)
                        progress.advance(len(chunk))
                    writer.commit()
                except BaseException:
                    writer.abort()
                    raise
                written.append((entry["backend"], entry["key"]))
    except (archive.MemberDamaged, archive.StructureDamaged) as exc:
        raise OpsError(f"アーカイブが検証の後に変わりました: {exc}") from exc
    progress.finish()
    if len(written) != len(blobs):
        raise OpsError(f"保管庫のファイルが {len(written)} 件しかありません（目録は {len(blobs)} 件）。")
    return total


def _load_table(member: archive.Member, entry: dict[str, Any], historical: Apps, progress: Progress) -> int:
    lines = dump.gunzip_lines(member.plaintext())
    header = json.loads(next(lines))
    try:
        model = historical.get_model(entry["model"])
    except LookupError as exc:
        raise OpsError(f"{entry['model']}: この版の Sekisho にない表です。") from exc
    loader = dump.Loader(model, header, connection.alias)

    def counted() -> Any:
        for line in lines:
            yield line
            progress.advance(1)

    try:
        rows = loader.load(counted())
    except (DatabaseError, ValueError) as exc:
        raise OpsError(f"{entry['model']} の行を読み込めません: {exc}") from exc
    if rows != entry["rows"]:
        raise OpsError(f"{entry['model']}: {rows} 行を読み込みましたが、目録では {entry['rows']} 行です。")
    return rows


def _clear_migrate_rows(historical: Apps) -> None:
    """The content types and permissions a previous `migrate` made go: the archive's rows (with their primary
    keys, which other rows refer to) take their place."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for label in ("auth.Permission", "contenttypes.ContentType"):
            try:
                table = historical.get_model(label)._meta.db_table
            except LookupError:
                continue
            cursor.execute(f"DELETE FROM {quote(table)}")  # noqa: S608 - a name from the model


def _reset_sequences(historical: Apps, manifest: dict[str, Any]) -> None:
    models = [historical.get_model(m["model"]) for m in manifest["models"]]
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def _remove_blobs(written: list[tuple[str, str]]) -> None:
    from sekisho.vault.storage import get_storage

    for backend, key in written:
        get_storage(backend).delete(key)


def _record_restore(
    keys: keyfile.KeyFile,
    manifest: dict[str, Any],
    archive_path: Path,
    rows: int,
    installed: keyfile.Installed,
) -> None:
    from sekisho.audit.services import record

    with transaction.atomic():
        record(
            actor="system",
            action="ops.restore",
            summary={
                "backup_id": str(keys.backup_id),
                "backup_created_at": manifest["created_at"],
                "backup_app_version": manifest["app_version"],
                "archive": archive_path.name,
                "archive_sha256": keys.archive_sha256,
                "rows": rows,
                "blobs": len(manifest["blobs"]),
                "shredded_since_backup": installed.kept_shredded,
            },
        )
