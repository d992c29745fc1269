"""Uploads cut short against the real server (gunicorn, as deployed): the client going away, and the server
process killed mid-upload. Neither leaves an asset version, nor a byte of plaintext on disk; after a restart
the audit chain still verifies and ``vault verify --clean`` removes the partial ciphertext.

The server runs as a subprocess on its own data directory (and, on PostgreSQL, its own database): Django's
live_server empties tables between tests, which the append-only audit table refuses.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sekisho.agent.signing import sign_request

from .helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Sekisho-vault-kill-2026"
SETUP = """
import json, types
from sekisho.core.auth import issue_api_token
from sekisho.core.models import Contract, User
from sekisho.people.models import RosterEntry
from tests.people.clearing import clear_contract
from tests.vault.helpers import electronic_asset, make_pc

contract = Contract.objects.get(number="倉下建第2026-118号")
world = types.SimpleNamespace(
    contract=contract,
    manager=User.objects.get(username="manager"),
    staff=User.objects.get(username="staff"),
)
# The demo clears its people for information (roster, training, pledge); older demos did not.
if not RosterEntry.objects.filter(user=world.staff).exists():
    clear_contract(contract, world.manager, [world.staff])
asset = electronic_asset(world, title="中断試験")
pc = make_pc(world)
_token, text = issue_api_token(world.staff, acting_user=world.staff, name="kill-test")
print(json.dumps({
    "contract": contract.pk, "asset": asset.pk, "token": text, "device": str(pc.device.uid),
    "key": pc.key.private_bytes_raw().hex(),
}))
"""
COUNT = "from sekisho.vault.models import VaultObject; print(VaultObject.objects.count())"
pytestmark = pytest.mark.django_db  # only for the throwaway database's name; the server has its own


@pytest.fixture
def database_url() -> Iterator[str | None]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield None
        return
    import psycopg
    from psycopg import sql

    name = f"sekisho_vault_kill_{os.getpid()}"
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class Server:
    def __init__(self, data_dir: Path, database_url: str | None) -> None:
        self.data_dir = data_dir
        self.tmp = data_dir / "tmp"
        self.tmp.mkdir(parents=True)
        self.env = {
            **os.environ,
            "SEKISHO_DATA_DIR": str(data_dir),
            "SEKISHO_SECURE_COOKIES": "0",
            "TMPDIR": str(self.tmp),
        }
        for name in ("SEKISHO_VAULT_DIR", "DJANGO_SETTINGS_MODULE", "SEKISHO_VAULT_BACKEND"):
            self.env.pop(name, None)
        if database_url:
            self.env["DATABASE_URL"] = database_url
        else:
            self.env.pop("DATABASE_URL", None)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def sekisho(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "sekisho", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(
                f"`sekisho {' '.join(args)}` failed:\n{result.stdout}\n{result.stderr}", pytrace=False
            )
        return result.stdout

    def start(self) -> None:
        log = (self.data_dir / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sekisho",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the master and its worker die together
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"server did not start:\n{(self.data_dir / 'server.log').read_text()}", pytrace=False
                )
            time.sleep(0.2)

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def partials(self) -> list[Path]:
        return [p for p in (self.data_dir / "vault").rglob("*") if ".partial-" in p.name]


def contains(path: Path, needle: bytes) -> bool:
    try:
        with path.open("rb") as fh:
            tail = b""
            while chunk := fh.read(1 << 20):
                if needle in tail + chunk:
                    return True
                tail = chunk[-len(needle) :]
    except OSError:
        return False
    return False


def files_with(needle: bytes, roots: list[Path], since: float) -> list[Path]:
    found = []
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                path = Path(dirpath, name)
                try:
                    if not path.is_file() or path.stat().st_mtime < since:
                        continue
                except OSError:
                    continue
                if contains(path, needle):
                    found.append(path)
    return found


def start_upload(server: Server, info: dict, total: int, first: bytes) -> http.client.HTTPConnection:
    """Ask for a ticket with a device-signed request, then start a PUT of *total* bytes and send *first*."""
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(info["key"]))
    base = f"/api/v1/contracts/{info['contract']}/assets/{info['asset']}/content"
    headers = sign_request(
        key, method="POST", path=f"{base}/ticket", body=b"", key_id=info["device"]
    ).as_dict()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(
        "POST", f"{base}/ticket", body=b"", headers={**headers, "Authorization": f"Bearer {info['token']}"}
    )
    response = conn.getresponse()
    assert response.status == 200, response.read()
    ticket = json.loads(response.read())["ticket"]
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("PUT", base)
    conn.putheader("Authorization", f"Bearer {info['token']}")
    conn.putheader("X-Sekisho-Vault-Ticket", ticket)
    conn.putheader("X-Sekisho-Filename", "interrupted.csv")
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Content-Length", str(total))
    conn.endheaders()
    conn.send(first)
    return conn


def wait_for(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_uploads_cut_short_leave_no_version_and_no_plaintext(tmp_path_factory, database_url):
    started = time.time() - 1
    server = Server(tmp_path_factory.mktemp("vault-kill"), database_url)
    marker = f"SEKISHO-PLAINTEXT-MARKER-{uuid.uuid4().hex}".encode()
    line = marker + ",倉敷市,下水道使用者情報\n".encode()
    body = line * ((3 << 20) // len(line) + 1)  # ~3 MiB sent of a 64 MiB upload
    total = 64 << 20
    try:
        server.sekisho("migrate", "-v0")
        server.sekisho("demo", "--password", PASSWORD)
        info = json.loads(server.sekisho("shell", "-c", SETUP).strip().splitlines()[-1])
        server.start()

        # 1. The client goes away mid-upload: the server aborts and removes the partial blob.
        conn = start_upload(server, info, total, body)
        assert wait_for(lambda: any(p.stat().st_size > 1 << 20 for p in server.partials())), (
            "upload did not start"
        )
        conn.sock.close()  # type: ignore[union-attr]
        assert wait_for(lambda: not server.partials()), (
            "the partial blob of a client that left was not removed"
        )
        assert server.sekisho("shell", "-c", COUNT).split()[-1] == "0"

        # 2. The server is killed mid-upload.
        conn = start_upload(server, info, total, body)
        assert wait_for(lambda: any(p.stat().st_size > 1 << 20 for p in server.partials())), (
            "upload did not start"
        )
        server.kill()
        conn.close()
        assert server.sekisho("shell", "-c", COUNT).split()[-1] == "0", "no version without its last segment"
        left = server.partials()
        assert left, "the killed upload left its partial ciphertext (to be cleaned)"

        # Nothing of the plaintext anywhere: data directory (vault, database, logs), the server's TMPDIR, /tmp.
        assert files_with(marker, [server.data_dir, Path("/tmp")], since=started) == []

        # 3. After a restart: the server answers, the audit chain verifies, verify cleans the partial.
        server.start()
        server.sekisho("audit", "check")
        report = server.sekisho("vault", "verify", "--clean", "--older-than", "0")
        assert "partial" in report and "削除しました" in report
        assert server.partials() == []
        server.sekisho("audit", "check")
    finally:
        server.stop()
