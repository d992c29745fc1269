"""The deadlines of an incident, and when the personal-information law asks for a report: pure functions of
dates and facts, no database (R2.8.1, P10).

How days are counted
    The day of awareness is day 1 (個人情報保護委員会のガイドライン: 「知った時点を1日目とする」). Awareness is
    the day the contractor detected the incident: the contractor is the orderer's 委託先, so the earliest day
    anybody knew is the day every deadline counts from.
Closed days
    Saturdays, Sundays, national holidays (jpholiday: 振替休日 and 国民の休日 included) and the year-end closure
    29 Dec – 3 Jan (行政機関の休日に関する法律). A report deadline that falls on one moves to the next business day.
The deadlines
    - Orderer notice (R2.8.1 「直ちに」): the day of awareness plus the contract's allowance in calendar days
      (0 = the same day). It does not move: an incident is reported when it happens, weekend or not.
    - 速報 (施行規則 8条1項・44条: 「速やかに」, 概ね3〜5日以内): the n-th business day, the day of awareness being
      day 1 when it is a business day and the next business day being day 1 otherwise (default n = 3).
    - 確報 (8条2項・44条): the 30th day (the 60th when the leak may have a wrongful purpose), moved to the next
      business day.
When a report to the 個人情報保護委員会 is mandatory
    施行規則 7条 (a business: the contractor) and 43条 (a 行政機関等: the city): 要配慮個人情報, a risk of
    financial damage through wrongful use, a wrongful purpose, or more people than the threshold — 1,000 for a
    business, 100 for the public body. Data protected by high-grade encryption (with the key safe) is not
    "個人データ" in those articles, so an encrypted leak triggers nothing; the flags still show which facts
    apply. A near miss (ヒヤリハット: nothing left anyone's control) is no 漏えい等 and triggers nothing either.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import jpholiday
from django.utils.translation import gettext_lazy as _

DEFAULT_ORDERER_NOTICE_DAYS = 0
DEFAULT_PROMPT_BUSINESS_DAYS = 3
PROMPT_BUSINESS_DAYS_RANGE = (1, 5)
FINAL_REPORT_DAYS = 30
FINAL_REPORT_DAYS_WRONGFUL = 60
BUSINESS_THRESHOLD = 1000  # 施行規則 7条4号: 本人の数が千人を超える
PUBLIC_BODY_THRESHOLD = 100  # 施行規則 43条4号: 本人の数が百人を超える

ONE_DAY = dt.timedelta(days=1)


# --- the calendar ------------------------------------------------------------------------------------------


def is_year_end_closure(day: dt.date) -> bool:
    """29 Dec – 3 Jan, when public offices are closed."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and not jpholiday.is_holiday(day) and not is_year_end_closure(day)


def next_business_day(day: dt.date) -> dt.date:
    """*day* itself when it is a business day, else the first business day after it."""
    while not is_business_day(day):
        day += ONE_DAY
    return day


def nth_day(start: dt.date, n: int) -> dt.date:
    """The n-th calendar day counting *start* as day 1."""
    if n < 1:
        raise ValueError("days are counted from 1")
    return start + dt.timedelta(days=n - 1)


def nth_business_day(start: dt.date, n: int) -> dt.date:
    """The n-th business day counting *start* as day 1 if it is a business day (else the next business day)."""
    if n < 1:
        raise ValueError("days are counted from 1")
    day = next_business_day(start)
    for _step in range(n - 1):
        day = next_business_day(day + ONE_DAY)
    return day


# --- the three deadlines -----------------------------------------------------------------------------------


def orderer_notice_due(aware: dt.date, days: int = DEFAULT_ORDERER_NOTICE_DAYS) -> dt.date:
    if days < 0:
        raise ValueError("the orderer notice allowance cannot be negative")
    return aware + dt.timedelta(days=days)


def prompt_report_due(aware: dt.date, business_days: int = DEFAULT_PROMPT_BUSINESS_DAYS) -> dt.date:
    """速報: the target the contract set for 「速やかに（概ね3〜5日以内）」."""
    return nth_business_day(aware, business_days)


def final_report_due(aware: dt.date, *, wrongful_purpose: bool) -> dt.date:
    """確報: the 30th day (60th with a wrongful purpose), the day of awareness being day 1, moved past closed
    days to the next business day."""
    days = FINAL_REPORT_DAYS_WRONGFUL if wrongful_purpose else FINAL_REPORT_DAYS
    return next_business_day(nth_day(aware, days))


# --- when the law asks for a report ------------------------------------------------------------------------


