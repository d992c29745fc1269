"""One place that sees every request: it counts it (``obs.metrics``) and writes its access line (logger
``sekisho.request``) with method, path, route, status, duration, the request id and the user id.

It sits just inside ``RequestIdMiddleware`` (so the request id is known) and outside everything else, so the
status it records is the one the client gets — the database-unavailable 503, the refusal page, a static file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from . import logs, metrics

log = logging.getLogger("sekisho.request")

# Polled by load balancers and Prometheus: their access lines go at DEBUG when all is well.
QUIET_PATHS = ("/healthz", "/metrics")


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered (``contracts/<int:contract_id>/``; the home page ``/``), never the path
    with its ids."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route is not None:
        return str(match.route) or "/"
    if request.path.startswith(str(settings.STATIC_URL)):
        return "(static)"
    return "(unmatched)"


def user_id_of(request: HttpRequest) -> int | None:
    """The authenticated user's id, without loading the user when nothing loaded it yet."""
    user: Any = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is empty:
        return None
    return wrapped.pk if getattr(wrapped, "is_authenticated", False) else None


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        token = logs.set_user_id(None)
        try:
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            self._record(request, response.status_code, seconds)
        finally:
            logs.reset_user_id(token)
        return response

    def process_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        # Authentication has run by now: the lines a view logs carry the user too.
        logs.set_user_id(user_id_of(request))

    @staticmethod
    def _record(request: HttpRequest, status: int, seconds: float) -> None:
        route = route_of(request)
        try:
            metrics.observe_request(request.method or "GET", route, status, seconds)
        except Exception:  # counting must never fail a request
            logging.getLogger("sekisho.metrics").exception("could not count a request")
        quiet = request.path in QUIET_PATHS and status < 400
        duration_ms = round(seconds * 1000, 2)
        log.log(
            logging.DEBUG if quiet else logging.INFO,
            "%s %s %s %.1fms",
            request.method,
            request.path,
            status,
            duration_ms,
            extra={
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
                "user_id": user_id_of(request),
            },
        )
