"""Load on the production server command (issue: proof, part 4), run by `make bench` once on SQLite and once on
PostgreSQL (DATABASE_URL). It never touches a real database: the server runs on a throwaway data directory and
(on PostgreSQL) a throwaway database, both removed at the end.

`sekisho serve` (gunicorn, 2 workers) on 127.0.0.1 with the demo contract and a few hundred assets; `wrk` (50
connections, a fixed time each) against, in the same run:
  1. a bare Django JSON view on the same server and middleware (/__bench/ping, routed only with SEKISHO_BENCH=1)
  2. the authenticated ledger API: a page of 50 assets with a bearer token    (goal ≥ 0.5 × the bare view's req/s)
  3. a page of the web UI with a logged-in session
Each reports requests/s, p50/p95/p99 latency and errors (goal: 0 errors: non-2xx answers, refused or dropped
connections, timeouts).

Usage: python bench/bench_load.py [--seconds 15] [--connections 50] [--assets 300]
(SEKISHO_BENCH_LOAD_SECONDS also sets the time.) Needs `wrk` (Debian package wrk; scripts/ensure-test-tools).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import report

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Sekisho-bench-load-2026"
DEMO_CONTRACT = "倉下建第2026-118号"
GOALS = {"ratio": 0.5, "errors": 0}
SETUP = """
import datetime as dt, json
from django.db import transaction
from sekisho.core.auth import issue_api_token
from sekisho.core.models import Contract, User
from sekisho.ledger.models import LocationKind, Medium, Origin
from sekisho.ledger.services import AssetData, register_asset

contract = Contract.objects.get(number=%(contract)r)
manager = User.objects.get(username="manager")
staff = User.objects.get(username="staff")
with transaction.atomic():
    for n in range(%(assets)d):
        register_asset(contract, acting_user=manager, data=AssetData(
            title=f"下水道台帳図 第{n:04d}号", medium=Medium.PAPER, origin=Origin.PROVIDED,
            received_on=dt.date(2026, 7, 1), custodian=staff, location_kind=LocationKind.CABINET, quantity=1,
        ))
