"""`sekisho agent enroll | report | status | open` against a real running server, on this machine's real OS.

The server runs as a subprocess (`sekisho migrate`, `sekisho demo`, `sekisho serve`) on its own data
directory and, when the run uses PostgreSQL, on a throwaway database created and dropped here. (Django's
live_server cannot be used: it empties tables between tests and the audit table refuses deletes.)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Sekisho-agent-e2e-2026"


@dataclass
class Server:
    url: str
    env: dict[str, str]
    data_dir: Path

    def sekisho(
        self, *args: str, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sekisho", *args],
            env={**self.env, **(extra_env or {})},
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def token(self, username: str) -> str:
        done = self.sekisho("token", "create", username, "--name", "agent-e2e")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    def api(self, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/api/v1{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def database_url() -> Iterator[str | None]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        yield None
        return
    import psycopg
    from psycopg import sql

    name = f"sekisho_agent_e2e_{os.getpid()}"
    parts = urlsplit(url)
    # CREATE/DROP DATABASE run from the maintenance database: the named one may not exist (pytest-django
    # creates test_<name> for itself).
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def server(database_url: str | None) -> Iterator[Server]:
    data_dir = Path(tempfile.mkdtemp(prefix="sekisho-agent-e2e-"))
    env = {**os.environ, "SEKISHO_DATA_DIR": str(data_dir), "SEKISHO_SECURE_COOKIES": "0"}
    for name in ("SEKISHO_VAULT_DIR", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "SEKISHO_AGENT_HOME"):
        env.pop(name, None)
    if database_url:
        env["DATABASE_URL"] = database_url
    port = _free_port()
    srv = Server(url=f"http://127.0.0.1:{port}", env=env, data_dir=data_dir)
    for args in (("migrate", "-v0"), ("demo", "--password", PASSWORD)):
        done = srv.sekisho(*args)
        assert done.returncode == 0, f"sekisho {args}: {done.stdout}\n{done.stderr}"
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sekisho",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=env,
        cwd=data_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{srv.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{(data_dir / 'server.log').read_text(errors='replace')}")
            time.sleep(0.2)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_agent_enrolls_reports_and_is_cut_off_when_revoked(server: Server, tmp_path: Path):
    staff, manager = server.token("staff"), server.token("manager")
    status, contracts = server.api(staff, "GET", "/contracts")
    contract_id = next(c["id"] for c in contracts if c["number"] == "倉下建第2026-118号")

    # Staff registers this PC; the information manager approves it and issues a one-time code.
    status, device = server.api(
        staff,
        "POST",
        "/devices",
        {"contract_id": contract_id, "name": socket.gethostname(), "kind": "server", "os": "linux"},
    )
    assert status == 201, device
    uid = device["uid"]
    status, approved = server.api(manager, "POST", f"/devices/{uid}/approve", {"valid_days": 30})
    assert status == 200 and approved["status"] == "approved", approved
    status, issued = server.api(manager, "POST", f"/devices/{uid}/enrollment-code", None)
    assert status == 201, issued

    agent_env = {"SEKISHO_AGENT_HOME": str(tmp_path / "agent")}
    enrolled = server.sekisho(
        "agent", "enroll", "--server", server.url, "--code", issued["code"], extra_env=agent_env
    )
    print(enrolled.stdout, enrolled.stderr)
    assert enrolled.returncode == 0, enrolled.stderr
    assert f"端末ID {uid}" in enrolled.stdout
    key_file = tmp_path / "agent" / "device.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key_file.read_bytes()
    assert json.loads((tmp_path / "agent" / "config.json").read_text())["enrollments"][0]["device"] == uid

    # The report is this machine's real facts, signed with the device key.
    reported = server.sekisho("agent", "report", extra_env=agent_env)
    print(reported.stdout, reported.stderr)
    assert reported.returncode in (0, 3), reported.stderr
    assert "送信しました" in reported.stdout
    status, history = server.api(manager, "GET", f"/devices/{uid}/posture")
    assert status == 200 and len(history) == 1
    assert history[0]["platform"] == "linux"
    assert history[0]["facts"]["hostname"] == socket.gethostname()
    assert history[0]["passed"] is (reported.returncode == 0)
    if reported.returncode == 3:  # this PC fails some checks: each is listed to the user, in Japanese
        assert "判定: 不適合" in reported.stdout
        for failure in history[0]["failures"]:
            assert failure["message"] in reported.stdout

    # The Django-free entry point says the same.
    status_run = subprocess.run(
        [sys.executable, "-m", "sekisho.agent", "--json", "status"],
        env={**server.env, **agent_env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    print(status_run.stdout, status_run.stderr)
    answer = json.loads(status_run.stdout)
    assert answer["status"] == "approved" and answer["device"] == uid
    assert answer["access"] is (status_run.returncode == 0)
    assert answer["latest_report_at"] is not None

    opened = server.sekisho("agent", "--json", "open", "--no-browser", extra_env=agent_env)
    assert opened.returncode == 0, opened.stderr
    url = json.loads(opened.stdout)["url"]
    assert url.startswith(f"{server.url}/devices/bind/")

    # Revoked: the key is forgotten, the agent is refused with the clause.
    status, _ = server.api(manager, "POST", f"/devices/{uid}/revoke", {"reason": "E2E 終了"})
    assert status == 200
    refused = server.sekisho("agent", "report", extra_env=agent_env)
    print(refused.stdout, refused.stderr)
    assert refused.returncode == 1
    assert "[R2.7ア]" in refused.stderr and "登録されていない端末です" in refused.stderr
