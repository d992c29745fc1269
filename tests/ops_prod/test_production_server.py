"""The production command serves the app with two worker processes against PostgreSQL.

One throwaway PostgreSQL database (conftest.py), migrated and loaded with the demo; ``sekisho serve --workers 2``
configured as behind a TLS reverse proxy (secure cookies, a public host name, JSON logs), which passes
``sekisho check --deploy`` as it is. Through it: both workers answer; a person logs in through the real login
page and opens a page; the counters at /metrics are the sum over both workers; every log line is JSON; a
reported incident's e-mails are queued, then sent by a real ``sekisho db_worker`` to an SMTP server, the one
the server refuses recorded and queued again; a worker recycled by --max-requests loses no count.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.faults.server import Server

from .smtp import Mailbox, smtp_server

PASSWORD = "Sekisho-prod-Kurashiki-2026"
HOST = "sekisho.test"
CONTRACT_NUMBER = "倉下建第2026-118号"
METRICS_TOKEN = secrets.token_hex(24)
REFUSED_ADDRESS = "orderer@example.invalid"
TASKS = (
    "import json; from django_tasks_db.models import DBTaskResult as T; "
    "print(json.dumps([[t.status, t.args_kwargs['args'][2], t.args_kwargs['kwargs'], t.exception_class_path, t.args_kwargs['args'][0]] "
    "for t in T.objects.order_by('enqueued_at')]))"
)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def cookies(self) -> dict[str, str]:
        jar = {}
        for header in self.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            jar[name.strip()] = rest.split(";", 1)[0]
        return jar

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Browser:
    """What a browser behind the TLS proxy sends: the public host, https as the forwarded scheme, the client's
    address appended by the proxy, and its cookies (Secure ones too: the browser's side of the proxy is
    https)."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = {
            "Host": HOST,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "198.51.100.7",
            **headers,
        }
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            reply = Reply(response.status, response.headers, response.read())
        finally:
            connection.close()
        self.cookies.update(reply.cookies())
        return reply

    def csrf_headers(self, referer: str) -> dict[str, str]:
        return {"Origin": f"https://{HOST}", "Referer": f"https://{HOST}{referer}"}


