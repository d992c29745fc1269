"""``/healthz``: the database, the vault's storage (a probe written, read and deleted) and the task queue; 503
with the failing component named; figures only for allowed callers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sekisho.vault.storage import get_storage

pytestmark = pytest.mark.django_db

TASK_PATH = "sekisho.notifications.tasks.send_notification_mail"


@pytest.fixture
def vault(settings, tmp_path):
    settings.SEKISHO_VAULT_BACKEND = "filesystem"
    settings.VAULT_DIR = tmp_path / "vault"
    return settings.VAULT_DIR


def queue_task(waited: dt.timedelta, status: str = "READY", run_after=None) -> DBTaskResult:
    task = DBTaskResult.objects.create(
        args_kwargs={"args": ["s", "b", "a@example.invalid"], "kwargs": {}},
        task_path=TASK_PATH,
        backend_name="default",
        status=status,
        run_after=run_after or dt.datetime(9999, 1, 1, tzinfo=dt.UTC),
    )
    DBTaskResult.objects.filter(pk=task.pk).update(enqueued_at=timezone.now() - waited)
    return task


def test_healthy_is_a_short_ok(client, vault):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_the_vault_probe_leaves_nothing_behind(client, vault):
    assert client.get("/healthz").status_code == 200
    assert list(get_storage().keys()) == []
    assert list(get_storage().partials()) == []


def test_a_vault_that_cannot_be_written_is_named(client, vault, settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the vault should be")
    settings.VAULT_DIR = blocker
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "vault": "unavailable"}


def test_an_unreachable_s3_store_is_named(client, settings):
    settings.SEKISHO_VAULT_BACKEND = "s3"
    settings.SEKISHO_VAULT_S3_BUCKET = "sekisho-health"
    settings.SEKISHO_VAULT_S3_ENDPOINT = "http://127.0.0.1:9"  # discard port: nothing answers
    settings.SEKISHO_VAULT_S3_ACCESS_KEY = settings.SEKISHO_VAULT_S3_SECRET_KEY = "test"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "vault": "unavailable"}


def test_a_stalled_queue_is_named(client, vault, settings):
    settings.SEKISHO_HEALTH_TASK_MAX_AGE = 600
    queue_task(dt.timedelta(minutes=5))
    assert client.get("/healthz").status_code == 200, "five minutes is within the limit"
    queue_task(dt.timedelta(minutes=11))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "tasks": "stalled"}
    settings.SEKISHO_HEALTH_TASK_MAX_AGE = 0
    assert client.get("/healthz").status_code == 200, "0 turns the age check off"


def test_tasks_that_are_not_due_or_are_done_do_not_count(client, vault, settings):
    settings.SEKISHO_HEALTH_TASK_MAX_AGE = 600
    queue_task(dt.timedelta(hours=2), run_after=timezone.now() + dt.timedelta(minutes=30))  # a retry, later
    queue_task(dt.timedelta(hours=2), status="SUCCESSFUL")
    queue_task(dt.timedelta(hours=2), status="FAILED")
    assert client.get("/healthz").status_code == 200
    # A deferred task counts from the time it became due, not from when it was queued.
    queue_task(dt.timedelta(hours=2), run_after=timezone.now() - dt.timedelta(minutes=3))
    detail = client.get("/healthz?detail=1").json()["checks"]["tasks"]
    assert detail["pending"] == 1
    assert 170 < detail["oldest_pending_seconds"] < 400


def test_detail_is_for_allowed_callers_only(vault):
    queue_task(dt.timedelta(seconds=30))
    local = Client(REMOTE_ADDR="127.0.0.1").get("/healthz?detail=1").json()
    assert local["status"] == "ok"
    assert set(local["checks"]) == {"database", "vault", "tasks"}
    assert local["checks"]["vault"]["backend"] == "filesystem"
    assert local["checks"]["tasks"]["pending"] == 1
    assert local["checks"]["tasks"]["oldest_pending_seconds"] >= 30
    remote = Client(REMOTE_ADDR="203.0.113.9").get("/healthz?detail=1")
    assert remote.status_code == 200
    assert remote.json() == {"status": "ok"}


def test_a_database_that_fails_is_named_and_the_queue_is_not_asked(client, vault, monkeypatch):
    from django.db import OperationalError
    from django.db.backends.utils import CursorWrapper

    asked = []

    def broken(self, sql, params=None):
        asked.append(sql)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(CursorWrapper, "execute", broken)
    response = Client(REMOTE_ADDR="127.0.0.1").get("/healthz?detail=1")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error" and body["database"] == "unavailable"
    assert "tasks" not in body and set(body["checks"]) == {"database", "vault"}
    assert len(asked) == 1, "only SELECT 1: the queue is not asked when the database is down"
