"""The deadline rules on the real 2026–2028 calendars: holidays (jpholiday, 振替休日 and 国民の休日 included),
weekends, the year-end closure 29 Dec – 3 Jan, and leap years. The day of awareness is day 1."""

from __future__ import annotations

import datetime as dt

import pytest

from sekisho.incidents.deadlines import (
    Deadline,
    Key,
    Status,
    final_report_due,
    incident_deadlines,
    is_business_day,
    is_year_end_closure,
    next_business_day,
    nth_business_day,
    nth_day,
    orderer_notice_due,
    prompt_report_due,
    triggers,
)

D = dt.date


# --- the calendar ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "business"),
    [
        (D(2026, 7, 17), True),  # Friday
        (D(2026, 7, 18), False),  # Saturday
        (D(2026, 7, 19), False),  # Sunday
        (D(2026, 7, 20), False),  # 海の日
        (D(2026, 5, 6), False),  # 憲法記念日の振替休日 (3 May was a Sunday)
        (D(2026, 9, 22), False),  # 国民の休日 between 敬老の日 and 秋分の日
        (D(2027, 3, 22), False),  # 春分の日の振替休日
        (D(2026, 12, 28), True),  # last business day of the year
        (D(2026, 12, 29), False),  # year-end closure, a Tuesday
        (D(2027, 1, 3), False),
        (D(2027, 1, 4), True),  # first business day of 2027
        (D(2027, 1, 11), False),  # 成人の日
        (D(2028, 2, 29), True),  # leap day, a Tuesday
    ],
)
def test_business_days_follow_the_japanese_public_office_calendar(day, business):
    assert is_business_day(day) is business


def test_year_end_closure_is_29_december_to_3_january():
    closed = [d for d in (D(2026, 12, 1) + dt.timedelta(days=n) for n in range(45)) if is_year_end_closure(d)]
    assert closed == [
        D(2026, 12, 29),
        D(2026, 12, 30),
        D(2026, 12, 31),
        D(2027, 1, 1),
        D(2027, 1, 2),
        D(2027, 1, 3),
    ]


def test_next_business_day_is_the_day_itself_when_open():
    assert next_business_day(D(2026, 7, 17)) == D(2026, 7, 17)
    assert next_business_day(D(2026, 7, 18)) == D(2026, 7, 21)  # past the weekend and 海の日
    assert next_business_day(D(2026, 5, 2)) == D(2026, 5, 7)  # Golden Week
    assert next_business_day(D(2026, 12, 29)) == D(2027, 1, 4)


def test_days_are_counted_from_one():
    assert nth_day(D(2026, 7, 1), 1) == D(2026, 7, 1)
    assert nth_day(D(2026, 7, 1), 30) == D(2026, 7, 30)
    with pytest.raises(ValueError):
        nth_day(D(2026, 7, 1), 0)
    with pytest.raises(ValueError):
        nth_business_day(D(2026, 7, 1), 0)


# --- 速報 -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aware", "business_days", "due"),
    [
        # A Friday before a holiday: Fri 17 Jul (1), Tue 21 (2, after 海の日), Wed 22 (3).
        (D(2026, 7, 17), 3, D(2026, 7, 22)),
        (D(2026, 7, 17), 1, D(2026, 7, 17)),
        (D(2026, 7, 17), 5, D(2026, 7, 24)),
        # Awareness on a closed day: the next business day is day 1.
        (D(2026, 7, 18), 3, D(2026, 7, 23)),
        # Golden Week 2026: Thu 30 Apr (1), Fri 1 May (2), then 2–6 May closed, Thu 7 May (3).
        (D(2026, 4, 30), 3, D(2026, 5, 7)),
        # Silver Week 2026: Fri 18 Sep (1), then 19–23 Sep closed, Thu 24 (2), Fri 25 (3).
        (D(2026, 9, 18), 3, D(2026, 9, 25)),
        # 28 Dec: Mon 28 Dec (1), then the year-end closure, Mon 4 Jan (2), Tue 5 Jan (3).
        (D(2026, 12, 28), 3, D(2027, 1, 5)),
        # 2027-12-28 is a Tuesday: (1) 28 Dec, (2) Tue 4 Jan 2028, (3) Wed 5 Jan 2028.
        (D(2027, 12, 28), 3, D(2028, 1, 5)),
        # 春分の日 on a Sunday with its 振替休日: Fri 19 Mar 2027 (1), Tue 23 (2), Wed 24 (3).
        (D(2027, 3, 19), 3, D(2027, 3, 24)),
        # Leap year: Mon 28 Feb 2028 (1), Tue 29 Feb (2), Wed 1 Mar (3).
        (D(2028, 2, 28), 3, D(2028, 3, 1)),
    ],
)
def test_prompt_report_is_the_nth_business_day(aware, business_days, due):
    assert prompt_report_due(aware, business_days) == due


