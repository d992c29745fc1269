"""和暦 (the Japanese era calendar): 2026-06-01 ⇄ 令和8年6月1日.

Pure functions, no Django. The orderer's forms and ledgers write dates in the era, and spreadsheets people
fill in by hand carry them in several shapes ("令和8年6月1日", "令和元年5月1日", "R8.6.1", "R08/06/01",
"H31.4.30"), so both directions are here.

Japan switched to the Gregorian calendar on 明治6年1月1日 (1873-01-01); earlier 明治 dates were lunisolar and
do not map day for day, so they are neither produced nor accepted.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import NamedTuple


class Era(NamedTuple):
    name: str  # 令和
    romaji: str  # Reiwa
    letter: str  # R (the initial used in "R8.6.1")
    start: dt.date  # first day (for 明治: the first Gregorian day, 1873-01-01)
    first_year: int  # Gregorian year of 元年


# Newest first.
ERAS: tuple[Era, ...] = (
    Era("令和", "Reiwa", "R", dt.date(2019, 5, 1), 2019),
    Era("平成", "Heisei", "H", dt.date(1989, 1, 8), 1989),
    Era("昭和", "Shōwa", "S", dt.date(1926, 12, 25), 1926),
    Era("大正", "Taishō", "T", dt.date(1912, 7, 30), 1912),
    Era("明治", "Meiji", "M", dt.date(1873, 1, 1), 1868),
)
GREGORIAN_ADOPTED = dt.date(1873, 1, 1)


def era_of(day: dt.date) -> tuple[Era, int] | None:
    """The era of *day* and the year within it (1 = 元年), or None before 1873-01-01."""
    for era in ERAS:
        if day >= era.start:
            return era, day.year - era.first_year + 1
    return None


def to_wareki(day: dt.date) -> str:
    """令和8年6月1日 (令和元年5月1日 in the first year of an era); dates before 1873 stay 西暦 (1872年1月1日)."""
    if isinstance(day, dt.datetime):
        day = day.date()
    found = era_of(day)
    if found is None:
        return f"{day.year}年{day.month}月{day.day}日"
    era, year = found
    year_text = "元" if year == 1 else str(year)
    return f"{era.name}{year_text}年{day.month}月{day.day}日"


def _era_lookup() -> dict[str, Era]:
    table: dict[str, Era] = {}
    for era in ERAS:
        table[era.name] = era
        table[era.name[0]] = era  # 令8.6.1, 平31.4.30
        table[era.letter] = era
        table[era.letter.lower()] = era
    return table


_ERA_BY_TOKEN = _era_lookup()
_ERA_TOKEN = "|".join(sorted((re.escape(t) for t in _ERA_BY_TOKEN), key=len, reverse=True))
# 令和8年6月1日 / 令和元年5月1日 / R8.6.1 / R08/06/01 / H31-4-30 / 平成31年4月30日 (spaces allowed between parts)
_WAREKI = re.compile(
    rf"^(?P<era>{_ERA_TOKEN})\s*(?P<year>[0-9]{{1,2}}|元)\s*(?:年|[./-])\s*(?P<month>[0-9]{{1,2}})\s*(?:月|[./-])"
    rf"\s*(?P<day>[0-9]{{1,2}})\s*日?$"
)


class WarekiError(ValueError):
    """The text is not a 和暦 date, or names a day that era did not have."""


def looks_like_wareki(text: str) -> bool:
    return _WAREKI.match(_normalise(text)) is not None


def _normalise(text: str) -> str:
    # Full-width digits and letters (Ｒ８．６．１) are common in Japanese input; NFKC folds them.
    # NFKC also turns the single-character era ligature ㋿ into 令和 and ㍻ into 平成.
    return unicodedata.normalize("NFKC", text).strip()


def parse_wareki(text: str) -> dt.date:
    """The date a 和暦 string names. Raises ``WarekiError`` (a ``ValueError``) for anything else, including
    days the era did not have: 令和元年4月30日 was still 平成, 平成31年5月1日 was already 令和."""
    match = _WAREKI.match(_normalise(text))
    if match is None:
        raise WarekiError(f"not a Japanese-era date: {text!r}")
    era = _ERA_BY_TOKEN[match["era"]]
    year = 1 if match["year"] == "元" else int(match["year"])
    if year < 1:
        raise WarekiError(f"era years start at 1 (元年): {text!r}")
    try:
        day = dt.date(era.first_year + year - 1, int(match["month"]), int(match["day"]))
    except ValueError as exc:
        raise WarekiError(f"no such day: {text!r}") from exc
    if day < era.start:
        raise WarekiError(f"{era.name} had not begun on that day: {text!r}")
    newer = ERAS.index(era) - 1
    if newer >= 0 and day >= ERAS[newer].start:
        raise WarekiError(f"{era.name} had ended before that day: {text!r}")
    return day
