"""Structured logs: one JSON object per line with time, level, logger, message, request id, user id and, for the
access line of a request, method, path, route, status and duration."""

from __future__ import annotations

import json
import logging

import pytest

from sekisho.core.context import reset_request_id, set_request_id
from sekisho.obs.logs import JsonFormatter, PlainFormatter, RequestContextFilter


def record(message: str = "hello %s", args: tuple = ("world",), **extra) -> logging.LogRecord:
    rec = logging.LogRecord("sekisho.test", logging.WARNING, __file__, 1, message, args, None)
    for key, val in extra.items():
        setattr(rec, key, val)
    return rec


def test_a_record_is_one_json_line_with_the_fields():
    line = JsonFormatter().format(record(method="GET", path="/x/", route="x/", status=200, duration_ms=1.5))
    assert "\n" not in line
    entry = json.loads(line)
    assert (
        entry["level"] == "WARNING"
        and entry["logger"] == "sekisho.test"
        and entry["message"] == "hello world"
    )
    assert entry["time"].endswith("+00:00") and "T" in entry["time"]
    assert (entry["method"], entry["path"], entry["route"], entry["status"], entry["duration_ms"]) == (
        "GET",
        "/x/",
        "x/",
        200,
        1.5,
    )
    assert entry["request_id"] is None and entry["user_id"] is None
    assert isinstance(entry["pid"], int)


def test_the_request_id_comes_from_the_request_being_served():
    token = set_request_id("req-0123456789")
    try:
        rec = record()
        RequestContextFilter().filter(rec)
    finally:
        reset_request_id(token)
    assert json.loads(JsonFormatter().format(rec))["request_id"] == "req-0123456789"
    assert "[req-0123456789]" in PlainFormatter().format(rec)


def test_an_exception_stays_inside_the_one_line():
    try:
        raise ValueError("boom\nwith a second line")
    except ValueError:
        import sys

        rec = logging.LogRecord("sekisho.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonFormatter().format(rec)
    assert len(line.splitlines()) == 1
    assert "ValueError: boom\nwith a second line" in json.loads(line)["exception"]


def test_japanese_text_is_kept_readable():
    line = JsonFormatter().format(record("事故の報告 %s", ("I-1",)))
    assert "事故の報告 I-1" in line


@pytest.mark.django_db
def test_each_request_writes_one_access_line_with_route_user_and_request_id(world, client_for, caplog):
    client = client_for("manager")
    with caplog.at_level(logging.INFO, logger="sekisho.request"):
        response = client.get(f"/contracts/{world.contract.pk}/", headers={"X-Request-ID": "trace-abcdef12"})
    assert response["X-Request-ID"] == "trace-abcdef12"
    (line,) = [r for r in caplog.records if r.name == "sekisho.request"]
    entry = json.loads(JsonFormatter().format(line))
    assert entry["request_id"] == "trace-abcdef12"
    assert entry["user_id"] == world.manager.pk
    assert entry["method"] == "GET" and entry["status"] == 200
    assert entry["path"] == f"/contracts/{world.contract.pk}/"
    assert entry["route"] == "contracts/<int:contract_id>/"
    assert entry["duration_ms"] > 0
    assert "?" not in entry["path"]


@pytest.mark.django_db
@pytest.mark.urls("tests.ops_prod.logging_urls")
def test_lines_written_inside_a_view_carry_the_user_and_the_request(world, client_for, caplog):
    """A view's own log line knows who asked and which request it serves, though the access line is only
    written at the end."""
    with caplog.at_level(logging.INFO):
        response = client_for("manager").get("/log-something/", headers={"X-Request-ID": "trace-inside-1"})
    assert response.status_code == 200
    (inside,) = [r for r in caplog.records if r.getMessage() == "inside the view"]
    RequestContextFilter().filter(inside)
    assert inside.user_id == world.manager.pk
    assert inside.request_id == "trace-inside-1"
    # ...and nothing of it leaks into what is logged after the request.
    after = record()
    RequestContextFilter().filter(after)
    assert after.user_id is None and after.request_id is None


@pytest.mark.django_db
def test_health_checks_and_scrapes_are_logged_quietly(client, caplog):
    with caplog.at_level(logging.INFO, logger="sekisho.request"):
        client.get("/healthz")
    assert not [r for r in caplog.records if r.name == "sekisho.request" and r.levelno >= logging.INFO]
