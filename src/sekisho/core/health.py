"""``/healthz``: is this process able to do its work — the database, the vault's storage, the task queue.

Everyone gets the short answer: ``{"status": "ok"}`` (200), or 503 with each failing component named,
``{"status": "error", "database": "unavailable"}``. Callers allowed to scrape ``/metrics`` may add
``?detail=1`` for each check's figures (timings, tasks waiting, the age of the oldest).

- database: ``SELECT 1``;
- vault: a probe object written, read back and deleted in the vault's storage (filesystem or S3), so a full
  disk, a read-only mount or a bucket without write rights shows here before an upload fails;
- tasks: the queue table answers, and no task that is due has waited longer than
  ``SEKISHO_HEALTH_TASK_MAX_AGE`` seconds (0: not checked) — "stalled" means no ``sekisho db_worker`` is
  taking work. Not checked when the database itself is down (it would fail for the same reason).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

log = logging.getLogger("sekisho.health")

UNAVAILABLE = "unavailable"
STALLED = "stalled"
PROBE_PREFIX = "healthz/"


@dataclass
class Check:
    ok: bool
    problem: str = ""  # "unavailable" | "stalled" when not ok
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class QueueState:
    counts: dict[tuple[str, str], int]  # (status, queue) -> tasks kept
    ready: int  # due now, not started
    oldest_ready_age: float  # seconds the oldest due task has waited; 0 when none


def read_guard() -> Any:
    """A savepoint when already inside a transaction (a failed read must not spoil it, on PostgreSQL), else
    nothing: a plain read in autocommit. Never a transaction of its own: on SQLite that would take the write
    lock (``transaction_mode=IMMEDIATE``) for a health check or a scrape."""
    from contextlib import nullcontext

    from django.db import connection, transaction

    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def queue_state() -> QueueState:
    """What the database task queue holds. Two queries, whatever its length."""
    from django.db.models import Count, Min, Q
    from django_tasks_db.models import DBTaskResult, get_date_max

    counts = {
        (row["status"], row["queue_name"]): row["n"]
        for row in DBTaskResult.objects.order_by().values("status", "queue_name").annotate(n=Count("id"))
    }
    now = timezone.now()
    never = get_date_max()  # run_after of a task enqueued without a time: due at once
    due = (
        DBTaskResult.objects.ready()
        .order_by()
        .aggregate(
            n=Count("id"),
            enqueued=Min("enqueued_at", filter=Q(run_after=never)),
            deferred=Min("run_after", filter=~Q(run_after=never)),
        )
    )
    since = [t for t in (due["enqueued"], due["deferred"]) if t is not None]
    age = max(0.0, (now - min(since)).total_seconds()) if since else 0.0
    return QueueState(counts=counts, ready=int(due["n"]), oldest_ready_age=round(age, 3))


def check_database() -> Check:
    from django.db import connection

    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # any database failure means "not healthy"
        log.warning("health: the database does not answer", exc_info=True)
        return Check(False, UNAVAILABLE)
    return Check(True, detail={"ms": _ms(started)})


def check_vault() -> Check:
    from sekisho.vault.storage import get_storage

    started = time.perf_counter()
    key = f"{PROBE_PREFIX}probe-{secrets.token_hex(8)}"
    payload = secrets.token_bytes(32)
    try:
        storage = get_storage()
        writer = storage.writer(key)
        try:
            writer.write(payload)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        try:
            reader = storage.open(key)
            try:
                read_back = reader.read()
            finally:
                reader.close()
        finally:
            storage.delete(key)
        if read_back != payload:
            raise OSError("the probe read back differs from what was written")
    except Exception:  # a full disk, a read-only mount, a bucket that refuses us: all "unavailable"
        log.warning("health: the vault storage failed its probe", exc_info=True)
        return Check(False, UNAVAILABLE, {"backend": str(settings.SEKISHO_VAULT_BACKEND)})
    return Check(True, detail={"backend": str(settings.SEKISHO_VAULT_BACKEND), "ms": _ms(started)})


def check_tasks() -> Check:
    started = time.perf_counter()
    try:
        with read_guard():
            state = queue_state()
    except Exception:  # the queue table does not answer
        log.warning("health: the task queue cannot be read", exc_info=True)
        return Check(False, UNAVAILABLE)
    detail = {"pending": state.ready, "oldest_pending_seconds": state.oldest_ready_age, "ms": _ms(started)}
    limit = int(getattr(settings, "SEKISHO_HEALTH_TASK_MAX_AGE", 0) or 0)
    if limit and state.oldest_ready_age > limit:
        log.warning(
            "health: the oldest due task has waited %.0f s (limit %d s)", state.oldest_ready_age, limit
        )
        return Check(False, STALLED, detail)
    return Check(True, detail=detail)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def run_checks() -> dict[str, Check]:
    results: dict[str, Check] = {"database": check_database()}
    checks: list[tuple[str, Callable[[], Check]]] = [("vault", check_vault)]
    if results["database"].ok:
        checks.append(("tasks", check_tasks))
    for name, check in checks:
        results[name] = check()
    return results


def healthz(request: HttpRequest) -> HttpResponse:
    from sekisho.obs.metrics import scrape_allowed

    results = run_checks()
    healthy = all(check.ok for check in results.values())
    body: dict[str, Any] = {"status": "ok" if healthy else "error"}
    for name, check in results.items():
        if not check.ok:
            body[name] = check.problem
    if request.GET.get("detail") and scrape_allowed(request):
        body["checks"] = {
            name: {"ok": check.ok, **({"problem": check.problem} if not check.ok else {}), **check.detail}
            for name, check in results.items()
        }
    return JsonResponse(body, status=200 if healthy else 503)
