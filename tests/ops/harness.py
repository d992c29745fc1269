"""Deployments of their own for backup, restore and upgrade tests: a data directory, and a SQLite file in it
or a throwaway PostgreSQL database ``sekisho_backup_<random>``, driven through the real ``sekisho`` command
in subprocesses (the audit tables refuse the deletes that Django's transactional test cases need).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "Backup-Test-Password-2026"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
TIMEOUT = 300


def pg_admin_url() -> str:
    """The maintenance database of the PostgreSQL server the run uses (DATABASE_URL's, or 127.0.0.1:5432)."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://", "pgsql://")):
        return urlunsplit(urlsplit(url)._replace(scheme="postgresql", path="/postgres"))
    return PG_DEFAULT


def require_postgres() -> str:
    """The admin URL, or skip (fail with SEKISHO_REQUIRE_POSTGRES=1) when PostgreSQL does not answer."""
    import psycopg

    url = pg_admin_url()
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        if os.environ.get("SEKISHO_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"SEKISHO_REQUIRE_POSTGRES=1 but PostgreSQL does not answer at {url}: {exc}")
        pytest.skip(f"PostgreSQL does not answer at {url}: the PostgreSQL variant is skipped")
    return url


def create_pg_database(admin_url: str) -> str:
    import psycopg
    from psycopg import sql

    name = f"sekisho_backup_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def drop_pg_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(pg_admin_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass
class Deployment:
    """One deployment: its data directory (SQLite file, vault, keys) and, for PostgreSQL, its database."""

    kind: str  # "sqlite" | "postgresql"
    data_dir: Path
    database_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEKISHO_") and k != "DATABASE_URL"}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        env.update(
            SEKISHO_DATA_DIR=str(self.data_dir),
            SEKISHO_VAULT_SEGMENT_SIZE="4096",  # small test files still span many segments
            PYTHONPATH=str(ROOT / "src"),
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def run(
        self, *args: str, check: bool = True, python_path: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = self.env()
        if python_path is not None:
            env["PYTHONPATH"] = python_path
        result = subprocess.run(
            [sys.executable, "-m", "sekisho", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"`sekisho {' '.join(args)}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}",
                pytrace=False,
            )
        return result

    def peak_rss_mib(self, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
        """Run `sekisho ARGS` and measure its peak resident memory (MiB) on its own."""
        measure = (
            "import resource, subprocess, sys; "
            "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "sys.stderr.write(r.stderr); sys.stdout.write(r.stdout); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
        )
        result = subprocess.run(
            [sys.executable, "-c", measure, sys.executable, "-m", "sekisho", *args],
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(
                f"`sekisho {' '.join(args)}` failed:\n{result.stdout}\n{result.stderr}", pytrace=False
            )
        return result, int(result.stdout.strip().splitlines()[-1]) / 1024

    def shell(self, code: str) -> str:
        """Run Python inside the deployment; its last line of output."""
        out = self.run("shell", "-c", code).stdout.strip().splitlines()
        return out[-1] if out else ""

    def snapshot(self, token: str = "") -> dict[str, Any]:
        path = self.data_dir.parent / f"snapshot-{secrets.token_hex(4)}.json"
        self.shell(f"from tests.ops.snapshot import write; write({str(path)!r}, token={token!r})")
        try:
            return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
        finally:
            path.unlink()

    def tables(self) -> list[str]:
        """The database's tables (read directly, without starting Sekisho)."""
        if self.database_url:
            import psycopg

            with psycopg.connect(self.database_url.replace("postgres://", "postgresql://", 1)) as conn:
                rows = conn.execute(
                    "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = 'public'"
                ).fetchall()
            return sorted(r[0] for r in rows)
        path = self.data_dir / "sekisho.sqlite3"
        if not path.exists():
            return []
        with contextlib.closing(sqlite3.connect(path)) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return sorted(r[0] for r in rows)

    def files(self) -> list[str]:
        """Files of the vault and the key store (what a restore would write)."""
        found = []
        for sub in ("vault", "keys"):
            root = self.data_dir / sub
            if root.exists():
                found += [str(p.relative_to(self.data_dir)) for p in root.rglob("*") if p.is_file()]
        return sorted(f for f in found if not f.endswith("CACHEDIR.TAG"))


class Deployments:
    """Makes deployments in one temporary directory and removes them (and their databases) at the end."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sekisho-backup-"))
        self.made: list[Deployment] = []

    def new(self, kind: str, name: str = "", **extra_env: str) -> Deployment:
        data_dir = self.root / f"{name or kind}-{secrets.token_hex(3)}"
        data_dir.mkdir()
        url = create_pg_database(require_postgres()) if kind == "postgresql" else None
        deployment = Deployment(kind, data_dir, url, dict(extra_env))
        self.made.append(deployment)
        return deployment

    def close(self) -> None:
        for deployment in self.made:
            if deployment.database_url:
                drop_pg_database(deployment.database_url)
        shutil.rmtree(self.root, ignore_errors=True)


def identity(directory: Path) -> tuple[Path, str]:
    """A new age identity file and its recipient."""
    import pyrage

    key = pyrage.x25519.Identity.generate()
    path = directory / f"identity-{secrets.token_hex(3)}.txt"
    path.write_text(f"# test identity\n{key}\n", encoding="utf-8")
    return path, str(key.to_public())


def build_source(deployment: Deployment, *, shred: bool = True) -> dict[str, Any]:
    """migrate, demo, the realistic dataset (``dataset.py``); the dataset's summary."""
    deployment.run("migrate", "-v0")
    line = deployment.shell(
        f"from tests.ops.dataset import build; build(shred={shred}, demo_password={DEMO_PASSWORD!r})"
    )
    return json.loads(line)  # type: ignore[no-any-return]


def compare_restored(source: dict[str, Any], restored: dict[str, Any]) -> None:
    """Every row, blob and key of *source* is in *restored*, unchanged; the only additions are the restore's
    own audit event (``ops.restore``) in the deployment log and what appending it changed."""
    src_rows, dst_rows = source["rows"], restored["rows"]
    assert sorted(dst_rows) == sorted(src_rows), "the same models on both sides"
    for label, table in src_rows.items():
        other = dst_rows[label]
        assert other["columns"] == table["columns"], label
        if label == "audit.auditevent":
            _compare_events(table, other)
        elif label == "audit.auditstream":
            _compare_streams(table, other)
        elif label == "audit.merklenode":
            missing = [r for r in table["rows"] if r not in other["rows"]]
            assert not missing, f"Merkle nodes lost: {missing[:3]}"
        else:
            assert len(other["rows"]) == len(table["rows"]), f"{label}: row count"
            for a, b in zip(table["rows"], other["rows"], strict=True):
                assert a == b, f"{label}: row {a[0]} differs:\n{a}\n{b}"
    assert restored["blobs"] == source["blobs"], "every blob, byte for byte (SHA-256)"
    assert restored["keys"] == source["keys"], "the key material"


def _compare_events(table: dict[str, Any], other: dict[str, Any]) -> None:
    action = table["columns"].index("action")
    extra = other["rows"][len(table["rows"]) :]
    assert other["rows"][: len(table["rows"])] == table["rows"], "every audit event unchanged, same ids"
    assert [r[action] for r in extra] == ["ops.restore"], "the restore's own event and nothing else"


def _compare_streams(table: dict[str, Any], other: dict[str, Any]) -> None:
    key, size = table["columns"].index("key"), table["columns"].index("size")
    for a, b in zip(table["rows"], other["rows"], strict=True):
        if a[key] == "deployment":
            assert b[size] == a[size] + 1, "the deployment log grew by the restore's event"
        else:
            assert a == b, f"audit stream {a[key]}"
