"""Make the upgrade-test fixtures: databases of a previous release, as it left them.

    .venv/bin/python tests/ops/data/make_release_fixtures.py [COMMIT]      (default 1107077)

For the release at COMMIT it extracts ``src/`` with ``git archive`` (the working tree and git state are not
touched), runs that code's ``sekisho migrate`` and ``sekisho demo --password …`` against a fresh SQLite file
and against a throwaway PostgreSQL database on 127.0.0.1:5432 (user postgres), and writes, next to this
script:

    release-COMMIT.sqlite3.gz          the SQLite file (VACUUM INTO a compact copy, gzip -9)
    release-COMMIT.postgresql.sql.gz   pg_dump --no-owner --no-privileges --column-inserts (plain SQL, gzip -9)
                                       without the psql-only \\restrict/\\unrestrict lines, so psycopg loads it

See README.md here. The virtualenv's installed packages are used with the old ``src`` first on PYTHONPATH.
"""

from __future__ import annotations

import gzip
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
DEMO_PASSWORD = "Release-Fixture-Demo-2026"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def sekisho(src: Path, data_dir: Path, database_url: str | None, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEKISHO_") and k != "DATABASE_URL"}
    env.update(PYTHONPATH=str(src), SEKISHO_DATA_DIR=str(data_dir))
    if database_url:
        env["DATABASE_URL"] = database_url
    subprocess.run([sys.executable, "-m", "sekisho", *args], env=env, cwd=data_dir, check=True)


def build(src: Path, data_dir: Path, database_url: str | None) -> None:
    data_dir.mkdir(parents=True)
    sekisho(src, data_dir, database_url, "migrate", "-v0")
    sekisho(src, data_dir, database_url, "demo", "--password", DEMO_PASSWORD)


def gzip_to(data: bytes, path: Path) -> None:
    # mtime=0: the same database gives the same file
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as fh:
        fh.write(data)
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)")


def main() -> None:
    commit = sys.argv[1] if len(sys.argv) > 1 else "1107077"
    work = Path(tempfile.mkdtemp(prefix="sekisho-release-"))
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit, "src"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
        src = work / "src"

        build(src, work / "sqlite", None)
        compact = work / "compact.sqlite3"
        with sqlite3.connect(work / "sqlite" / "sekisho.sqlite3") as conn:
            conn.execute("VACUUM INTO ?", (str(compact),))
        gzip_to(compact.read_bytes(), HERE / f"release-{commit}.sqlite3.gz")

        import psycopg
        from psycopg import sql

        name = f"sekisho_backup_fixture_{secrets.token_hex(4)}"
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            build(src, work / "postgresql", url)
            dump = subprocess.run(
                ["pg_dump", "--no-owner", "--no-privileges", "--column-inserts", "--dbname", url],
                check=True,
                capture_output=True,
            ).stdout
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        lines = [line for line in dump.split(b"\n") if not line.startswith((b"\\restrict", b"\\unrestrict"))]
        gzip_to(b"\n".join(lines), HERE / f"release-{commit}.postgresql.sql.gz")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
