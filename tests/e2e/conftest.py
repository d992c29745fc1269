"""Browser tests against the real server.

The server runs as a subprocess (`sekisho migrate`, `sekisho demo`, `sekisho serve`) on its own data directory
and, when the test run uses PostgreSQL, on a database of its own. Django's live_server cannot be used: it
empties tables between tests, and the audit table refuses deletes (database triggers).

The browser is Debian's Chromium driven by Playwright. Every page records the requests it makes and the
console messages it logs, so each test can assert that nothing left 127.0.0.1 and that the CSP blocked
nothing.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
DEMO_PASSWORD = "Sekisho-e2e-Kurashiki-2026"
STARTUP_TIMEOUT = 30.0
OTHER_CONTRACT_NUMBER = "倉下建第2026-131号"
# Enough events in the other contract's audit chain for a second page, so htmx paging runs in the browser.
AUDIT_FILLER = f"""
from django.db import transaction
from sekisho.audit.services import record
from sekisho.core.models import Contract
contract = Contract.objects.get(number={OTHER_CONTRACT_NUMBER!r})
with transaction.atomic():
    for n in range(60):
        record(actor="e2e", action="e2e.filler", contract=contract, obj=contract, summary={{"n": n}})
"""


def _browser_missing(reason: str) -> None:
    if os.environ.get("SEKISHO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"SEKISHO_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(f"BROWSER TESTS SKIPPED: {reason} (set SEKISHO_REQUIRE_BROWSER=1 to make this a failure)")


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    if not CHROMIUM.exists():
        _browser_missing(f"{CHROMIUM} is missing — install it with `apt-get install -y chromium`")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _browser_missing("the playwright package is not installed (pip install -e '.[dev]')")
    return str(CHROMIUM)


# --- the server ---------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sekisho(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sekisho", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`sekisho {' '.join(args)}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def e2e_database_url() -> Iterator[str | None]:
    """A fresh PostgreSQL database when the run uses PostgreSQL; None (SQLite in the data dir) otherwise."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        yield None
        return
    import psycopg
    from psycopg import sql

    name = f"sekisho_e2e_{os.getpid()}"
    parts = urlsplit(url)
    # Create and drop through the maintenance database: the one DATABASE_URL names may not exist yet.
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def server_url(chromium_executable: str, e2e_database_url: str | None) -> Iterator[str]:
    """Migrate, load the demo and serve it with gunicorn; yield the base URL."""
    data_dir = Path(tempfile.mkdtemp(prefix="sekisho-e2e-"))
    env = {**os.environ, "SEKISHO_DATA_DIR": str(data_dir), "SEKISHO_SECURE_COOKIES": "0"}
    env.pop("SEKISHO_VAULT_DIR", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if e2e_database_url:
        env["DATABASE_URL"] = e2e_database_url
    else:
        env.pop("DATABASE_URL", None)
    _sekisho("migrate", "-v0", env=env)
    _sekisho("demo", "--password", DEMO_PASSWORD, env=env)
    _sekisho("shell", "-c", AUDIT_FILLER, env=env)

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
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
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(f"{base}/healthz", proc, log_path)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def _wait_until_healthy(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_error = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"the server exited with {proc.returncode} before answering:\n{log_path.read_text(errors='replace')}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.2)
    pytest.fail(
        f"the server did not answer {url} within {STARTUP_TIMEOUT:.0f} s ({last_error}):\n"
        f"{log_path.read_text(errors='replace')}",
        pytrace=False,
    )


# --- the browser --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(chromium_executable: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watched:
    """A page and what it did: every request URL, console errors, uncaught script errors."""

    page: Any
    base_url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def external_requests(self) -> list[str]:
        return [url for url in self.requests if urlsplit(url).hostname != "127.0.0.1"]

    def csp_violations(self) -> list[str]:
        return [text for text in self.console_errors if "Content Security Policy" in text]


@pytest.fixture
def watched(browser: Any, server_url: str) -> Iterator[Watched]:
    """A fresh browser context (no cookies) in Japanese, with every request and console error recorded.

    After the test: no request may have gone anywhere but 127.0.0.1, the CSP must have blocked nothing and
    no script may have thrown."""
    context = browser.new_context(
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
        viewport={"width": 1280, "height": 860},
        service_workers="block",
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    seen = Watched(page=page, base_url=server_url)
    page.on("request", lambda request: seen.requests.append(request.url))
    page.on("console", lambda msg: seen.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: seen.page_errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        yield seen
        assert seen.requests, "the page made no request at all; the recorder is not working"
        assert seen.external_requests() == [], "requests left the machine"
        assert seen.csp_violations() == [], "the Content Security Policy blocked something"
        assert seen.page_errors == [], "a script threw"
    finally:
        context.close()


# --- logging in ---------------------------------------------------------------------------------------------


def totp_now(secret_b32: str) -> str:
    from django_otp.oath import TOTP

    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    return f"{TOTP(key, step=30, t0=0, digits=6).token():06d}"


def submit_password(seen: Watched, username: str, password: str = DEMO_PASSWORD) -> None:
    seen.goto("/login/")
    seen.page.get_by_label("ユーザー名").fill(username)
    seen.page.get_by_label("パスワード").fill(password)
    seen.page.get_by_role("button", name="ログイン").click()
    seen.page.wait_for_load_state()


# Authenticator keys of the users who enrolled through `log_in` in this session (one server for the session).
TOTP_SECRETS: dict[str, str] = {}


def log_in(seen: Watched, username: str, password: str = DEMO_PASSWORD) -> None:
    """Log in as anyone: password, then the second factor where the role needs one — enrolling an
    authenticator on the first login (the key is read from the page and kept in TOTP_SECRETS), typing the
    current code on later ones. Ends on the contract list."""
    submit_password(seen, username, password)
    page = seen.page
    if page.url.endswith("/login/otp/setup/"):
        secret = "".join(page.locator("#totp-secret").inner_text().split())
        TOTP_SECRETS[username] = secret
        page.get_by_label("確認コード（6桁）").fill(totp_now(secret))
        page.get_by_role("button", name="登録してログイン").click()
    elif page.url.endswith("/login/otp/"):
        secret = TOTP_SECRETS[username]  # a KeyError: another test enrolled this user without log_in
        time.sleep(30 - time.time() % 30 + 0.5)  # a code is accepted once: wait for a fresh one
        page.get_by_label("確認コード（6桁）").fill(totp_now(secret))
        page.get_by_role("button", name="確認してログイン").click()
    page.wait_for_url(seen.base_url + "/")


def log_out(seen: Watched) -> None:
    seen.page.locator("header").get_by_role("button", name="ログアウト").click()
    seen.page.wait_for_url(seen.base_url + "/login/")
