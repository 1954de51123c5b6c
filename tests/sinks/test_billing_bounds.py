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
