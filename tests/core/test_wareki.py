from __future__ import annotations

import datetime as dt

import pytest

from sekisho.core.wareki import WarekiError, era_of, looks_like_wareki, parse_wareki, to_wareki


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (dt.date(2026, 6, 1), "令和8年6月1日"),
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
def test_dates_become_era_dates_and_back(day, text):
    assert to_wareki(day) == text
    assert parse_wareki(text) == day


def test_dates_before_the_gregorian_calendar_stay_western():
    assert era_of(dt.date(1872, 12, 31)) is None
    assert to_wareki(dt.date(1872, 12, 31)) == "1872年12月31日"


def test_a_datetime_is_written_as_its_date():
    assert to_wareki(dt.datetime(2026, 8, 3, 23, 59)) == "令和8年8月3日"


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("R8.6.1", dt.date(2026, 6, 1)),
        ("R08/06/01", dt.date(2026, 6, 1)),
        ("r8-6-1", dt.date(2026, 6, 1)),
        ("H31.4.30", dt.date(2019, 4, 30)),
        ("S64.1.7", dt.date(1989, 1, 7)),
        ("T1.7.30", dt.date(1912, 7, 30)),
        ("M45.7.29", dt.date(1912, 7, 29)),
        ("令8.6.1", dt.date(2026, 6, 1)),
        ("平成31年4月30日", dt.date(2019, 4, 30)),
        ("令和 8年 6月 1日", dt.date(2026, 6, 1)),
        ("令和８年６月１日", dt.date(2026, 6, 1)),  # full-width digits
        ("Ｒ８．６．１", dt.date(2026, 6, 1)),
        ("㋿8年6月1日", dt.date(2026, 6, 1)),  # the one-character era sign
        ("  令和1年5月1日 ", dt.date(2019, 5, 1)),
    ],
)
def test_common_written_forms_are_parsed(text, day):
    assert looks_like_wareki(text)
    assert parse_wareki(text) == day


@pytest.mark.parametrize(
    "text",
    [
        "令和1年4月30日",  # still 平成 that day
        "令和元年4月30日",
        "平成31年5月1日",  # already 令和
        "昭和64年1月8日",  # already 平成
        "平成元年1月7日",  # still 昭和
        "大正元年7月29日",
        "明治5年12月31日",  # before the Gregorian calendar
        "令和8年2月30日",
        "令和8年13月1日",
        "令和0年6月1日",
        "R0.6.1",
    ],
)
def test_days_an_era_did_not_have_are_refused(text):
    with pytest.raises(WarekiError):
        parse_wareki(text)


@pytest.mark.parametrize(
    "text", ["", "2026-06-01", "2026/6/1", "X8.6.1", "令和8年6月", "令和八年六月一日", "R8.6.1.2"]
)
def test_what_is_not_an_era_date_is_refused(text):
    assert not looks_like_wareki(text)
    with pytest.raises(ValueError):
        parse_wareki(text)