def direct(port: int, path: str, **headers: str) -> Reply:
    """A request straight to the server from this machine (a Prometheus on the host, a health probe)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": "127.0.0.1", **headers})
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def samples(reply: Reply) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert reply.status == 200, reply.text()
    found = {}
    for family in text_string_to_metric_families(reply.text()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def requests_of(found: dict, route: str, status: str = "200", method: str = "GET") -> float:
    key = ("sekisho_http_requests_total", (("method", method), ("route", route), ("status", status)))
    return found.get(key, 0.0)


def log_entries(server: Server) -> list[dict[str, Any]]:
    lines = [line for line in server.log().splitlines() if line.strip()]
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"a log line that is not JSON: {line!r}", pytrace=False)
    return entries


def worker_pids(master: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            children.add(int(stat.parent.name))
    return children


# --- the server ---------------------------------------------------------------------------------------------


@dataclass
class Production:
    server: Server
    mailbox: Mailbox


@pytest.fixture(scope="module")
def production(prod_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    data_dir = tmp_path_factory.mktemp("prod-server")
    data_dir.chmod(0o700)
    with smtp_server(refuse={REFUSED_ADDRESS}) as (smtp_port, mailbox):
        server = Server(
            data_dir,
            prod_database,
            SEKISHO_LOG_FORMAT="json",
            SEKISHO_LOG_LEVEL="INFO",
            SEKISHO_SECURE_COOKIES="1",
            SEKISHO_ALLOWED_HOSTS=f"{HOST},127.0.0.1",
            SEKISHO_CSRF_TRUSTED_ORIGINS=f"https://{HOST}",
            SEKISHO_BEHIND_PROXY="1",
            SEKISHO_FORWARDED_ALLOW_IPS="127.0.0.1",
            SEKISHO_BASE_URL=f"https://{HOST}",
            SEKISHO_METRICS_TOKEN=METRICS_TOKEN,
            SEKISHO_EMAIL_HOST="127.0.0.1",
            SEKISHO_EMAIL_PORT=str(smtp_port),
            SEKISHO_EMAIL_FROM=f"sekisho@{HOST}",
            SEKISHO_MAIL_RETRY_SECONDS="3600",
        )
        server.env.pop("SEKISHO_TASKS_BACKEND", None)
        server.env.pop("SEKISHO_DEBUG", None)
        server.sekisho("migrate", "-v0")
        server.sekisho("demo", "--password", PASSWORD)
        try:
            yield Production(server, mailbox)
        finally:
            server.stop()


def test_the_production_configuration_passes_the_deploy_checks(production):
    out = production.server.sekisho("check", "--deploy", "--fail-level", "ERROR")
    assert "sekisho.E" not in out and "sekisho.W" not in out


def test_serve_refuses_to_start_on_a_failing_deploy_check(production):
    server = production.server
    saved = dict(server.env)
    try:
        server.env["SEKISHO_DEBUG"] = "1"
        server.env["SEKISHO_SECURE_COOKIES"] = "0"
        started = time.monotonic()
        out = server.sekisho("serve", "--host", "127.0.0.1", "--port", str(server.port), check=False)
        assert time.monotonic() - started < 60
        assert "will not serve" in out
        assert "sekisho.E001" in out and "sekisho.E003" in out
        assert "--insecure-dev" in out, "the message says how to start anyway, knowingly"
        with pytest.raises(OSError):
            direct(server.port, "/healthz")  # nothing was bound

        server.start(args=("--insecure-dev",))  # knowingly: it starts, and says why it should not
        warned = [
            e for e in log_entries(server) if e["logger"] == "sekisho.serve" and e["level"] == "WARNING"
        ]
        assert any("--insecure-dev" in e["message"] and "sekisho.E001" in e["message"] for e in warned)
        server.stop()
    finally:
        server.env.clear()
        server.env.update(saved)


def test_two_workers_serve_a_login_and_a_page_and_the_metrics_add_up(production):
    server = production.server
    server.start(workers=2)
    master = server.proc.pid
    # gunicorn forks its workers after it starts listening: give a loaded machine time to fork both.
    deadline = time.monotonic() + 60
    workers = worker_pids(master)
    while len(workers) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        workers = worker_pids(master)
    assert len(workers) == 2, workers

    # Static files without a collectstatic step, with DEBUG off.
    css = Browser(server.port).request("GET", "/static/web/sekisho.css")
    assert css.status == 200 and b"{" in css.body

    before = samples(direct(server.port, "/metrics"))

    # Enough requests at once that both workers take some.
    def fetch(_: int) -> int:
        return direct(server.port, "/login/").status

    sent = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(10):
            statuses = list(pool.map(fetch, range(16)))
            sent += len(statuses)
            assert set(statuses) == {200}
            served_by = {e["pid"] for e in log_entries(server) if e.get("path") == "/login/"}
            if len(served_by) >= 2:
                break
    assert served_by == workers, "both worker processes answered"

    # A person logs in through the real login page (as the proxy forwards it) and opens a page.
    browser = Browser(server.port)
    form = browser.request("GET", "/login/")
    assert form.status == 200
    set_cookie = " ".join(form.headers.get_all("Set-Cookie") or [])
    assert "csrftoken=" in set_cookie and "Secure" in set_cookie
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text()).group(1)
    login = browser.request(
        "POST",
        "/login/",
        body=urlencode(
            {"username": "staff", "password": PASSWORD, "csrfmiddlewaretoken": token, "next": ""}
        ).encode(),
        **{"Content-Type": "application/x-www-form-urlencoded"},
        **browser.csrf_headers("/login/"),
    )
    assert login.status == 302, login.text()[:2000]
    assert login.headers["Location"] == "/"
    session_cookie = [c for c in login.headers.get_all("Set-Cookie") or [] if c.startswith("sessionid=")]
    assert session_cookie and "Secure" in session_cookie[0] and "HttpOnly" in session_cookie[0]
    page = browser.request("GET", "/")
    assert page.status == 200
    assert CONTRACT_NUMBER in page.text()
    request_id = page.headers["X-Request-ID"]

    # The counters: exactly what was sent, whichever worker answered each request and the scrape.
    after = samples(direct(server.port, "/metrics"))
    assert requests_of(after, "login/") - requests_of(before, "login/") == sent + 1
    assert (
        requests_of(after, "login/", status="302", method="POST")
        - requests_of(before, "login/", status="302", method="POST")
        == 1
    )
    assert requests_of(after, "/") - requests_of(before, "/") == 1, "the contract list"
    assert after[("sekisho_audit_events_total", ())] > 0
    assert ("sekisho_tasks_pending", ()) in after

    # Only allowed callers scrape: through the proxy the client is 198.51.100.7, not allowed; a token works.
    assert browser.request("GET", "/metrics").status == 403
    assert browser.request("GET", "/metrics", Authorization=f"Bearer {METRICS_TOKEN}").status == 200

    # The logs: JSON, one object a line; the page's line names the user and the request id.
    entries = log_entries(server)
    assert all({"time", "level", "logger", "message", "pid"} <= e.keys() for e in entries)
    (line,) = [e for e in entries if e.get("request_id") == request_id and e["logger"] == "sekisho.request"]
    staff_id = server.shell_json(
        "import json; from sekisho.core.models import User; print(json.dumps(User.objects.get(username='staff').pk))"
    )
    assert line["user_id"] == staff_id
    assert (line["method"], line["path"], line["route"], line["status"]) == ("GET", "/", "/", 200)
    assert line["duration_ms"] > 0
    assert any(e["logger"] == "gunicorn.error" and "Booting worker" in e["message"] for e in entries)

    # Healthy: the database, the vault's storage and the queue.
    health = json.loads(direct(server.port, "/healthz?detail=1").body)
    assert health["status"] == "ok"
    assert set(health["checks"]) == {"database", "vault", "tasks"}


def test_mail_is_queued_by_the_server_and_sent_by_the_worker(production):
    server, mailbox = production.server, production.mailbox
    if server.proc is None or server.proc.poll() is not None:
        server.start(workers=2)
    # Loading the demo queued e-mails too; the worker below sends those as well.
    pending_before = samples(direct(server.port, "/metrics"))[("sekisho_tasks_pending", ())]
    browser = Browser(server.port)
    form = browser.request("GET", "/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text()).group(1)
    browser.request(
        "POST",
        "/login/",
        body=urlencode({"username": "staff", "password": PASSWORD, "csrfmiddlewaretoken": token}).encode(),
        **{"Content-Type": "application/x-www-form-urlencoded"},
        **browser.csrf_headers("/login/"),
    )
    contracts = json.loads(browser.request("GET", "/api/v1/contracts").body)
    contract = next(c for c in contracts if c["number"] == CONTRACT_NUMBER)
    reported = browser.request(
        "POST",
        f"/api/v1/contracts/{contract['id']}/incidents",
        body=json.dumps(
            {
                "kind": "loss",
                "title": "USBメモリの紛失",
                "description": "現地調査の帰りに紛失",
                "detected_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 3600)),
                "has_personal_info": False,
            }
        ).encode(),
        **{"Content-Type": "application/json", "X-CSRFToken": browser.cookies["csrftoken"]},
        **browser.csrf_headers("/"),
    )
    assert reported.status == 201, reported.text()
    assert mailbox.messages == [], "the web process queues; it does not send"

    waiting = samples(direct(server.port, "/metrics"))
    assert waiting[("sekisho_tasks_pending", ())] == pending_before + 2, "one e-mail each: orderer, manager"
    incident_ref = json.loads(reported.body)["ref"]

    out = server.sekisho("db_worker", "--batch", "--no-startup-delay", "--interval", "0")
    for line in out.splitlines():
        if line.strip():
            json.loads(line)  # the worker logs JSON too
    about_it = [m for m in mailbox.to("manager@example.invalid") if incident_ref.encode() in m.data]
    assert len(about_it) == 1, "the incident's e-mail reached the manager once"
    assert f"https://{HOST}/contracts/{contract['id']}/incidents/".encode() in about_it[0].data
    assert mailbox.to(REFUSED_ADDRESS) == []

    tasks = [t for t in server.shell_json(TASKS) if incident_ref in t[4]]
    assert sorted(map(tuple, [t[:2] for t in tasks])) == sorted(
        [
            ("SUCCESSFUL", "manager@example.invalid"),
            ("FAILED", REFUSED_ADDRESS),
            ("READY", REFUSED_ADDRESS),
        ]
    )
    failed = next(t for t in tasks if t[0] == "FAILED")
    assert failed[3] == "smtplib.SMTPRecipientsRefused"
    retry = next(t for t in tasks if t[0] == "READY")
    assert retry[2] == {"attempt": 2}

    done = samples(direct(server.port, "/metrics"))
    assert done[("sekisho_tasks_pending", ())] == 0, "every due task ran; the retries wait an hour"
    failed_now = sum(1 for t in server.shell_json(TASKS) if t[0] == "FAILED")
    assert done[("sekisho_tasks", (("queue", "default"), ("status", "FAILED")))] == failed_now >= 1
    assert json.loads(direct(server.port, "/healthz").body) == {"status": "ok"}


def test_a_recycled_worker_loses_no_count(production):
    server = production.server
    server.stop()
    metrics_dir = server.data_dir / "metrics"
    assert not any(metrics_dir.iterdir()), "a stopped server leaves no counters behind"
    already = len(log_entries(server))
    server.start(workers=2, args=("--max-requests", "10", "--max-requests-jitter", "0"))
    for _ in range(45):
        assert direct(server.port, "/login/").status == 200
    found = samples(direct(server.port, "/metrics"))
    assert requests_of(found, "login/") == 45, "every request counted, by whichever worker, living or gone"
    served_by = {e["pid"] for e in log_entries(server)[already:] if e.get("path") == "/login/"}
    assert len(served_by) >= 3, "45 requests, 10 per worker: workers were replaced on the way"
    (own,) = [p for p in metrics_dir.iterdir() if p.is_dir()]
    assert sorted(p.name for p in own.iterdir()) == [
        "counter_0.db",
        "counter_1.db",
        "histogram_0.db",
        "histogram_1.db",
    ], "one set of files per worker slot, however many workers came and went"
    server.stop()
    assert os.path.exists(metrics_dir) and not any(metrics_dir.iterdir())
