"""The production server (``sekisho serve``: gunicorn) as a subprocess on a data directory and a database of
its own, to kill and restart. Django's live_server cannot be used: it empties tables between tests, which
the append-only audit table refuses (the same reason tests/e2e and tests/vault run a subprocess)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Sekisho-faults-Kurashiki-2026"
DEMO_CONTRACT = "倉下建第2026-118号"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def throwaway_database(label: str) -> Iterator[str | None]:
    """A fresh PostgreSQL database when the run uses PostgreSQL; None (SQLite in the data dir) otherwise."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield None
        return
    import psycopg
    from psycopg import sql

    name = f"sekisho_{label}_{os.getpid()}"
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
    def __init__(self, data_dir: Path, database_url: str | None, **env: str) -> None:
        self.data_dir = data_dir
        self.tmp = data_dir / "tmp"  # the server's TMPDIR: scanned for plaintext after a kill
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "SEKISHO_DATA_DIR": str(data_dir),
            "SEKISHO_SECURE_COOKIES": "0",
            "TMPDIR": str(self.tmp),
            **env,
        }
        for name in ("SEKISHO_VAULT_DIR", "DJANGO_SETTINGS_MODULE", "SEKISHO_VAULT_BACKEND"):
            self.env.pop(name, None)
        if database_url:
            self.env["DATABASE_URL"] = database_url
        elif "DATABASE_URL" not in env:
            self.env.pop("DATABASE_URL", None)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sekisho(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "sekisho", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"`sekisho {' '.join(args)}` failed:\n{result.stdout}\n{result.stderr}", pytrace=False
            )
        return result.stdout + result.stderr

    def shell_json(self, code: str) -> Any:
        return json.loads(self.sekisho("shell", "-c", code).strip().splitlines()[-1])

    def start(
        self, *, health: str = "/healthz", expect: int = 200, workers: int = 1, args: tuple[str, ...] = ()
    ) -> None:
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
                str(workers),
                *args,
            ],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the master and its worker die together
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                status = self.get(health).status
                if status == expect:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{self.log()}", pytrace=False)
            time.sleep(0.2)

    def get(self, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            response = urllib.request.urlopen(request, timeout=10)
        except urllib.error.HTTPError as exc:
            exc.body = exc.read()  # type: ignore[attr-defined]
            return exc  # type: ignore[return-value]
        response.body = response.read()  # type: ignore[attr-defined]
        return response

    def kill(self) -> None:
        """SIGKILL the master and its workers: no handler runs, nothing is flushed or cleaned up."""
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

    def log(self) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def partials(self) -> list[Path]:
        vault = self.data_dir / "vault"
        return [p for p in vault.rglob("*") if ".partial-" in p.name] if vault.exists() else []


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


def _contains(path: Path, needle: bytes) -> bool:
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


def files_with(
    needle: bytes, roots: list[Path], since: float, skip: Callable[[Path], bool] = lambda p: False
) -> list[Path]:
    """Files changed since *since* under *roots* that contain *needle*."""
    found = []
    for root in roots:
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                path = Path(dirpath, name)
                try:
                    if skip(path) or not path.is_file():
                        continue
                    stat = path.stat()
                    if stat.st_mtime < since or stat.st_size > 1 << 30:  # no test here writes a GiB
                        continue
                except OSError:
                    continue
                if _contains(path, needle):
                    found.append(path)
    return found