@dataclass(frozen=True)
class Triggers:
    """The facts that make a leak reportable to the 個人情報保護委員会, and the two conclusions."""

    sensitive: bool
    financial: bool
    wrongful_purpose: bool
    over_business_threshold: bool
    over_public_body_threshold: bool
    encrypted: bool
    applicable: bool  # personal information was involved and it was no near miss

    @property
    def business_report(self) -> bool:
        """The contractor's own report (施行規則 7条)."""
        return (
            self.applicable
            and not self.encrypted
            and (self.sensitive or self.financial or self.wrongful_purpose or self.over_business_threshold)
        )

    @property
    def public_body_report(self) -> bool:
        """The city's report (施行規則 43条): the lower threshold, so it covers every business case too."""
        return (
            self.applicable
            and not self.encrypted
            and (self.sensitive or self.financial or self.wrongful_purpose or self.over_public_body_threshold)
        )

    @property
    def any_fact(self) -> bool:
        return (
            self.sensitive
            or self.financial
            or self.wrongful_purpose
            or self.over_business_threshold
            or self.over_public_body_threshold
        )


def triggers(
    *,
    personal: bool,
    near_miss: bool = False,
    sensitive: bool = False,
    financial: bool = False,
    wrongful_purpose: bool = False,
    count: int | None = None,
    encrypted: bool = False,
) -> Triggers:
    people = count or 0
    return Triggers(
        sensitive=personal and sensitive,
        financial=personal and financial,
        wrongful_purpose=personal and wrongful_purpose,
        over_business_threshold=personal and people > BUSINESS_THRESHOLD,
        over_public_body_threshold=personal and people > PUBLIC_BODY_THRESHOLD,
        encrypted=encrypted,
        applicable=personal and not near_miss,
    )


# --- an incident's deadlines ---------------------------------------------------------------------------------


class Key:
    ORDERER_NOTICE = "orderer_notice"
    PROMPT_REPORT = "prompt_report"
    FINAL_REPORT = "final_report"


LABELS = {
    Key.ORDERER_NOTICE: _("発注者への報告"),
    Key.PROMPT_REPORT: _("速報（個人情報保護委員会）"),
    Key.FINAL_REPORT: _("確報（個人情報保護委員会）"),
}


class Status:
    MET = "met"
    LATE = "late"  # done, but after the deadline
    OVERDUE = "overdue"
    DUE_TODAY = "due_today"
    OPEN = "open"
    NOT_REQUIRED = "not_required"


@dataclass(frozen=True)
class Deadline:
    key: str
    due: dt.date
    required: bool
    met_on: dt.date | None = None
    rule_days: int = 0  # the allowance the rule uses (days or business days), for the rule's wording

    @property
    def label(self) -> str:
        return str(LABELS[self.key])

    @property
    def rule(self) -> str:
        if self.key == Key.ORDERER_NOTICE:
            if self.rule_days == 0:
                return str(_("直ちに（覚知した日のうち）"))
            return str(_("直ちに（覚知した日から{days}日以内）").format(days=self.rule_days))
        if self.key == Key.PROMPT_REPORT:
            return str(
                _("速やかに（概ね3〜5日以内）。この契約の目標: 覚知日を1日目として{days}営業日目").format(
                    days=self.rule_days
                )
            )
        return str(
            _("覚知日を1日目として{days}日目（土日祝日・年末年始は翌開庁日）").format(days=self.rule_days)
        )

    def status(self, today: dt.date) -> str:
        if self.met_on is not None:
            return Status.LATE if self.met_on > self.due else Status.MET
        if not self.required:
            return Status.NOT_REQUIRED
        if today > self.due:
            return Status.OVERDUE
        if today == self.due:
            return Status.DUE_TODAY
        return Status.OPEN

    def is_overdue(self, today: dt.date) -> bool:
        return self.status(today) == Status.OVERDUE


def incident_deadlines(
    *,
    aware: dt.date,
    notified_on: dt.date | None,
    triggers: Triggers,
    orderer_notice_days: int = DEFAULT_ORDERER_NOTICE_DAYS,
    prompt_business_days: int = DEFAULT_PROMPT_BUSINESS_DAYS,
    prompt_reported_on: dt.date | None = None,
    final_reported_on: dt.date | None = None,
) -> list[Deadline]:
    """The orderer notice for every incident and near miss; 速報 and 確報 when personal information was involved
    (required when a trigger applies, shown for reference otherwise). A 確報 made early also answers the 速報."""
    deadlines = [
        Deadline(
            Key.ORDERER_NOTICE,
            orderer_notice_due(aware, orderer_notice_days),
            required=True,
            met_on=notified_on,
            rule_days=orderer_notice_days,
        )
    ]
    if not triggers.applicable:
        return deadlines
    required = triggers.public_body_report
    prompt_met = min((d for d in (prompt_reported_on, final_reported_on) if d is not None), default=None)
    final_days = FINAL_REPORT_DAYS_WRONGFUL if triggers.wrongful_purpose else FINAL_REPORT_DAYS
    deadlines += [
        Deadline(
            Key.PROMPT_REPORT,
            prompt_report_due(aware, prompt_business_days),
            required=required,
            met_on=prompt_met,
            rule_days=prompt_business_days,
        ),
        Deadline(
            Key.FINAL_REPORT,
            final_report_due(aware, wrongful_purpose=triggers.wrongful_purpose),
            required=required,
            met_on=final_reported_on,
            rule_days=final_days,
        ),
    ]
    return deadlines
