"""Prometheus metrics, served in the text format at ``/metrics`` to allowed addresses or a bearer token.

Two kinds, kept apart so that several gunicorn workers report one truth:

- **Counters of what a process did** (requests, their latency, refusals): each worker counts in its own
  memory-mapped file under the server's metrics directory (prometheus_client's multiprocess mode), and a scrape
  — answered by whichever worker gets it — adds up the files of every worker. ``sekisho serve`` gives each
  worker a *slot* (0 … workers-1) instead of its pid as the file name, so a worker that replaces one recycled
  by ``--max-requests`` carries on its predecessor's counts: the totals never fall back, and the directory
  holds at most one set of files per slot.
- **Gauges of the state** (open compliance findings, audit events, tasks waiting): read from the database at
  scrape time, so they are the same whichever worker answers, and right even for work done by other processes
  (``sekisho db_worker``, ``sekisho tick``).

Outside ``sekisho serve`` (tests, ``runserver``) the counters live in the process's memory.

Labels never carry a contract, a user or an object id: ``route`` is the URL pattern
(``contracts/<int:contract_id>/ledger/``), not the path.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import prometheus_client
from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger("sekisho.metrics")

prometheus_client.disable_created_metrics()

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST


@dataclass
class _Metrics:
    registry: CollectorRegistry | None  # None in multiprocess mode: the files are the registry
    requests: Counter
    latency: Histogram
    refusals: Counter


_lock = threading.Lock()
_metrics: _Metrics | None = None
_multiprocess_dir: Path | None = None


def enable_multiprocess(directory: Path, slot: int) -> None:
    """Count in *directory* (shared by the server's workers) under file names of this worker's *slot*.

    Called in each gunicorn worker right after the fork, before any metric exists in it."""
    from prometheus_client import values

    global _metrics, _multiprocess_dir
    with _lock:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
        values.ValueClass = values.MultiProcessValue(process_identifier=lambda: slot)
        _multiprocess_dir = directory
        _metrics = None


def multiprocess_dir() -> Path | None:
    return _multiprocess_dir


def _get() -> _Metrics:
    global _metrics
    if _metrics is not None:
        return _metrics
    with _lock:
        if _metrics is None:
            registry = None if _multiprocess_dir is not None else CollectorRegistry(auto_describe=True)
            _metrics = _Metrics(
                registry=registry,
                requests=Counter(
                    "sekisho_http_requests",
                    "HTTP requests answered, by method, route (URL pattern) and status.",
                    ["method", "route", "status"],
                    registry=registry,
                ),
                latency=Histogram(
                    "sekisho_http_request_duration_seconds",
                    "Time to answer an HTTP request, by method, route and status.",
                    ["method", "route", "status"],
                    buckets=LATENCY_BUCKETS,
                    registry=registry,
                ),
                refusals=Counter(
                    "sekisho_refusals",
                    "Refusals answered (an API error or a refusal page), by clause, error code and channel.",
                    ["clause", "code", "channel"],
                    registry=registry,
                ),
            )
        return _metrics


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    metrics = _get()
    labels = (method if method in _METHODS else "OTHER", route, str(status))
    metrics.requests.labels(*labels).inc()
    metrics.latency.labels(*labels).observe(seconds)


def count_refusal(exc: Any, channel: str) -> None:
    """One refusal turned into a response (*channel*: ``api`` or ``web``), labelled with its clause."""
    try:
        _get().refusals.labels(exc.clause or "none", exc.code or "error", channel).inc()
    except Exception:  # counting must never turn a refusal into a 500
        log.exception("could not count a refusal")


# --- the scrape ---------------------------------------------------------------------------------------------


class _InProcess:
    """The counters of this process (no multiprocess directory)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


class DatabaseCollector:
    """Gauges read from the database at scrape time. Each source is read in a savepoint, so a source that
    fails (a table not migrated yet, a timeout) is reported as down without spoiling the others."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "sekisho_metrics_source_up", "1 when the source of a gauge could be read.", labels=["source"]
        )
        for name, read in (
            ("findings", self._findings),
            ("audit", self._audit),
            ("tasks", self._tasks),
        ):
            try:
                yield from read()
            except Exception:  # a broken source is reported as such, the scrape goes on
                log.warning("metrics source %s could not be read", name, exc_info=True)
                up.add_metric([name], 0)
            else:
                up.add_metric([name], 1)
        yield up

    @staticmethod
    def _findings() -> list[Metric]:
        from django.db.models import Count

        from sekisho.compliance.models import Finding
        from sekisho.core.health import read_guard

        family = GaugeMetricFamily(
            "sekisho_compliance_open_findings",
            "Compliance findings not yet resolved, by clause and severity.",
            labels=["clause", "severity"],
        )
        with read_guard():
            rows = (
                Finding.objects.filter(resolved_at__isnull=True)
                .order_by()
                .values("clause", "severity")
                .annotate(n=Count("id"))
            )
            for row in rows:
                family.add_metric([row["clause"], row["severity"]], row["n"])
        return [family]

    @staticmethod
    def _audit() -> list[Metric]:
        from django.db.models import Sum

        from sekisho.audit.models import AuditStream
        from sekisho.core.health import read_guard

        with read_guard():
            total = AuditStream.objects.aggregate(n=Sum("size"))["n"] or 0
        family = CounterMetricFamily(
            "sekisho_audit_events", "Audit events recorded, every chain together (append-only)."
        )
        family.add_metric([], total)
        return [family]

    @staticmethod
    def _tasks() -> list[Metric]:
        from sekisho.core.health import queue_state, read_guard

        with read_guard():
            state = queue_state()
        by_status = GaugeMetricFamily(
            "sekisho_tasks",
            "Background tasks kept in the queue, by status and queue.",
            labels=["status", "queue"],
        )
        for (status, queue), n in sorted(state.counts.items()):
            by_status.add_metric([status, queue], n)
        pending = GaugeMetricFamily("sekisho_tasks_pending", "Tasks due to run now and not started yet.")
        pending.add_metric([], state.ready)
        oldest = GaugeMetricFamily(
            "sekisho_tasks_oldest_pending_age_seconds",
            "How long the oldest task that is due has waited for a worker (0 when none waits).",
        )
        oldest.add_metric([], state.oldest_ready_age)
        return [by_status, pending, oldest]


class _BuildInfo:
    def collect(self) -> Iterator[Metric]:
        from importlib.metadata import PackageNotFoundError, version

        try:
            release = version("sekisho")
        except PackageNotFoundError:
            release = "unknown"
        info = GaugeMetricFamily("sekisho_build_info", "The running release.", labels=["version"])
        info.add_metric([release], 1)
        yield info


def render() -> bytes:
    """The exposition: this server's counters (every worker's files, or this process's memory), then the
    gauges read from the database."""
    registry = CollectorRegistry(auto_describe=False)
    if _multiprocess_dir is not None:
        MultiProcessCollector(registry, path=str(_multiprocess_dir))
    else:
        metrics = _get()
        assert metrics.registry is not None
        registry.register(_InProcess(metrics.registry))
    registry.register(DatabaseCollector())
    registry.register(_BuildInfo())
    return prometheus_client.generate_latest(registry)


# --- who may scrape -----------------------------------------------------------------------------------------

_FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")


def _networks(entries: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip().strip("[]"), strict=False))
        except ValueError:
            log.warning("ignoring %r: not an address or network", entry)
    return networks


def _within(address: str, entries: Iterable[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in _networks(entries))


def client_address(request: HttpRequest) -> str | None:
    """The caller's address. Through a trusted reverse proxy (``SEKISHO_BEHIND_PROXY`` and the peer in
    ``SEKISHO_FORWARDED_ALLOW_IPS``) it is the last X-Forwarded-For hop, the one the proxy saw; a request that
    carries forwarding headers from anywhere else has no address we can believe (None). Without such headers
    it is the peer."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    if not any(header in request.META for header in _FORWARDING_HEADERS):
        return remote or None
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    if (
        getattr(settings, "SEKISHO_BEHIND_PROXY", False)
        and _within(remote, getattr(settings, "SEKISHO_FORWARDED_ALLOW_IPS", []))
        and forwarded.strip()
    ):
        return forwarded.split(",")[-1].strip() or None
    return None


def scrape_allowed(request: HttpRequest) -> bool:
    """A bearer token equal to ``SEKISHO_METRICS_TOKEN``, or a caller within ``SEKISHO_METRICS_ALLOWED_IPS``."""
    token = str(getattr(settings, "SEKISHO_METRICS_TOKEN", "") or "")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and constant_time_compare(header[7:].strip(), token):
        return True
    address = client_address(request)
    return address is not None and _within(address, getattr(settings, "SEKISHO_METRICS_ALLOWED_IPS", []))