_token, text = issue_api_token(manager, acting_user=manager, name="bench-load")
print(json.dumps({"contract": contract.pk, "token": text}))
"""
# wrk reports what the table needs in its done() callback, as one JSON line.
LUA = r"""
local headers = {}
%(headers)s
request = function()
  return wrk.format("GET", %(path)s, headers)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d, "status": %%d, ' ..
    '"timeout": %%d, "p50_us": %%d, "p95_us": %%d, "p99_us": %%d, "max_us": %%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def throwaway_database() -> Iterator[str | None]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield None
        return
    import psycopg
    from psycopg import sql

    name = f"sekisho_bench_load_{os.getpid()}"
    parts = urllib.parse.urlsplit(url)
    admin = urllib.parse.urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class Server:
    def __init__(self, data_dir: Path, database_url: str | None) -> None:
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "SEKISHO_DATA_DIR": str(data_dir),
            "SEKISHO_SECURE_COOKIES": "0",  # plain HTTP on loopback
            "SEKISHO_BENCH": "1",
            "SEKISHO_LOG_LEVEL": "WARNING",
        }
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        if database_url:
            self.env["DATABASE_URL"] = database_url
        else:
            self.env.pop("DATABASE_URL", None)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def sekisho(self, *args: str) -> str:
        result = subprocess.run(  # noqa: S603 - our own command line
            [sys.executable, "-m", "sekisho", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(f"`sekisho {args[0]}` failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self, workers: int) -> None:
        log = (self.data_dir / "server.log").open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own command line
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
            ],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
            if self.proc.poll() is not None:
                break
        raise SystemExit(
            f"the server did not start:\n{(self.data_dir / 'server.log').read_text(errors='replace')}"
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str, list[str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            cookies = response.headers.get_all("Set-Cookie") or []
            return (
                response.status,
                dict(response.getheaders()),
                response.read().decode(errors="replace"),
                cookies,
            )
        finally:
            conn.close()

    def session_cookie(self, username: str) -> str:
        """Log in through the form, as a browser would; return the Cookie header of the session."""
        _status, _h, page, cookies = self.request("GET", "/login/")
        csrf_cookie = next(c.split(";")[0] for c in cookies if c.startswith("csrftoken="))
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, "no CSRF token on the login page"
        form = urllib.parse.urlencode(
            {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)}
        )
        status, _h, _body, cookies = self.request(
            "POST",
            "/login/",
            body=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": csrf_cookie,
                "Referer": f"http://127.0.0.1:{self.port}/login/",
            },
        )
        session = [c.split(";")[0] for c in cookies if c.startswith("sessionid=")]
        if status != 302 or not session:
            raise SystemExit(f"logging in as {username} failed ({status})")
        return "; ".join([csrf_cookie, session[0]])


def run_wrk(
    port: int, path: str, headers: dict[str, str], seconds: int, connections: int, workdir: Path
) -> dict:
    lines = "\n".join(f"headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
    script = workdir / "wrk.lua"
    script.write_text(LUA % {"headers": lines, "path": json.dumps(path)})
    threads = min(2, os.cpu_count() or 1)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
    ]
    result = subprocess.run(  # noqa: S603 - wrk against loopback
        [*command, f"http://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("WRK-JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary:\n{result.stdout}\n{result.stderr}")
    figures = json.loads(line.removeprefix("WRK-JSON "))
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["errors"] = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--seconds", type=int, default=int(os.environ.get("SEKISHO_BENCH_LOAD_SECONDS", "15"))
    )
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--assets", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian package wrk; scripts/ensure-test-tools installs it)")

    vendor = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    base = Path(os.environ.get("SEKISHO_BENCH_DIR") or tempfile.gettempdir())
    with (
        tempfile.TemporaryDirectory(prefix="sekisho-bench-load-", dir=base) as tmp,
        throwaway_database() as url,
    ):
        work = Path(tmp)
        server = Server(work / "data", url)
        server.sekisho("migrate", "-v0")
        server.sekisho("demo", "--password", PASSWORD)
        setup = SETUP % {"contract": DEMO_CONTRACT, "assets": args.assets}
        info = json.loads(server.sekisho("shell", "-c", setup).strip().splitlines()[-1])
        server.start(args.workers)
        try:
            ledger = f"/api/v1/contracts/{info['contract']}/assets?limit=50"
            bearer = {"Authorization": f"Bearer {info['token']}"}
            cookie = {"Cookie": server.session_cookie("staff")}
            page = f"/contracts/{info['contract']}/ledger/"
            if server.request("GET", page, headers=cookie)[0] != 200:
                page = f"/contracts/{info['contract']}/"  # staff not cleared for the ledger in this demo
            scenarios = {
                "bare": ("/__bench/ping", {}),
                "ledger_api": (ledger, bearer),
                "ui_page": (page, cookie),
            }
            for name, (path, headers) in scenarios.items():
                status = server.request("GET", path, headers=headers)[0]
                if status != 200:
                    raise SystemExit(f"{name}: GET {path} answers {status}, not 200")
                run_wrk(server.port, path, headers, 2, 10, work)  # warm-up
            results = {
                name: run_wrk(server.port, path, headers, args.seconds, args.connections, work)
                for name, (path, headers) in scenarios.items()
            }
        finally:
            server.stop()

    print(
        f"load on {vendor}: `sekisho serve` (gunicorn, {args.workers} workers) on 127.0.0.1, wrk {args.connections} "
        f"connections × {args.seconds} s each, {args.assets} assets in the ledger, {os.cpu_count()} CPUs shared "
        "with the load generator"
    )
    print(f"  {'':<12}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    for name, fig in results.items():
        print(
            f"  {name:<12}{fig['rps']:>9.0f}{fig['p50_us'] / 1e3:>9.1f}{fig['p95_us'] / 1e3:>9.1f}"
            f"{fig['p99_us'] / 1e3:>9.1f}{fig['max_us'] / 1e3:>9.1f}{fig['errors']:>8d}"
        )
    bare = results["bare"]["rps"]
    for name, fig in results.items():
        base = None if name == "bare" else ("bare JSON view", bare)
        report(f"load.{name}.rps", fig["rps"], "req/s", baseline=base)
        report(f"load.{name}.p95", fig["p95_us"] / 1e3, "ms")
        report(f"load.{name}.p99", fig["p99_us"] / 1e3, "ms")
        report(f"load.{name}.errors", fig["errors"], "count", goal=("==", GOALS["errors"]))
    ratio = results["ledger_api"]["rps"] / bare
    report("load.ledger_api÷bare", ratio, "×", goal=(">=", GOALS["ratio"]))
    verdict = "goal met" if ratio >= GOALS["ratio"] else "GOAL MISSED"
    print(f"  ledger API ÷ bare view: {ratio:.2f} [{verdict}: ≥ {GOALS['ratio']}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
