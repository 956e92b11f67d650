"""Dates moved by a whole number of days (Retain Longitudinal Temporal Information, modified dates).

A shift by whole days keeps every time of day, every interval and every weekday-free relation
between a patient's studies (PS3.15 E.3.6); times (TM) are therefore left as they are. A value
that is not a valid date cannot be shifted safely and is emptied instead.
"""

from __future__ import annotations

from datetime import date, timedelta


def shift_da(value: str, days: int) -> str:
    """Shift a DA value (YYYYMMDD); '' when it is not a full valid date."""
    text = value.strip()
    if len(text) != 8 or not text.isdigit():
        return ""
    try:
        shifted = date(int(text[0:4]), int(text[4:6]), int(text[6:8])) + timedelta(days=days)
    except (ValueError, OverflowError):
        return ""
    return shifted.strftime("%Y%m%d")


def shift_dt(value: str, days: int) -> str:
    """Shift the date part of a DT value, keeping time and UTC offset; '' without a full date."""
    text = value.strip()
    day = shift_da(text[:8], days)
    return day + text[8:] if day else ""
