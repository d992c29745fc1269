"""The database going away: a clear 503 (JSON under /api/, a page elsewhere), and nothing half-written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client

from sekisho.audit.models import AuditEvent
from sekisho.core.auth import issue_api_token
from sekisho.ledger.models import Asset
from tests.conftest import verified_client

from .server import Server, free_port

UNAVAILABLE = {
    "error": "database_unavailable",
    "clause": None,
    "message": "データベースに接続できません。しばらくしてから、もう一度お試しください。",
}
ASSET = {
    "title": "障害試験の図面",
    "medium": "paper",
    "origin": "provided",
    "received_on": "2026-08-01",
    "custodian": "staff",
    "location_kind": "cabinet",
    "quantity": 1,
}


@contextmanager
def audit_insert_fails() -> Iterator[None]:
    """The connection dies when a service appends its audit event: after the asset row was written in the
    same transaction."""
    execute = CursorWrapper.execute

    def failing(self, sql, params=None):
        if sql.lstrip().upper().startswith('INSERT INTO "AUDIT_AUDITEVENT"'):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(self, sql, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CursorWrapper, "execute", failing)
        yield


def _counts() -> tuple[int, int]:
    return Asset.objects.count(), AuditEvent.objects.count()


def test_api_call_that_loses_the_database_is_a_503_and_writes_nothing(world):
    _token, text = issue_api_token(world.manager, acting_user=world.manager, name="faults")
    client = Client(raise_request_exception=False, headers={"Authorization": f"Bearer {text}"})
    before = _counts()
    with audit_insert_fails():
        response = client.post(
            f"/api/v1/contracts/{world.contract.pk}/assets",
            data=json.dumps(ASSET),
            content_type="application/json",
        )
    assert response.status_code == 503, response.content
    assert response.json() == UNAVAILABLE
    assert response["Retry-After"] == "30"
    assert _counts() == before, "the asset row must roll back with its audit event"


def test_page_that_loses_the_database_is_a_503_page_and_writes_nothing(world):
    client = verified_client(world.manager)
    client.raise_request_exception = False
    before = _counts()
    with audit_insert_fails():
        response = client.post(
            f"/contracts/{world.contract.pk}/ledger/new/",
            data={
                **ASSET,
                "custodian": world.staff.pk,
                "confidentiality": 2,
                "integrity": 1,
                "availability": 1,
            },
        )
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert "データベースに接続できません" in response.content.decode()
    assert "Content-Security-Policy" in response, "the 503 page carries the security headers too"
    assert _counts() == before


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_server_without_its_database_answers_503(tmp_path, kind):
    """The real server started against a database that is not there: healthz, API and pages say 503."""
    if kind == "postgresql":
        url = f"postgres://postgres@127.0.0.1:{free_port()}/sekisho"  # nothing listens on that port
    else:
        url = f"sqlite:///{tmp_path / 'missing-dir' / 'sekisho.sqlite3'}"
    server = Server(tmp_path / "data", None, DATABASE_URL=url)
    try:
        server.start(expect=503)
        health = server.get("/healthz")
        assert json.loads(health.body) == {"status": "error", "database": "unavailable"}  # type: ignore[attr-defined]

        api = server.get("/api/v1/me", headers={"Authorization": "Bearer skh_0123abcd_not-a-real-secret"})
        assert api.status == 503
        assert json.loads(api.body) == UNAVAILABLE  # type: ignore[attr-defined]

        page = server.get("/", headers={"Cookie": "sessionid=abcdefghijklmnopqrstuvwxyz012345"})
        assert page.status == 503
        assert "データベースに接続できません".encode() in page.body  # type: ignore[attr-defined]
        assert page.headers["Retry-After"] == "30"
    finally:
        server.stop()
