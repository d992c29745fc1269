"""E-mail as background work on the database task backend: queued only when the step commits, sent by the real
``db_worker`` loop (run here in the test's process, on the test's database), a failing message recorded and
tried again later, then given up after the last attempt."""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sekisho.notifications import services
from sekisho.notifications.models import Notification

pytestmark = pytest.mark.django_db

TASK_PATH = "sekisho.notifications.tasks.send_notification_mail"


@pytest.fixture
def database_tasks(settings, monkeypatch):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    settings.SEKISHO_MAIL_MAX_ATTEMPTS = 3
    settings.SEKISHO_MAIL_RETRY_SECONDS = 60
    # The worker checks its connection between tasks; inside the test's transaction that would close it.
    monkeypatch.setattr("django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None)


def run_worker() -> None:
    """The real worker command, once through the queue (``--batch``), in this process."""
    call_command(
        "db_worker", "--batch", "--no-startup-delay", "--interval", "0", "--no-reload", stdout=io.StringIO()
    )


def notify(world, *users):
    with transaction.atomic():
        return services.notify(
            users, contract=world.contract, subject="事故の報告", body="事案番号: I-1", url="/x/"
        )


def test_mail_is_queued_on_commit_not_sent_in_the_request(
    world, database_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify(world, world.orderer, world.manager)
        assert not DBTaskResult.objects.exists(), "nothing is queued inside the transaction"
    assert len(callbacks) == 1
    callbacks[0]()
    queued = DBTaskResult.objects.order_by("enqueued_at")
    assert queued.count() == 2
    assert {t.task_path for t in queued} == {TASK_PATH}
    assert {t.status for t in queued} == {"READY"}
    assert sorted(t.args_kwargs["args"][2] for t in queued) == sorted(
        [world.orderer.email, world.manager.email]
    )
    assert mail.outbox == [], "the web process sends nothing itself"


def test_nothing_is_queued_when_the_step_rolls_back(
    world, database_tasks, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.notify([world.orderer], contract=world.contract, subject="x", body="y", url="/")
        raise RuntimeError("the step failed after notifying")
    assert callbacks == []
    assert not DBTaskResult.objects.exists() and not Notification.objects.exists()


def test_the_worker_sends_each_queued_mail_once(world, database_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify(world, world.orderer, world.manager)
    run_worker()
    assert sorted(m.to[0] for m in mail.outbox) == sorted([world.orderer.email, world.manager.email])
    assert mail.outbox[0].subject == "[関所] 事故の報告"
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}
    run_worker()
    assert len(mail.outbox) == 2, "a finished task does not run again"


def test_a_failing_mail_is_recorded_and_tried_again_later(
    world, database_tasks, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    failing = {world.orderer.email}

    def flaky(subject, body, sender, to, fail_silently):
        if to[0] in failing:
            raise ConnectionRefusedError("the mail server is down")
        mail.outbox.append(mail.EmailMessage(subject, body, sender, to))

    monkeypatch.setattr(services, "send_mail", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        notify(world, world.orderer, world.manager)
    before = timezone.now()
    run_worker()

    assert [m.to[0] for m in mail.outbox] == [world.manager.email], "the other message is not held up"
    failed = DBTaskResult.objects.get(status="FAILED")
    assert failed.args_kwargs["args"][2] == world.orderer.email
    assert failed.exception_class_path == "builtins.ConnectionRefusedError"
    assert "the mail server is down" in failed.traceback
    retry = DBTaskResult.objects.get(status="READY")
    assert retry.args_kwargs["kwargs"] == {"attempt": 2}
    assert retry.run_after >= before + dt.timedelta(seconds=60), "the next attempt waits"

    run_worker()
    assert DBTaskResult.objects.filter(status="READY").count() == 1, "not before its time"

    # The time comes and the mail server is back.
    failing.clear()
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now() - dt.timedelta(seconds=1))
    run_worker()
    assert sorted(m.to[0] for m in mail.outbox) == sorted([world.manager.email, world.orderer.email])
    assert DBTaskResult.objects.get(pk=retry.pk).status == "SUCCESSFUL"


def test_a_mail_that_keeps_failing_is_given_up_after_the_last_attempt(
    world, database_tasks, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def down(*args, **kwargs):
        raise ConnectionRefusedError("the mail server is down")

    monkeypatch.setattr(services, "send_mail", down)
    with django_capture_on_commit_callbacks(execute=True):
        notify(world, world.orderer)
    delays = []
    with caplog.at_level(logging.WARNING, logger="sekisho.notifications"):
        for _ in range(5):
            run_worker()
            waiting = DBTaskResult.objects.filter(status="READY").first()
            if waiting is None:
                break
            delays.append(round((waiting.run_after - timezone.now()).total_seconds() / 60))
            DBTaskResult.objects.filter(pk=waiting.pk).update(run_after=timezone.now())
    attempts = DBTaskResult.objects.filter(status="FAILED").order_by("enqueued_at")
    assert [t.args_kwargs["kwargs"].get("attempt", 1) for t in attempts] == [1, 2, 3]
    assert delays == [1, 4], "1 minute, then 4: the wait grows"
    assert not DBTaskResult.objects.filter(status="READY").exists()
    assert any(
        r.levelno == logging.ERROR and "failed for good after 3 attempt(s)" in r.getMessage()
        for r in caplog.records
    )


def test_immediate_backend_sends_at_once_and_does_not_retry(
    world, django_capture_on_commit_callbacks, monkeypatch
):
    """SEKISHO_TASKS_BACKEND=immediate (and the rest of the test suite): sent in the committing process; a
    failure cannot be retried there (no deferred run) and is only logged."""
    calls = []

    def down(subject, body, sender, to, fail_silently):
        calls.append(to[0])
        raise ConnectionRefusedError("down")

    monkeypatch.setattr(services, "send_mail", down)
    with django_capture_on_commit_callbacks(execute=True):
        notify(world, world.orderer)
    assert calls == [world.orderer.email]
    assert not DBTaskResult.objects.exists()