# --- 確報 -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aware", "wrongful", "due"),
    [
        # Day 30 is a plain business day.
        (D(2026, 7, 1), False, D(2026, 7, 30)),
        # 28 Dec: day 30 is Tue 26 Jan 2027, a business day.
        (D(2026, 12, 28), False, D(2027, 1, 26)),
        # Day 30 falls in the year-end closure (Tue 29 Dec 2026): moved to Mon 4 Jan 2027.
        (D(2026, 11, 30), False, D(2027, 1, 4)),
        # Day 30 is New Year's Day 2027 (a Friday): moved past 2–3 Jan and the weekend to Mon 4 Jan.
        (D(2026, 12, 3), False, D(2027, 1, 4)),
        # Day 30 is Thu 30 Dec 2027: moved to Tue 4 Jan 2028 (1 Jan is a Saturday, 3 Jan a Monday).
        (D(2027, 12, 1), False, D(2028, 1, 4)),
        # Silver Week: day 30 is 国民の休日 Tue 22 Sep 2026, then 秋分の日: moved to Thu 24 Sep.
        (D(2026, 8, 24), False, D(2026, 9, 24)),
        # A Saturday: day 30 of 6 Jun 2026 is Sun 5 Jul: moved to Mon 6 Jul.
        (D(2026, 6, 6), False, D(2026, 7, 6)),
        # 振替休日: day 30 is Sun 21 Mar 2027 (春分の日), its substitute Mon 22: moved to Tue 23 Mar.
        (D(2027, 2, 20), False, D(2027, 3, 23)),
        # Leap years: 31 Jan 2028 + 29 days is 29 Feb 2028 (a Tuesday); in 2027 the same count reaches 1 Mar.
        (D(2028, 1, 31), False, D(2028, 2, 29)),
        (D(2027, 1, 31), False, D(2027, 3, 1)),
        (D(2028, 2, 1), False, D(2028, 3, 1)),
        # A wrongful purpose: 60 days. 1 Mar 2026 + 59 days = Wed 29 Apr (昭和の日): moved to Thu 30 Apr.
        (D(2026, 3, 1), True, D(2026, 4, 30)),
        # 5 Mar 2026 + 59 = Sun 3 May: Golden Week runs to the 振替休日 Wed 6 May: Thu 7 May.
        (D(2026, 3, 5), True, D(2026, 5, 7)),
        # Leap year, 60 days: 1 Jan 2028 + 59 days is Tue 29 Feb 2028 (in a common year it would be 1 Mar).
        (D(2028, 1, 1), True, D(2028, 2, 29)),
    ],
)
def test_final_report_is_day_30_or_60_moved_to_the_next_business_day(aware, wrongful, due):
    assert final_report_due(aware, wrongful_purpose=wrongful) == due


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


ALL_DAYS = _days(D(2026, 1, 1), D(2028, 12, 31))


@pytest.mark.parametrize("wrongful", [False, True])
def test_final_report_rule_holds_for_every_day_of_2026_to_2028(wrongful):
    days = 60 if wrongful else 30
    for aware in ALL_DAYS:
        due = final_report_due(aware, wrongful_purpose=wrongful)
        last = aware + dt.timedelta(days=days - 1)
        assert due >= last, aware
        assert is_business_day(due), aware
        # Nothing open was skipped: every day from day 30 (60) up to the due date is closed.
        assert all(not is_business_day(d) for d in _days(last, due - dt.timedelta(days=1))), aware


@pytest.mark.parametrize("n", [1, 3, 5])
def test_prompt_report_rule_holds_for_every_day_of_2026_to_2028(n):
    for aware in ALL_DAYS:
        due = prompt_report_due(aware, n)
        assert is_business_day(due), aware
        assert sum(1 for d in _days(aware, due) if is_business_day(d)) == n, aware


