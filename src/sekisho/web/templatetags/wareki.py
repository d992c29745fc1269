"""和暦 (Japanese era) dates for templates: ``{{ contract.period_start|wareki }}`` → 令和8年6月1日.

Contract periods on the orderer's forms are written in the Japanese era, so the screens show them the same
way. In another language the date is shown in that language's format with the era in brackets
("June 1, 2026 (Reiwa 8)"), so both sides can match a screen against the paper form.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from django import template
from django.utils import formats, timezone
from django.utils.translation import get_language

register = template.Library()


class Era(NamedTuple):
    name: str
    romaji: str
    start: dt.date


# Newest first. Dates before the Gregorian calendar was adopted (明治6年1月1日) are not converted.
ERAS = (
    Era("令和", "Reiwa", dt.date(2019, 5, 1)),
    Era("平成", "Heisei", dt.date(1989, 1, 8)),
    Era("昭和", "Shōwa", dt.date(1926, 12, 25)),
    Era("大正", "Taishō", dt.date(1912, 7, 30)),
    Era("明治", "Meiji", dt.date(1873, 1, 1)),
)
MEIJI_YEAR_ONE = 1868


def era_of(day: dt.date) -> tuple[Era, int] | None:
    """The era of *day* and the year within it (1 = 元年), or None before 1873."""
    for era in ERAS:
        if day >= era.start:
            first_year = MEIJI_YEAR_ONE if era.name == "明治" else era.start.year
            return era, day.year - first_year + 1
    return None


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).date()
    if isinstance(value, dt.date):
        return value
    return None


def to_wareki(day: dt.date) -> str:
    """令和8年6月1日 (令和元年5月1日 for the first year of an era); 西暦 for dates before 1873."""
    found = era_of(day)
    if found is None:
        return f"{day.year}年{day.month}月{day.day}日"
    era, year = found
    year_text = "元" if year == 1 else str(year)
    return f"{era.name}{year_text}年{day.month}月{day.day}日"


@register.filter
def wareki(value: object) -> object:
    """A date (or datetime, in local time) in the Japanese era when the page is Japanese.

    Anything that is not a date is returned unchanged, so an empty field renders as it would without the filter.
    """
    day = _as_date(value)
    if day is None:
        return value
    language = get_language() or "ja"
    if language.startswith("ja"):
        return to_wareki(day)
    text = formats.date_format(day, "DATE_FORMAT")
    found = era_of(day)
    if found is None:
        return text
    era, year = found
    return f"{text} ({era.romaji} {year})"


@register.filter
def summary_value(value: object) -> str:
    """One value of an audit event's summary as plain text: lists joined, empty shown as a dash.

    The values are shown as recorded (ISO dates stay ISO), because the audit page must match the export and
    the hash; only the Python syntax of lists and dicts is left out.
    """
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return " / ".join(summary_value(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {summary_value(item)}" for key, item in value.items())
    return str(value)


@register.filter
def summary_items(summary: object) -> list[tuple[str, object]]:
    """The (key, value) pairs of a summary dict. ``summary.items`` in a template would look up a key named
    "items" first, so a summary that has one would not render."""
    if isinstance(summary, dict):
        return [(str(key), value) for key, value in summary.items()]
    return []
