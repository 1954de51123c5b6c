"""Billing months: their bounds in a time zone, as UTC instants (pure).

A billing month is [first instant of the month, first instant of the next)
in the billing time zone, computed with zoneinfo so that DST changes (e.g.
Europe/Berlin) move the UTC boundaries correctly. An action belongs to the
month of its ``started_at`` (docs/guarantees.md).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
import re
from pathlib import Path
from zoneinfo import TZPATH, ZoneInfo, ZoneInfoNotFoundError, available_timezones

from spur_schemas.errors import InputError

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

QUARTER_SECONDS = 900


# Months spur accepts: within what the store's DateTime64 and Python's datetime hold.
FIRST_YEAR, LAST_YEAR = 1900, 2299


class BillingInputError(InputError, ValueError):
    """A bad --month or --tz; the message says what is accepted."""


# Where a zone comes from when --tz is not given.
ZONE_VARIABLE = "SPUR_BILLING_TIMEZONE"


def month_bounds(
    month: str, timezone: str, *, zone_from: str = "--tz"
) -> tuple[dt.datetime, dt.datetime]:
    """The month's [start, end) as UTC instants. ``zone_from``: where ``timezone``
    came from, named in the error (``--tz``, or :data:`ZONE_VARIABLE`)."""
    match = _MONTH.match(month)
    if not match:
        raise BillingInputError(f"--month {month!r}: expected YYYY-MM, e.g. 2026-11")
    # Only IANA's names (zoneinfo also opens posix/..., right/..., localtime and
    # directories, and recurses on a path of hundreds of parts: found from outside).
    not_a_zone = f"{zone_from} {timezone[:80]!r}: not an IANA time zone (e.g. UTC, Europe/Berlin)"
    if timezone not in _iana_names():
        raise BillingInputError(not_a_zone)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise BillingInputError(not_a_zone) from exc
    year, number = int(match.group(1)), int(match.group(2))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise BillingInputError(
            f"--month {month!r}: the year must be {FIRST_YEAR} to {LAST_YEAR}, e.g. 2026-11"
        )
    start = dt.datetime(year, number, 1, tzinfo=zone)
    end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def same_zone(timezone: str) -> tuple[str, ...]:
    """``timezone`` and every other name of the same zone, sorted: the names tzdata
    links together (UTC, Etc/UTC, Etc/Universal, Zulu...; US/Eastern and
    America/New_York), whose data is the same file.

    A billing period is a month in a zone, whatever its name: closed as
    ``--tz UTC``, it is closed for ``--tz Etc/UTC`` too (found from outside:
    they were two periods). Zones that only share an offset (Etc/GMT, and
    UTC) are not the same zone.
    """
    data = _zone_data(timezone)
    if data is None:
        return (timezone,)
    return tuple(sorted({timezone} | {n for n, d in _every_zones_data().items() if d == data}))


def billing_zone(month: str, tz: str | None, configured: str) -> str:
    """The zone a command bills ``month`` in: ``--tz`` when given (an empty one is
    refused, not the default), else ``configured`` (:data:`ZONE_VARIABLE`); checked
    with the month, the error naming where the zone came from."""
    zone = tz if tz is not None else configured
    month_bounds(month, zone, zone_from="--tz" if tz is not None else ZONE_VARIABLE)
    return zone


@functools.cache
def _iana_names() -> frozenset[str]:
    """The zone names spur takes: IANA's, as zoneinfo lists them."""
    # localtime: the machine's own; Factory: tzdata's "zone unknown", no place's.
    return frozenset(available_timezones() - {"localtime", "Factory"})


@functools.cache
def _every_zones_data() -> dict[str, bytes]:
    """Every zone's data by name (about 600 small files, read once per process)."""
    return {name: data for name in _iana_names() if (data := _zone_data(name)) is not None}


@functools.cache
def _zone_data(name: str) -> bytes | None:
    """The TZif data zoneinfo reads for ``name``: TZPATH's first, else tzdata's."""
    for root in TZPATH:
        path = Path(root) / name
        if path.is_file():
            return path.read_bytes()
    try:
        resource = importlib.resources.files("tzdata.zoneinfo").joinpath(*name.split("/"))
        return resource.read_bytes()
    except (ModuleNotFoundError, OSError):
        return None


def floor_hour(instant: dt.datetime) -> dt.datetime:
    return instant.replace(minute=0, second=0, microsecond=0)


def ceil_hour(instant: dt.datetime) -> dt.datetime:
    floor = floor_hour(instant)
    return floor if floor == instant else floor + dt.timedelta(hours=1)


def check_closable(month: str, timezone: str, now: dt.datetime, retention_days: int) -> None:
    """Raise :class:`BillingInputError` unless the month is over at ``now`` and
    began within ``retention_days`` (the TTL of its windows and of its record)."""
    start, end = month_bounds(month, timezone)
    if end > now:
        raise BillingInputError(
            f"--month {month}: not over yet in {timezone} (it ends {end.isoformat()}); "
            "close it afterwards, later actions are billed as corrections"
        )
    if start + dt.timedelta(days=retention_days) <= now:
        raise BillingInputError(
            f"--month {month}: began more than {retention_days} days ago; its actions "
            "and its record would be beyond retention"
        )
