"""Notifications: one row per person, e-mail only after the commit (nothing when it rolls back), a person's
inbox only, reading recorded."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse

from sekisho.audit.models import AuditEvent
from sekisho.core.errors import NotFound
from sekisho.core.models import Membership
from sekisho.notifications import selectors, services
from sekisho.notifications.models import Notification

from ..web.test_pages import page

pytestmark = pytest.mark.django_db


def tell(world, *users, url="/contracts/1/incidents/1/"):
    with transaction.atomic():
        return services.notify(
            users, contract=world.contract, subject="事故の報告", body="事案番号: I-1", url=url
        )


def test_each_person_gets_one_notification_and_one_email_after_the_commit(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rows = tell(world, world.orderer, world.manager, world.orderer)
        assert mail.outbox == []
    assert len(rows) == 2 and len(callbacks) == 1
    assert sorted(m.to[0] for m in mail.outbox) == sorted([world.orderer.email, world.manager.email])
    assert mail.outbox[0].subject == "[関所] 事故の報告"
    assert "/contracts/1/incidents/1/" in mail.outbox[0].body


def test_the_link_is_absolute_when_the_base_url_is_set(world, settings, django_capture_on_commit_callbacks):
    settings.SEKISHO_BASE_URL = "https://sekisho.city.example.lg.jp/"
    with django_capture_on_commit_callbacks(execute=True):
        tell(world, world.orderer)
    assert "https://sekisho.city.example.lg.jp/contracts/1/incidents/1/" in mail.outbox[0].body


def test_nothing_is_sent_or_kept_when_the_transaction_rolls_back(world, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.notify([world.orderer], contract=world.contract, subject="x", body="y", url="/")
        raise RuntimeError("the step failed after notifying")
    assert callbacks == [] and mail.outbox == []
    assert not Notification.objects.exists()


def test_a_failing_mail_server_does_not_lose_the_other_messages(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []

    def flaky(subject, body, sender, to, fail_silently):
        if to == [world.orderer.email]:
            raise OSError("connection refused")
        sent.append(to[0])

    monkeypatch.setattr(services, "send_mail", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        tell(world, world.orderer, world.manager)
    assert sent == [world.manager.email]
    assert Notification.objects.count() == 2


def test_people_without_an_address_are_told_in_the_app_only(world, django_capture_on_commit_callbacks):
    world.manager.email = ""
    world.manager.save(update_fields=["email"])
    with django_capture_on_commit_callbacks(execute=True):
        tell(world, world.manager)
    assert mail.outbox == [] and Notification.objects.filter(user=world.manager).exists()


def test_the_inbox_is_ones_own_and_ends_with_the_membership(world):
    tell(world, world.orderer, world.manager)
    assert selectors.inbox(world.orderer).count() == 1
    assert selectors.unread_count(world.manager) == 1
    Membership.objects.filter(user=world.manager, contract=world.contract).update(
        ended_at="2026-09-01T00:00Z"
    )
    assert selectors.inbox(world.manager).count() == 0, "leaving the contract ends what one may learn of it"


def test_reading_is_recorded_once_and_only_for_ones_own(world):
    (mine, theirs) = tell(world, world.orderer, world.manager)
    if mine.user_id != world.orderer.pk:
        mine, theirs = theirs, mine
    with pytest.raises(NotFound):
        services.mark_read(theirs.pk, acting_user=world.orderer)
    services.mark_read(mine.pk, acting_user=world.orderer)
    services.mark_read(mine.pk, acting_user=world.orderer)
    assert AuditEvent.objects.filter(action="notification.read").count() == 1
    assert selectors.unread_count(world.orderer) == 0


def test_the_page_lists_and_marks_all_read(world, client_for):
    tell(world, world.orderer)
    tell(world, world.orderer, url="https://elsewhere.example/")
    client = client_for("orderer")
    html = page(client, reverse("notifications:list"))
    assert "未読 2件" in html and "事故の報告" in html
    # A link that leaves the site is never followed.
    foreign = Notification.objects.get(url="https://elsewhere.example/")
    response = client.post(reverse("notifications:read", args=[foreign.pk]))
    assert response["Location"] == reverse("notifications:list")
    client.post(reverse("notifications:read-all"))
    assert selectors.unread_count(world.orderer) == 0
    assert client_for("manager").post(reverse("notifications:read", args=[foreign.pk])).status_code == 404


def test_the_context_processor_counts_unread_lazily(world, rf, django_assert_num_queries):
    from sekisho.notifications.context_processors import notifications

    tell(world, world.orderer)
    request = rf.get("/")
    request.user = world.orderer
    with django_assert_num_queries(0):
        context = notifications(request)
    with django_assert_num_queries(1):
        assert int(str(context["unread_notifications"])) == 1
