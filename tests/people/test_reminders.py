"""Reminders before an acknowledgement lapses (R2.4.1): once per acknowledgement, in the app and by e-mail,
to the person, or for someone who never logs in to the information manager."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from sekisho.audit.models import AuditEvent
from sekisho.notifications.models import Notification
from sekisho.people import services
from sekisho.people.models import Acknowledgement, StaffCategory, TrainingReminder

pytestmark = pytest.mark.django_db


def _ack(world, user):
    return Acknowledgement.objects.filter(contract=world.contract, user=user).latest("acknowledged_at")


def test_a_reminder_goes_out_once_within_the_notice_period(world, clock, django_capture_on_commit_callbacks):
    ack = _ack(world, world.staff)
    clock(ack.expires_at - dt.timedelta(days=31))
    assert services.send_training_reminders() == 0
    clock(ack.expires_at - dt.timedelta(days=29))
    with django_capture_on_commit_callbacks(execute=True):
        sent = services.send_training_reminders()
    assert sent == 4, "manager, staff, sub_staff and the other contract's manager acknowledged together"
    assert services.send_training_reminders() == 0, "once per acknowledgement"
    notice = Notification.objects.get(user=world.staff)
    assert "研修の再受講期限" in notice.subject and "R2.4.1" in notice.body
    assert any(world.staff.email in m.to for m in mail.outbox)
    assert TrainingReminder.objects.get(acknowledgement=ack).sent_to == world.staff.username
    assert AuditEvent.objects.filter(contract=world.contract, action="training.reminder").count() == 3


def test_a_renewed_or_outdated_acknowledgement_is_not_reminded(world, programme, clock):
    old = _ack(world, world.staff)
    services.acknowledge(programme, acting_user=world.staff, typed_name=world.staff.display_name)  # renewed
    services.publish_version(programme, acting_user=world.manager, content="第2版")  # the others are outdated
    clock(old.expires_at - dt.timedelta(days=1))
    services.send_training_reminders()
    assert not AuditEvent.objects.filter(contract=world.contract, action="training.reminder").exists()


def test_for_someone_who_never_logs_in_the_manager_is_told(world, programme, clock):
    director = services.add_to_roster(
        world.contract,
        acting_user=world.manager,
        organisation=world.contractor_org,
        name="倉敷 太郎",
        category=StaffCategory.DIRECTOR,
        started_on=dt.date(2026, 7, 1),
    )
    held = dt.datetime(2026, 7, 1, 10, tzinfo=dt.UTC)
    services.record_session(
        programme,
        acting_user=world.manager,
        held_at=held,
        method="classroom",
        instructor="講師",
        attendees=[(director, director.name)],
    )
    ack = Acknowledgement.objects.get(entry=director)
    clock(ack.expires_at - dt.timedelta(days=1))
    services.send_training_reminders()
    assert Notification.objects.filter(user=world.manager, body__contains="倉敷 太郎").exists()
