"""Due dates on the offices' calendar (jpholiday, the year-end closure) in 和暦, and the tick's reminders of
overdue report requests and corrective actions: once per due date, to the managers and the orderer officers."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from sekisho.audit.models import AuditEvent
from sekisho.notifications.models import Notification
from sekisho.oversight import duedates, inspections, services
from sekisho.oversight.models import ItemResult, OverdueReminder
from sekisho.oversight.reminders import remind_overdue

pytestmark = pytest.mark.django_db

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
CREATED = dt.date(2026, 12, 1)
NEW_YEAR = dt.date(2027, 1, 1)  # 元日, a Friday, inside the year-end closure


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=TOKYO)


def test_a_due_date_on_a_closed_day_runs_to_the_next_business_day():
    assert duedates.effective_due(NEW_YEAR) == dt.date(2027, 1, 4)
    assert duedates.due(NEW_YEAR).text() == "令和9年1月1日（金・元日）→ 期限は令和9年1月4日（月）"
    # Saturday, then Sunday and 成人の日 (the second Monday of January).
    assert (
        duedates.due(dt.date(2027, 1, 9)).text() == "令和9年1月9日（土・土曜日）→ 期限は令和9年1月12日（火）"
    )
    assert duedates.due(dt.date(2026, 12, 29)).closed_reason == "年末年始の休日"
    assert duedates.due(dt.date(2026, 12, 1)).text() == "令和8年12月1日（火）"
    assert not duedates.due(dt.date(2026, 12, 1)).moved
    assert not duedates.is_overdue(NEW_YEAR, dt.date(2027, 1, 4))
    assert duedates.is_overdue(NEW_YEAR, dt.date(2027, 1, 5))


@pytest.fixture
def due_new_year(world, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(timezone, "localdate", lambda *a, **k: CREATED)
        return services.create_report_request(
            world.contract,
            acting_user=world.orderer,
            subject="年末の点検結果",
            detail="報告を",
            due_on=NEW_YEAR,
        )


def reminders_to(user) -> list[Notification]:
    return list(Notification.objects.filter(user=user, subject__startswith="報告期限超過"))


def test_an_overdue_request_is_reminded_once_per_due_date(world, due_new_year):
    assert remind_overdue(noon(dt.date(2027, 1, 4))) == []
    made = remind_overdue(noon(dt.date(2027, 1, 5)))
    assert len(made) == 1 and made[0].request == due_new_year and made[0].due_on == NEW_YEAR
    assert len(reminders_to(world.manager)) == 1 and len(reminders_to(world.orderer)) == 1
    assert "令和9年1月4日" in reminders_to(world.manager)[0].body
    assert not reminders_to(world.staff) and not reminders_to(world.auditor)
    event = AuditEvent.objects.get(action="report_request.reminder")
    assert event.actor_label == "system" and event.summary["effective_due"] == "2027-01-04"
    assert remind_overdue(noon(dt.date(2027, 1, 6))) == []
    assert len(reminders_to(world.manager)) == 1


def test_a_new_due_date_is_a_new_reminder(world, due_new_year, monkeypatch):
    remind_overdue(noon(dt.date(2027, 1, 5)))
    with monkeypatch.context() as m:
        m.setattr(timezone, "localdate", lambda *a, **k: dt.date(2027, 1, 5))
        services.answer_report_request(due_new_year, acting_user=world.manager, text="遅れて報告します。")
        services.request_more(
            due_new_year, acting_user=world.orderer, note="追加", due_on=dt.date(2027, 1, 8)
        )
    assert remind_overdue(noon(dt.date(2027, 1, 8))) == []
    assert len(remind_overdue(noon(dt.date(2027, 1, 12)))) == 1
    assert OverdueReminder.objects.filter(request=due_new_year).count() == 2


def test_an_answered_request_is_not_reminded(world, due_new_year, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(timezone, "localdate", lambda *a, **k: CREATED)
        services.answer_report_request(due_new_year, acting_user=world.manager, text="報告します。")
    assert remind_overdue(noon(dt.date(2027, 2, 1))) == []


def test_an_overdue_corrective_action_is_reminded(world, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(timezone, "localdate", lambda *a, **k: CREATED)
        inspection = inspections.schedule_inspection(
            world.contract, acting_user=world.orderer, title="検査", scheduled_on=CREATED
        )
        inspections.start_inspection(inspection, acting_user=world.orderer)
        item = inspection.items.get(clause_id="R2.7エ")
        inspections.record_item(item, acting_user=world.orderer, result=ItemResult.NONCONFORMING, note="不備")
        finding = inspections.add_finding(
            item,
            acting_user=world.orderer,
            description="指摘",
            corrective_request="是正",
            due_on=dt.date(2026, 12, 11),
        )
    assert remind_overdue(noon(dt.date(2026, 12, 11))) == []
    (made,) = remind_overdue(noon(dt.date(2026, 12, 14)))
    assert made.finding == finding
    assert Notification.objects.filter(user=world.manager, subject__startswith="是正期限超過").count() == 1
    assert AuditEvent.objects.get(action="inspection.finding_reminder").summary["ref"] == "INS-1-1"
    assert remind_overdue(noon(dt.date(2026, 12, 15))) == []


def test_the_tick_runs_the_oversight_reminders(world, due_new_year, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: noon(dt.date(2027, 1, 5)))
    out = io.StringIO()
    call_command("tick", "--only", "oversight.remind_overdue", stdout=out)
    assert "oversight.remind_overdue: 1 oversight reminder(s) sent" in out.getvalue()
    again = io.StringIO()
    call_command("tick", "--only", "oversight.remind_overdue", stdout=again)
    assert "0 oversight reminder(s) sent" in again.getvalue()
