"""What an agent's error text says: that a plan usage limit was reached, and when it resets.

Claude Code and Codex both state limits in words, and the wording has changed across versions;
these cover the known ones ("Claude AI usage limit reached|<epoch>", "5-hour limit reached ∙
resets 5pm", "You've hit your limit · resets 5pm (Europe/Berlin)", "Your limit will reset at
5pm").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_USAGE_LIMIT = re.compile(
    r"usage limit|limit reached|hit your (?:[\w-]+ )*limit|out of extra usage|limit will reset",
    re.IGNORECASE,
)
_EPOCH_RESET = re.compile(r"\|(\d{10,13})\b")
_CLOCK_RESET = re.compile(
    r"(?:resets?|try again)\s+(?:at\s+)?"
    r"(?:(?P<mon>[A-Z][a-z]{2})[a-z]*\.?\s+(?P<day>\d{1,2}),?\s+(?:at\s+)?)?"
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?"
    r"(?:\s*\((?P<tz>[^)]+)\))?",
    re.IGNORECASE,
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


def is_usage_limit(text: str) -> bool:
    """Whether an agent's error text says a plan usage limit was reached."""
    return _USAGE_LIMIT.search(text) is not None


def stated_reset(text: str, when: datetime) -> datetime | None:
    """The reset time an error text states, resolved against the time it was written.

    Understands an epoch after ``|`` and clock times such as ``resets 5pm (Europe/Berlin)`` or
    ``resets Oct 9, 5pm``; a clock time without a zone is the machine's local time (the agent
    runs here). A time already past on that day means the next day.
    """
    epoch = _EPOCH_RESET.search(text)
    if epoch:
        seconds = int(epoch.group(1))
        if seconds > 10**11:
            seconds //= 1000
        return datetime.fromtimestamp(seconds, tz=UTC)
    clock = _CLOCK_RESET.search(text)
    if clock is None:
        return None
    hour = int(clock["hour"])
    minute = int(clock["minute"] or 0)
    ampm = (clock["ampm"] or "").lower().replace(".", "")
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    zone = _zone(clock["tz"])
    local = when.astimezone(zone)
    try:
        if clock["mon"]:
            month = _MONTHS.get(clock["mon"][:3].lower())
            if month is None:
                return None
            candidate = local.replace(
                month=month, day=int(clock["day"]), hour=hour, minute=minute, second=0
            )
            if candidate < local - timedelta(days=1):
                candidate = candidate.replace(year=candidate.year + 1)
        else:
            candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if candidate <= local:
                candidate += timedelta(days=1)
    except ValueError:
        return None
    return candidate.replace(microsecond=0)


def _zone(name: str | None) -> tzinfo:
    if name:
        try:
            return ZoneInfo(name.strip())
        except (ZoneInfoNotFoundError, ValueError):
            pass
    local = datetime.now().astimezone().tzinfo
    return local if local is not None else UTC
