"""`--now`, `--older-than 90d`, `--keep 2y`, `--month 2024-01..2024-03`: dates and durations."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone

from session_backup.errors import BackupError

DURATION = re.compile(
    r"^\s*(\d+)\s*(d|day|days|w|week|weeks|m|month|months|y|year|years)\s*$", re.IGNORECASE
)


def parse_now(value: str | datetime | date | None) -> datetime:
    """`--now`: an ISO date or timestamp (UTC, naive like the landing's started_at); default now."""
    if value is None:
        return datetime.now(timezone.utc).replace(tzinfo=None)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BackupError(
            f"--now {value!r}: expected a date like 2024-12-31 or a timestamp."
        ) from exc
    return parsed.astimezone(timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed


def subtract_duration(now: datetime, text: str, option: str) -> datetime:
    """`90d`, `12w`, `6m`, `2y`: days and weeks exactly, months and years on the calendar."""
    match = DURATION.match(text or "")
    if not match:
        raise BackupError(
            f"{option} {text!r}: expected a number and a unit, e.g. 90d, 12w, 6m or 2y."
        )
    count, unit = int(match.group(1)), match.group(2).lower()[0]
    if unit == "d":
        return now - timedelta(days=count)
    if unit == "w":
        return now - timedelta(weeks=count)
    months = count * (12 if unit == "y" else 1)
    year, month = divmod(now.year * 12 + (now.month - 1) - months, 12)
    month += 1
    last_day = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return now.replace(year=year, month=month, day=min(now.day, last_day))


def month_bounds(closed_month: str) -> tuple[date, date]:
    year, month = (int(part) for part in closed_month.split("-"))
    start = date(year, month, 1)
    end = date(year + (month == 12), month % 12 + 1, 1)
    return start, end


def month_range(months: Iterable[str]) -> list[tuple[str, str]]:
    ranges = []
    for text in months:
        first, _, last = text.partition("..")
        last = last or first
        for value in (first, last):
            if not re.match(r"^\d{4}-\d{2}$", value):
                raise BackupError(f"--month {text!r}: expected YYYY-MM or YYYY-MM..YYYY-MM.")
        if last < first:
            raise BackupError(f"--month {text!r}: the range ends before it starts.")
        ranges.append((first, last))
    return ranges


def naive(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
