"""`sekisho backup` and `sekisho restore` against real deployments (subprocesses, own data directories and
databases): a realistic deployment comes back row for row, blob for byte, key for key — on SQLite, on
PostgreSQL and across the two — and every way a restore can go wrong is refused before anything is written."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import time
from pathlib import Path

import pytest

from .conftest import PASSPHRASE, Source, assert_untouched
from .dataset import MAIN_PLAINTEXT, SHREDDED_PLAINTEXT
from .harness import Deployment, Deployments, build_source, compare_restored, identity


def restore(target: Deployment, source: Source, *extra: str, archive: Path | None = None, check: bool = True):
    return target.run(
        "restore",
        str(archive or source.archive),
        "--keys",
        str(source.keys),
        "-i",
        str(source.identity),
        "--no-progress",
        *extra,
        check=check,
    )


@pytest.mark.parametrize(
    ("source", "target_kind", "premigrated"),
    [
        ("sqlite", "sqlite", False),
        ("postgresql", "postgresql", True),
        ("sqlite", "postgresql", False),
        ("postgresql", "sqlite", True),
    ],
    ids=["sqlite", "postgresql-into-migrated-db", "sqlite-to-postgresql", "postgresql-to-sqlite"],
    indirect=["source"],
)
def test_restore_into_a_new_deployment_brings_back_every_row_blob_and_key(
    source: Source, target_kind: str, premigrated: bool, deployments: Deployments
):
    target = deployments.new(target_kind, "target")
    if premigrated:  # `sekisho migrate` already ran: content types and permissions exist, nothing else
        target.run("migrate", "-v0")
    started = time.monotonic()
    result = restore(target, source)
    seconds = time.monotonic() - started
    print(
        f"backup {source.backup_seconds:.1f} s, restore {seconds:.1f} s ({source.deployment.kind} → {target_kind})"
    )
    # The restore ends with its check: every audit log and signed head verifies, every blob opens but the
    # shredded contract's.
    assert "復元検査: 正常" in result.stdout
    counts = source.summary
    assert f"監査ログ {len(counts['streams'])} 本" in result.stdout
    assert f"ok {counts['objects_ok']}、shredded {counts['objects_shredded']}）" in result.stdout
    restored = target.snapshot(token=source.summary["token"])
    compare_restored(source.snapshot, restored)
    assert restored["probe"]["token_user"] == "staff", "the old deployment's API token still works"


@pytest.fixture(scope="module")
def restored(sqlite_source: Source, deployments: Deployments) -> Deployment:
    """The SQLite source restored into a new SQLite deployment (shared by the tests that only read it)."""
    target = deployments.new("sqlite", "restored")
    restore(target, sqlite_source)
    return target


def test_the_restore_is_one_audit_event_naming_the_backup(sqlite_source: Source, restored: Deployment):
    found = restored.shell(
        "import json; from sekisho.audit.models import AuditEvent; "
        "e = AuditEvent.objects.get(action='ops.restore'); "
        "print(json.dumps([e.stream.key, e.summary, AuditEvent.objects.filter(action='ops.backup').count()]))"
    )
    stream, event, backups = json.loads(found)
    assert stream == "deployment"
    assert event["archive"] == sqlite_source.archive.name and event["rows"] > 400
    assert event["blobs"] == sqlite_source.summary["blobs"]
    assert backups == 1, "the backup holds its own record (appended before the snapshot)"


def test_a_crypto_shredded_contract_stays_unreadable_after_restore(
    sqlite_source: Source, restored: Deployment
):
    found = restored.shell(
        "import json; from sekisho.core.errors import Conflict; from sekisho.vault.models import VaultObject; "
        "from sekisho.vault.services import open_sealed; from sekisho.vault.verification import check_object\n"
        "statuses = sorted((o.contract.number, check_object(o).status) for o in VaultObject.objects.all())\n"
        "try:\n    open_sealed(VaultObject.objects.get(contract__number='倉下建第2026-131号'))\n"
        "except Conflict as exc:\n    print(json.dumps([statuses, exc.code]))"
    )
    statuses, refusal = json.loads(found)
    ok, shredded = sqlite_source.summary["objects_ok"], sqlite_source.summary["objects_shredded"]
    assert shredded >= 1
    assert statuses == [["倉下建第2026-118号", "ok"]] * ok + [["倉下建第2026-131号", "shredded"]] * shredded
    assert refusal == "key_destroyed"
    key_files = [f for f in restored.files() if f.startswith("keys/")]
    assert "keys/contract-2.destroyed" in key_files and "keys/contract-2.key" not in key_files


def test_restore_check_finds_a_damaged_blob_and_a_wrong_audit_key(restored: Deployment):
    blob = next(
        p
        for p in (restored.data_dir / "vault" / "objects" / "c1").rglob("*.skv")
        if p.stat().st_size > 10_000
    )
    original = blob.read_bytes()
    damaged = bytearray(original)
    damaged[5000] ^= 0x01
    blob.write_bytes(bytes(damaged))
    try:
        result = restored.run("restore", "--check", "--no-progress", check=False)
    finally:
        blob.write_bytes(original)
    assert result.returncode == 1 and "damaged" in result.stderr
    audit_key = restored.data_dir / "audit_ed25519.key"
    kept = audit_key.read_bytes()
    audit_key.write_text(identity_seed(), encoding="ascii")
    try:
        result = restored.run("restore", "--check", "--no-progress", check=False)
    finally:
        audit_key.write_bytes(kept)
    assert result.returncode == 1 and "監査ログ contract:1" in result.stderr
    assert restored.run("restore", "--check", "--no-progress").returncode == 0


def test_a_key_shredded_after_the_backup_does_not_come_back(deployments: Deployments):
    """The key file of an older backup still holds the key; the key-store backups (which shredding reaches)
    hold its tombstone, and the restore installs the tombstone instead of the key."""
    key_backups = deployments.root / "key-store-backup"
    source = deployments.new("sqlite", "shred-source", SEKISHO_VAULT_KEY_BACKUPS=str(key_backups))
    build_source(source, shred=False)
    ident, recipient = identity(deployments.root)
    out = deployments.root / "shred-backup"
    out.mkdir()
    result = source.run("backup", "-o", str(out), "--keys-output", str(out / "k.age"), "-r", recipient)
    archive = Path(result.stdout.strip().splitlines()[0])
    source.shell("from tests.ops.dataset import shred_other; shred_other()")
    assert (key_backups / "contract-2.destroyed").exists()

    target = deployments.new("sqlite", "shred-target", SEKISHO_VAULT_KEY_BACKUPS=str(key_backups))
    restored = target.run(
        "restore", str(archive), "--keys", str(out / "k.age"), "-i", str(ident), "--no-progress"
    )
    assert "契約 2" in restored.stderr, "the administrator is told which key stayed shredded"
    assert "shredded " in restored.stdout and "正常" in restored.stdout
    assert "keys/contract-2.key" not in target.files() and "keys/contract-2.destroyed" in target.files()


@pytest.mark.parametrize("source", ["sqlite", "postgresql"], indirect=True)
def test_restore_into_a_deployment_that_holds_data_is_refused_and_changes_nothing(source: Source):
    before = source.deployment.snapshot()
    result = restore(source.deployment, source, check=False)
    assert result.returncode == 1
    assert "復元先の配備は空ではありません" in result.stderr and "audit_auditevent" in result.stderr
    assert "何も変更していません" in result.stderr
    assert source.deployment.snapshot() == before


def test_an_empty_database_with_keys_in_the_key_store_is_not_empty(
    sqlite_source: Source, deployments: Deployments
):
    target = deployments.new("sqlite", "keys-only")
    (target.data_dir / "keys").mkdir()
    (target.data_dir / "keys" / "contract-7.key").write_text("{}", encoding="utf-8")
    result = restore(target, sqlite_source, check=False)
    assert result.returncode == 1 and "鍵保管庫の contract-7.key" in result.stderr
    assert target.tables() == []


def test_the_wrong_identity_is_refused(
    sqlite_source: Source, empty_target: Deployment, deployments: Deployments
):
    stranger, _ = identity(deployments.root)
    result = empty_target.run(
        "restore",
        str(sqlite_source.archive),
        "--keys",
        str(sqlite_source.keys),
        "-i",
        str(stranger),
        check=False,
    )
    assert result.returncode == 1 and "鍵ファイルを開けません" in result.stderr
    assert_untouched(empty_target)


def test_the_key_file_of_another_backup_is_refused(sqlite_source: Source, empty_target: Deployment):
    result = empty_target.run(
        "restore",
        str(sqlite_source.archive),
        "--keys",
        str(sqlite_source.keys_b),
        "--passphrase-file",
        str(sqlite_source.passphrase_file),
        check=False,
    )
    assert result.returncode == 1 and "別のバックアップ" in result.stderr
    assert_untouched(empty_target)


def test_a_passphrase_key_file_opens_with_its_passphrase_only(
    sqlite_source: Source, empty_target: Deployment, deployments: Deployments
):
    verified = empty_target.run(
        "restore",
        str(sqlite_source.archive_b),
        "--keys",
        str(sqlite_source.keys_b),
        "--passphrase-file",
        str(sqlite_source.passphrase_file),
        "--verify-only",
    )
    assert "アーカイブは正常です" in verified.stdout
    wrong = deployments.root / "wrong-passphrase.txt"
    wrong.write_text(PASSPHRASE + "!\n", encoding="utf-8")
    result = empty_target.run(
        "restore",
        str(sqlite_source.archive_b),
        "--keys",
        str(sqlite_source.keys_b),
        "--passphrase-file",
        str(wrong),
        check=False,
    )
    assert result.returncode == 1 and "鍵ファイルを開けません" in result.stderr
    assert_untouched(empty_target)


def _member_offsets(archive: Path) -> dict[str, tuple[int, int, int]]:
    """name -> (header offset, data offset, size) of every member."""
    with tarfile.open(archive) as tar:
        return {m.name: (m.offset, m.offset_data, m.size) for m in tar.getmembers()}


def _flip(archive: Path, at: int, directory: Path) -> Path:
    copy = directory / f"tampered-{at}.backup"
    shutil.copyfile(archive, copy)
    with copy.open("r+b") as fh:
        fh.seek(at)
        byte = fh.read(1)
        fh.seek(at)
        fh.write(bytes([byte[0] ^ 0x01]))
    return copy


@pytest.mark.parametrize(
    ("where", "named"),
    [
        ("db/audit.auditevent.jsonl.gz", "db/audit.auditevent.jsonl.gz"),
        ("db/core.user.jsonl.gz", "db/core.user.jsonl.gz"),
        ("blobs/000001", "blobs/000001（保管庫 filesystem:objects/c1/"),
        ("manifest.json", "manifest.json"),
        ("header of blobs/000002", "「blobs/000001」の後"),
        ("backup.json", "backup.json"),
        ("end of archive", "アーカイブ全体の SHA-256"),
    ],
)
def test_one_flipped_byte_is_refused_naming_the_member(
    sqlite_source: Source, empty_target: Deployment, deployments: Deployments, where: str, named: str
):
    offsets = _member_offsets(sqlite_source.archive)
    if where.startswith("header of "):
        at = offsets[where.removeprefix("header of ")][0] + 10  # inside the member's name field
    elif where == "end of archive":
        at = sqlite_source.archive.stat().st_size - 100  # the tar's closing zero blocks
    else:
        _header, data, size = offsets[where]
        at = data + size // 2
    tampered = _flip(sqlite_source.archive, at, deployments.root)
    result = restore(empty_target, sqlite_source, archive=tampered, check=False)
    assert result.returncode == 1, result.stdout
    assert "壊れているか改ざんされています" in result.stderr
    assert named in result.stderr, result.stderr
    assert_untouched(empty_target)


def test_a_truncated_archive_is_refused(
    sqlite_source: Source, empty_target: Deployment, deployments: Deployments
):
    cut = deployments.root / "truncated.backup"
    data = sqlite_source.archive.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    result = restore(empty_target, sqlite_source, archive=cut, check=False)
    assert result.returncode == 1 and "壊れているか改ざんされています" in result.stderr
    assert_untouched(empty_target)


def test_the_archive_alone_reveals_nothing_and_restores_nothing(
    sqlite_source: Source, empty_target: Deployment
):
    data = sqlite_source.archive.read_bytes()
    for secret in (
        MAIN_PLAINTEXT,
        SHREDDED_PLAINTEXT,
        "令和8年度 倉敷処理区下水道管渠調査設計業務委託".encode(),
        "岡山 花子".encode(),
        b"sekisho-admin",
        b"orderer@example.invalid",
        sqlite_source.summary["token"].split("_")[1].encode(),
    ):
        assert secret not in data
    assert sqlite_source.keys.stat().st_size < 16 * 1024, (
        "the key file is small enough to print and keep apart"
    )
    assert sqlite_source.keys.read_bytes().startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")
    without = empty_target.run(
        "restore", str(sqlite_source.archive), "-i", str(sqlite_source.identity), check=False
    )
    assert without.returncode == 1 and "--keys" in without.stderr
    assert_untouched(empty_target)


def identity_seed() -> str:
    import base64
    import os

    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii") + "\n"


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_otherwise():
    from sekisho.ops.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Terminal()
    bar = Progress(tty)
    bar.phase("保管庫", 4 << 20, "bytes")
    for _ in range(4):
        bar.advance(1 << 20)
    bar.finish()
    assert "\r保管庫 [" in tty.getvalue() and "100%" in tty.getvalue() and "4.0 MiB/4.0 MiB" in tty.getvalue()
    plain = io.StringIO()
    lines = Progress(plain)
    lines.phase("保管庫", 4 << 20, "bytes")
    lines.advance(4 << 20)
    lines.finish()
    lines.note("保管庫: 1 ファイル")
    assert "\r" not in plain.getvalue() and plain.getvalue().splitlines() == [
        "保管庫（4.0 MiB） …",
        "保管庫: 1 ファイル",
    ]


def test_a_backup_in_a_cron_job_prints_plain_lines(sqlite_source: Source):
    assert "\r" not in sqlite_source.backup_output
    assert (
        "データベース:" in sqlite_source.backup_output
        and "バックアップを作成しました" in sqlite_source.backup_output
    )


def test_backup_and_restore_stream_a_large_blob_in_constant_memory(deployments: Deployments):
    big = 128 << 20
    source = deployments.new("sqlite", "big", SEKISHO_VAULT_SEGMENT_SIZE=str(1 << 20))
    source.run("migrate", "-v0")
    summary = json.loads(
        source.shell(
            "from tests.ops.dataset import build, upload_big; "
            f"build(demo_password='Big-Blob-Password-2026'); upload_big({big})"
        )
    )
    _check, baseline = source.peak_rss_mib("restore", "--check", "--no-progress")  # streams every blob too
    ident, recipient = identity(deployments.root)
    out = deployments.root / "big-backup"
    out.mkdir()
    backup, backup_peak = source.peak_rss_mib(
        "backup", "-o", str(out / "a"), "--keys-output", str(out / "k"), "-r", recipient
    )
    assert (out / "a").stat().st_size > big
    target = deployments.new("sqlite", "big-target", SEKISHO_VAULT_SEGMENT_SIZE=str(1 << 20))
    restored, restore_peak = target.peak_rss_mib(
        "restore", str(out / "a"), "--keys", str(out / "k"), "-i", str(ident), "--no-progress"
    )
    assert f"ok {summary['objects_ok'] + 1}、" in restored.stdout
    print(f"peak RSS: check {baseline:.0f} MiB, backup {backup_peak:.0f} MiB, restore {restore_peak:.0f} MiB")
    # A 128 MiB blob held in memory anywhere would add at least 128 MiB.
    assert backup_peak < baseline + 48, backup.stderr
    assert restore_peak < baseline + 48


def test_an_s3_vault_is_backed_up_and_restored_into_another_bucket(deployments: Deployments):
    import boto3

    from tests.vault.helpers import MotoServer

    workdir = deployments.root / "moto"
    workdir.mkdir()
    moto = MotoServer(workdir)
    try:
        client = boto3.client(
            "s3",
            endpoint_url=moto.url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        )

        def s3(bucket: str) -> dict[str, str]:
            client.create_bucket(Bucket=bucket)
            return {
                "SEKISHO_VAULT_BACKEND": "s3",
                "SEKISHO_VAULT_S3_ENDPOINT": moto.url,
                "SEKISHO_VAULT_S3_BUCKET": bucket,
                "SEKISHO_VAULT_S3_ACCESS_KEY": "test",
                "SEKISHO_VAULT_S3_SECRET_KEY": "test",
                "SEKISHO_VAULT_S3_PART_SIZE": str(5 << 20),
            }

        source = deployments.new("sqlite", "s3-source", **s3("sekisho-backup-source"))
        summary = build_source(source)
        ident, recipient = identity(deployments.root)
        out = deployments.root / "s3-backup"
        out.mkdir()
        source.run("backup", "-o", str(out / "a"), "--keys-output", str(out / "k"), "-r", recipient)
        before = source.snapshot()
        assert len(before["blobs"]) == summary["blobs"] and all(
            k.startswith(("objects/", "packages/")) for k in before["blobs"]
        )
        assert not (source.data_dir / "vault").exists(), "the blobs are in the bucket, not on disk"

        target = deployments.new("sqlite", "s3-target", **s3("sekisho-backup-target"))
        result = target.run(
            "restore", str(out / "a"), "--keys", str(out / "k"), "-i", str(ident), "--no-progress"
        )
        assert "復元検査: 正常" in result.stdout
        compare_restored(before, target.snapshot())
    finally:
        moto.stop()
