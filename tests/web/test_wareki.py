from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import translation

from sekisho.web.templatetags.wareki import era_of, summary_items, summary_value, to_wareki, wareki


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 6, 1), "令和8年6月1日"),
        (dt.date(2027, 3, 19), "令和9年3月19日"),
        (dt.date(2019, 5, 1), "令和元年5月1日"),
        (dt.date(2019, 4, 30), "平成31年4月30日"),
        (dt.date(1989, 1, 8), "平成元年1月8日"),
        (dt.date(1989, 1, 7), "昭和64年1月7日"),
        (dt.date(1926, 12, 25), "昭和元年12月25日"),
        (dt.date(1926, 12, 24), "大正15年12月24日"),
        (dt.date(1912, 7, 30), "大正元年7月30日"),
        (dt.date(1912, 7, 29), "明治45年7月29日"),
        (dt.date(1873, 1, 1), "明治6年1月1日"),
    ],
)
def test_dates_are_written_in_the_japanese_era(day: dt.date, expected: str) -> None:
    assert to_wareki(day) == expected


def test_dates_before_the_gregorian_calendar_was_adopted_stay_western() -> None:
    assert era_of(dt.date(1872, 12, 31)) is None
    assert to_wareki(dt.date(1872, 12, 31)) == "1872年12月31日"


def test_filter_uses_the_era_in_japanese_and_the_locale_format_with_the_era_in_english() -> None:
    with translation.override("ja"):
        assert wareki(dt.date(2026, 6, 1)) == "令和8年6月1日"
    with translation.override("en"):
        assert wareki(dt.date(2026, 6, 1)) == "June 1, 2026 (Reiwa 8)"
        assert wareki(dt.date(2019, 5, 1)) == "May 1, 2019 (Reiwa 1)"


def test_filter_takes_the_local_date_of_an_aware_datetime(settings) -> None:
    settings.TIME_ZONE = "Asia/Tokyo"
    # 2019-04-30 20:00 UTC is already 令和元年5月1日 in Japan.
    moment = dt.datetime(2019, 4, 30, 20, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))
    with translation.override("ja"):
        assert wareki(moment) == "令和元年5月1日"


@pytest.mark.parametrize("value", [None, "", "2026-06-01", 3])
def test_filter_leaves_anything_but_a_date_unchanged(value: object) -> None:
    assert wareki(value) == value


def test_summary_values_are_plain_text() -> None:
    assert summary_value(None) == "—"
    assert summary_value("") == "—"
    assert summary_value(["2026-06-01", "2027-03-19"]) == "2026-06-01 / 2027-03-19"
    assert summary_value({"from": "draft", "to": "active"}) == "from: draft, to: active"
    assert summary_value(True) == "true"
    assert summary_value(12) == "12"


def test_summary_items_work_even_with_a_key_named_items() -> None:
    assert summary_items({"items": 3, "note": "x"}) == [("items", 3), ("note", "x")]
    assert summary_items(None) == []
