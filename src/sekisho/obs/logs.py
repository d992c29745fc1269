"""Logs: plain text for a terminal, or one JSON object per line (``SEKISHO_LOG_FORMAT=json``) for a collector.

Every record carries the request id (``X-Request-ID``, set by ``RequestIdMiddleware``) and, once the request is
authenticated, the user id, so one request's lines can be found together. The access line of each request
(logger ``sekisho.request``, written by ``obs.middleware``) adds method, path, route, status and duration.
gunicorn's own messages go through the same formatter (``obs.server.GunicornLogger``), so in JSON mode every line that
``sekisho serve`` writes parses as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from contextvars import ContextVar
from typing import Any

from sekisho.core.context import current_request_id

# The user id of the request being served, set by the request middleware once authentication has run.
_user_id: ContextVar[int | None] = ContextVar("sekisho_user_id", default=None)

# Attributes a record may carry through ``extra=`` that belong in the JSON object, in this order.
REQUEST_FIELDS = ("method", "path", "route", "status", "duration_ms", "remote_addr")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def set_user_id(value: int | None) -> object:
    return _user_id.set(value)


def reset_user_id(token: object) -> None:
    _user_id.reset(token)  # type: ignore[arg-type]


class RequestContextFilter(logging.Filter):
    """Put the request id and user id of the current request (or ``None``) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        if getattr(record, "user_id", None) is None:
            record.user_id = _user_id.get()
        return True


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, pid, request_id, user_id and,
    when present, the request fields and the formatted exception. Never more than one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process if record.process is not None else os.getpid(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
            "user_id": getattr(record, "user_id", None) or _user_id.get(),
        }
        for name in REQUEST_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        # django.request puts the status and the request itself on 4xx/5xx records (written after the request
        # id's context has closed: the request still carries it).
        status_code = getattr(record, "status_code", None)
        if "status" not in entry and isinstance(status_code, int):
            entry["status"] = status_code
        request = getattr(record, "request", None)
        if request is not None:
            if "path" not in entry and isinstance(getattr(request, "path", None), str):
                entry["path"] = request.path
            if entry["request_id"] is None:
                entry["request_id"] = getattr(request, "request_id", None)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter(kind: str) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else PlainFormatter()
