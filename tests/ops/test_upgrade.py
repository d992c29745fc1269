"""Upgrading a deployment of the previous release (commit 1107077): the current code's migrations run forward on
a copy of that release's database, and the data is intact afterwards — every row of every table it had, the
audit logs (chain, Merkle tree) and the demo users' passwords. The fixtures and how they were made:
tests/ops/data/README.md."""

from __future__ import annotations

import contextlib
import gzip
import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .harness import ROOT, Deployment, Deployments, identity

DATA = Path(__file__).resolve().parent / "data"
RELEASE = "1107077"
FIXTURE_PASSWORD = "Release-Fixture-Demo-2026"
# Tables of the previous release that its demo fills, and the rows it left in them: a fixture that has
# lost its data would otherwise make "the counts did not change" true for nothing.
DEMO_ROWS = {
    "core_user": 8,
    "core_contract": 2,
    "core_membership": 7,
    "people_rosterentry": 6,
    "audit_auditevent": 39,
    "audit_merklenode": 1,
}


def _counts_sqlite(path: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


def _counts_postgres(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(_psycopg_url(url)) as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = 'public'")
        ]
        return {t: conn.execute(f'SELECT COUNT(*) FROM public."{t}"').fetchone()[0] for t in tables}  # type: ignore[index]


def _psycopg_url(url: str) -> str:
    return urlsplit(url)._replace(scheme="postgresql").geturl()


def _install_fixture(deployment: Deployment) -> dict[str, int]:
    """Put the previous release's database in place; its row counts per table, before any migration."""
    if deployment.kind == "sqlite":
        path = deployment.data_dir / "sekisho.sqlite3"
        with gzip.open(DATA / f"release-{RELEASE}.sqlite3.gz", "rb") as src, path.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        return _counts_sqlite(path)
    import psycopg

    assert deployment.database_url is not None
    script = gzip.decompress((DATA / f"release-{RELEASE}.postgresql.sql.gz").read_bytes()).decode("utf-8")
    with psycopg.connect(_psycopg_url(deployment.database_url), autocommit=True) as conn:
        conn.execute(script)  # type: ignore[call-overload]
    return _counts_postgres(deployment.database_url)


@pytest.fixture(scope="module")
def deployments():
    made = Deployments()
    try:
        yield made
    finally:
        made.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_previous_releases_database_migrates_forward_with_its_data_intact(
    kind: str, deployments: Deployments
):
    deployment = deployments.new(kind, f"release-{RELEASE}")
    before = _install_fixture(deployment)
    assert {t: before[t] for t in DEMO_ROWS} == DEMO_ROWS, "the fixture holds the previous release's demo"
    assert "compliance_finding" not in before, "the fixture predates this session's apps"

    pending = deployment.run("migrate", "--plan").stdout
    assert "Planned operations" in pending and "No planned migration" not in pending, "migrations to run"
    deployment.run("migrate", "-v0")

    after = (
        _counts_sqlite(deployment.data_dir / "sekisho.sqlite3")
        if kind == "sqlite"
        else _counts_postgres(deployment.database_url or "")
    )
    grown = {"django_migrations", "django_content_type", "auth_permission"}  # migrate adds to these
    for table, count in before.items():
        assert table in after, f"{table} is gone"
        if table in grown:
            assert after[table] >= count, table
        else:
            assert after[table] == count, f"{table}: {count} rows before the upgrade, {after[table]} after"
    assert not deployment.run("migrate", "--check", check=False).returncode, "no migration left"

    # The audit logs verify (chain, Merkle nodes and compact range against the events), the vault holds, and
    # the demo users' passwords still work.
    check = deployment.run("restore", "--check", "--no-progress")
    assert "正常" in check.stdout
    assert deployment.run("audit", "check").returncode == 0
    logins = deployment.shell(
        "from sekisho.core.models import User; "
        f"print(sorted(u.username for u in User.objects.all() if u.check_password({FIXTURE_PASSWORD!r})))"
    )
    assert logins == str(
        sorted(["auditor", "manager", "orderer", "outsider", "staff", "staff2", "sub_staff"])
    )


@pytest.fixture(scope="module")
def previous_release_src(deployments: Deployments) -> Path:
    """The previous release's ``src`` (``git archive``; the working tree and git state are not touched), with
    today's ``sekisho.ops`` copied in so that it can make a backup of its own database."""
    target = deployments.root / f"release-{RELEASE}"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", RELEASE, "src"], capture_output=True, check=False
    )
    if archive.returncode != 0:
        pytest.skip(f"git archive {RELEASE} failed (not a git checkout?): {archive.stderr.decode()[:200]}")
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    shutil.copytree(ROOT / "src" / "sekisho" / "ops", target / "src" / "sekisho" / "ops")
    return target / "src"


def test_a_backup_made_at_the_previous_releases_schema_restores_into_the_current_code(
    previous_release_src: Path, deployments: Deployments
):
    """The restore migrates the new database to the archive's migration state, loads the rows with the models
    of that state, then runs the upgrade's migrations: an old backup comes back into new code."""
    old = deployments.new("sqlite", "old-release")
    before = _install_fixture(old)
    ident, recipient = identity(deployments.root)
    archive, keys = deployments.root / "old.backup", deployments.root / "old.keys.age"
    old.run(
        "shell",
        "-c",
        "from pathlib import Path; from sekisho.ops.backup import create_backup; "
        "from sekisho.ops.keyfile import parse_recipients; from sekisho.ops.progress import Progress; "
        f"create_backup(Path({str(archive)!r}), Path({str(keys)!r}), recipients=parse_recipients([{recipient!r}]), "
        "passphrase=None, progress=Progress(enabled=False))",
        python_path=str(previous_release_src),
    )
    target = deployments.new("sqlite", "new-release")
    result = target.run("restore", str(archive), "--keys", str(keys), "-i", str(ident), "--no-progress")
    assert "復元検査: 正常" in result.stdout
    after = _counts_sqlite(target.data_dir / "sekisho.sqlite3")
    assert "compliance_finding" in after, "the current code's tables were made by the upgrade"
    events = {"audit_auditevent": 2}  # the old deployment's ops.backup (in the archive) and the ops.restore
    for table, count in before.items():
        if table in {"django_migrations", "django_content_type", "auth_permission"}:
            assert after[table] >= count, table
        else:
            assert after[table] == count + events.get(table, 0), table
