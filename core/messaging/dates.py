"""Dates and times in the patient's language: babel's CLDR forms for Hindi ("सोम 7 दिसंबर",
"9:30"), the short English forms the conversation has always used ("Mon 07 Dec", "09:30")."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time

LOCALES = {"hi": "hi_IN"}


def day_label(lang: str, day: dt.date) -> str:
    """A day for a list row or a sentence: weekday, day and month."""
    locale = LOCALES.get(lang)
    if locale is None:
        return day.strftime("%a %d %b")
    return format_date(day, "EEE d MMMM", locale=locale)


def clock_label(lang: str, instant: dt.datetime, zone: ZoneInfo) -> str:
    """The wall-clock time of ``instant`` at ``zone``."""
    locale = LOCALES.get(lang)
    if locale is None:
        return instant.astimezone(zone).strftime("%H:%M")
    return format_time(instant, "H:mm", tzinfo=zone, locale=locale)


def when_label(lang: str, instant: dt.datetime, zone: ZoneInfo) -> str:
    """Day, month, year and time of ``instant`` at ``zone`` (reminders)."""
    locale = LOCALES.get(lang)
    if locale is None:
        return instant.astimezone(zone).strftime("%d %b %Y, %H:%M")
    return format_datetime(instant, "d MMMM y, H:mm", tzinfo=zone, locale=locale)
