"""和暦 (Japanese era) dates for templates: ``{{ contract.period_start|wareki }}`` → 令和8年6月1日.

Contract periods on the orderer's forms are written in the Japanese era, so the screens show them the same
way. In another language the date is shown in that language's format with the era in brackets
("June 1, 2026 (Reiwa 8)"), so both sides can match a screen against the paper form.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import formats, timezone
from django.utils.translation import get_language

from sekisho.core.wareki import era_of, to_wareki

register = template.Library()
__all__ = ["era_of", "register", "summary_items", "summary_value", "to_wareki", "wareki"]


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).date()
    if isinstance(value, dt.date):
        return value
    return None


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
