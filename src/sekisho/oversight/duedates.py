"""Due dates of report requests and corrective actions, on the public offices' calendar.

A due date the orderer sets may fall on a day the offices are closed (a Saturday, Sunday, national holiday —
jpholiday, 振替休日 included — or the year-end closure 29 Dec – 3 Jan). As with every administrative deadline
(行政機関の休日に関する法律 2条), it then runs to the next business day: that is the day the reminder counts from,
and the screens and documents say so in 和暦.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import jpholiday

from sekisho.core.wareki import to_wareki
from sekisho.incidents.deadlines import is_business_day, is_year_end_closure, next_business_day

WEEKDAYS = "月火水木金土日"


def effective_due(day: dt.date) -> dt.date:
    """The last day on which an answer is on time: *day*, or the next business day if *day* is closed."""
    return next_business_day(day)


def is_overdue(day: dt.date, today: dt.date) -> bool:
    return today > effective_due(day)


def closed_reason(day: dt.date) -> str:
    """Why the offices are closed on *day* (Japanese), or "" on a business day."""
    if is_business_day(day):
        return ""
    name = jpholiday.is_holiday_name(day)
    if name:
        return str(name)
    if is_year_end_closure(day):
        return "年末年始の休日"
    return "土曜日" if day.weekday() == 5 else "日曜日"


def wareki_with_weekday(day: dt.date) -> str:
    return f"{to_wareki(day)}（{WEEKDAYS[day.weekday()]}）"


@dataclass(frozen=True)
class Due:
    """A due date as set, and as it runs."""

    set_on: dt.date
    effective: dt.date
    closed_reason: str

    @property
    def moved(self) -> bool:
        return self.effective != self.set_on

    def text(self) -> str:
        """令和8年8月10日（月）, or, on a closed day, 令和8年8月11日（火・山の日）→ 期限は令和8年8月12日（水）."""
        if not self.moved:
            return wareki_with_weekday(self.set_on)
        day = self.set_on
        return (
            f"{to_wareki(day)}（{WEEKDAYS[day.weekday()]}・{self.closed_reason}）"
            f"→ 期限は{wareki_with_weekday(self.effective)}"
        )

    def days_left(self, today: dt.date) -> int:
        return (self.effective - today).days


def due(day: dt.date) -> Due:
    return Due(day, effective_due(day), closed_reason(day))
