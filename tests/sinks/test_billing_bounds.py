import datetime as dt

import pytest

from spur.operations.billing import BillingInputError, month_bounds

UTC = dt.UTC


def test_utc_month() -> None:
    assert month_bounds("2026-11", "UTC") == (
        dt.datetime(2026, 11, 1, tzinfo=UTC),
        dt.datetime(2026, 12, 1, tzinfo=UTC),
    )


def test_december_ends_in_the_next_year() -> None:
    assert month_bounds("2026-12", "UTC")[1] == dt.datetime(2027, 1, 1, tzinfo=UTC)


def test_berlin_month_with_the_autumn_dst_change() -> None:
    # October 2026 starts in CEST (+02:00) and ends in CET (+01:00).
    start, end = month_bounds("2026-10", "Europe/Berlin")
    assert start == dt.datetime(2026, 9, 30, 22, tzinfo=UTC)
    assert end == dt.datetime(2026, 10, 31, 23, tzinfo=UTC)


def test_berlin_month_with_the_spring_dst_change() -> None:
    start, end = month_bounds("2026-03", "Europe/Berlin")
    assert start == dt.datetime(2026, 2, 28, 23, tzinfo=UTC)
    assert end == dt.datetime(2026, 3, 31, 22, tzinfo=UTC)


@pytest.mark.parametrize(
    ("month", "zone", "words"),
    [("2026-13", "UTC", "YYYY-MM"), ("26-11", "UTC", "YYYY-MM"), ("2026-11", "Mars/Base", "IANA")],
)
def test_bad_input_names_the_option(month: str, zone: str, words: str) -> None:
    with pytest.raises(BillingInputError, match=words):
        month_bounds(month, zone)


# Found from outside: zoneinfo opens more than IANA's names. posix/X and localtime
# closed a period apart from X's; a directory, a long name or a path of hundreds of
# parts ended in an OSError or a RecursionError instead of this message.
@pytest.mark.parametrize(
    "zone",
    [
        "posix/Europe/Berlin", "right/UTC", "localtime", "Factory", "Etc", "America", "",
        "x" * 300, "A/" * 250 + "UTC", "../../etc/passwd", "utc", " UTC",
    ],
)  # fmt: skip
def test_only_iana_names_are_zones(zone: str) -> None:
    with pytest.raises(BillingInputError, match="not an IANA time zone"):
        month_bounds("2026-11", zone)