def test_orderer_notice_is_the_same_day_by_default_and_is_not_moved():
    assert orderer_notice_due(D(2026, 7, 18)) == D(2026, 7, 18)  # a Saturday: incidents do not wait
    assert orderer_notice_due(D(2026, 12, 31), 1) == D(2027, 1, 1)
    with pytest.raises(ValueError):
        orderer_notice_due(D(2026, 7, 18), -1)


# --- reporting triggers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "business", "public_body"),
    [(100, False, False), (101, False, True), (1000, False, True), (1001, True, True)],
)
def test_people_thresholds_are_more_than_1000_and_more_than_100(count, business, public_body):
    t = triggers(personal=True, count=count)
    assert t.over_business_threshold is business and t.business_report is business
    assert t.over_public_body_threshold is public_body and t.public_body_report is public_body


@pytest.mark.parametrize("fact", ["sensitive", "financial", "wrongful_purpose"])
def test_sensitive_financial_or_wrongful_purpose_is_reportable_even_for_one_person(fact):
    t = triggers(personal=True, count=1, **{fact: True})
    assert t.business_report and t.public_body_report


def test_encryption_takes_the_leak_out_of_the_mandatory_report_but_keeps_the_facts():
    t = triggers(personal=True, count=5000, sensitive=True, encrypted=True)
    assert t.sensitive and t.over_business_threshold and t.any_fact
    assert not t.business_report and not t.public_body_report


def test_near_miss_and_no_personal_information_trigger_nothing():
    assert not triggers(personal=True, near_miss=True, count=5000, sensitive=True).public_body_report
    none = triggers(personal=False, count=5000, sensitive=True)
    assert not none.any_fact and not none.applicable and not none.public_body_report


# --- an incident's deadlines and their states ----------------------------------------------------------------


def test_incident_without_personal_information_has_only_the_orderer_notice():
    found = incident_deadlines(
        aware=D(2026, 7, 17), notified_on=D(2026, 7, 17), triggers=triggers(personal=False)
    )
    assert [d.key for d in found] == [Key.ORDERER_NOTICE]
    assert found[0].status(D(2026, 7, 30)) == Status.MET


def test_personal_incident_has_prompt_and_final_reports_with_the_contract_targets():
    found = incident_deadlines(
        aware=D(2026, 7, 17),
        notified_on=D(2026, 7, 18),
        triggers=triggers(personal=True, count=150),
        orderer_notice_days=0,
        prompt_business_days=5,
    )
    notice, prompt, final = found
    assert notice.status(D(2026, 7, 18)) == Status.LATE
    assert prompt.due == D(2026, 7, 24) and prompt.required
    assert final.due == D(2026, 8, 17)  # day 30 is Sat 15 Aug
    assert "30" in final.rule and "5" in prompt.rule


def test_not_required_reports_are_shown_for_reference_and_never_overdue():
    found = incident_deadlines(
        aware=D(2026, 7, 1), notified_on=D(2026, 7, 1), triggers=triggers(personal=True, count=3)
    )
    prompt = found[1]
    assert not prompt.required
    assert prompt.status(D(2026, 12, 1)) == Status.NOT_REQUIRED
    assert not prompt.is_overdue(D(2026, 12, 1))


def test_an_early_final_report_answers_the_prompt_report():
    found = incident_deadlines(
        aware=D(2026, 7, 1),
        notified_on=D(2026, 7, 1),
        triggers=triggers(personal=True, count=150),
        final_reported_on=D(2026, 7, 2),
    )
    assert found[1].met_on == D(2026, 7, 2) and found[1].status(D(2026, 7, 10)) == Status.MET


@pytest.mark.parametrize(
    ("today", "status"),
    [(D(2026, 7, 21), Status.OPEN), (D(2026, 7, 22), Status.DUE_TODAY), (D(2026, 7, 23), Status.OVERDUE)],
)
def test_deadline_status_moves_from_open_to_overdue(today, status):
    deadline = Deadline(Key.PROMPT_REPORT, D(2026, 7, 22), required=True, rule_days=3)
    assert deadline.status(today) == status
    assert deadline.is_overdue(today) is (status == Status.OVERDUE)
