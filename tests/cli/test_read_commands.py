"""Read commands through the public CLI against the real local store."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from tests.cli.conftest import Cli, action

UTC = dt.UTC


def test_deadletters_since_a_date_lists_the_letters(cli: Cli) -> None:
    cli.feed([], raw=[b'{"not": "an action"}'])
    result = cli("deadletters", "--since", "2026-11-24", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total"] == 1
    table = cli("deadletters", "--since", "2026-11-24")
    assert table.exit_code == 0, table.output
    assert "unknown_field" in table.output


def test_deadletters_json_shows_utc_milliseconds_and_null_for_no_field(cli: Cli) -> None:
    cli.feed([], raw=[b"{oops"])
    result = cli("deadletters", "--format", "json")
    assert result.exit_code == 0, result.output
    (letter,) = json.loads(result.output)["recent"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", letter["at"]), letter
    assert letter["reason"] == "not_json"
    assert letter["field"] is None


def test_deadletters_reason_with_a_quote_is_a_value_not_sql(cli: Cli) -> None:
    cli.feed([], raw=[b'{"not": "an action"}'])
    result = cli("deadletters", "--reason", "abc'", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total"] == 0


@pytest.mark.parametrize(
    ("zone", "december_starts"),
    [
        ("Asia/Kolkata", dt.datetime(2026, 11, 30, 18, 30, tzinfo=UTC)),
        ("Asia/Kathmandu", dt.datetime(2026, 11, 30, 18, 15, tzinfo=UTC)),
        ("Australia/Adelaide", dt.datetime(2026, 11, 30, 13, 30, tzinfo=UTC)),
    ],
)
def test_billing_in_a_half_hour_zone_is_exact_at_the_month_edge(
    cli: Cli, zone: str, december_starts: dt.datetime
) -> None:
    ms = dt.timedelta(milliseconds=1)
    # The last millisecond of November, the first of December, and 18:40Z (IST December).
    starts = [december_starts - ms, december_starts, dt.datetime(2026, 11, 30, 18, 40, tzinfo=UTC)]
    cli.feed([action(n, at) for n, at in enumerate(starts)])

    def actions_in(month: str) -> int:
        result = cli("billing", "--month", month, "--tz", zone, "--format", "json")
        assert result.exit_code == 0, result.output
        return sum(c["actions"] for c in json.loads(result.output)["customers"])

    assert (actions_in("2026-11"), actions_in("2026-12")) == (1, 2)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Adelaide"])
def test_reconcile_in_a_half_hour_zone_finds_nothing_and_repair_keeps_the_bill(
    cli: Cli, zone: str
) -> None:
    # Both sides of the zone's month edge, inside the same UTC hours.
    starts = [
        dt.datetime(2026, 11, 30, hour, minute, tzinfo=UTC)
        for hour in (13, 18)
        for minute in (10, 20, 40, 50)
    ]
    cli.feed([action(n, at) for n, at in enumerate(starts)])

    def utc_bill() -> str:
        result = cli("billing", "--month", "2026-11", "--format", "csv")
        assert result.exit_code == 0, result.output
        return result.stdout

    before = utc_bill()
    for month in ("2026-11", "2026-12"):
        checked = cli("reconcile", "--month", month, "--tz", zone)
        assert checked.exit_code == 0, checked.output
    repaired = cli("reconcile", "--month", "2026-11", "--tz", zone, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert utc_bill() == before


@pytest.mark.parametrize(
    "command",
    [
        ["billing", "--month", "0000-01"],
        ["billing", "--month", "9999-12"],
        ["reconcile", "--month", "9999-12"],
        ["billing", "close", "--month", "9999-12"],
    ],
)
def test_a_year_out_of_range_exits_2_with_a_message(cli: Cli, command: list[str]) -> None:
    result = cli(*command)
    assert result.exit_code == 2, result.output
    assert "1900 to 2299" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("month", ["1900-01", "2299-12"])
def test_the_first_and_last_accepted_months_run(cli: Cli, month: str) -> None:
    result = cli("billing", "--month", month, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["customers"] == []


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT 1; SELECT 2", "several statements"),
        ("SELECT 1 FORMAT CSV", "FORMAT"),
        ("", "no query given"),
        ("   ", "no query given"),
    ],
)
def test_refused_queries_exit_2_with_a_message(cli: Cli, sql: str, named: str) -> None:
    result = cli("query", sql, "--format", "csv")
    assert result.exit_code == 2, result.output
    assert named in result.stderr
    assert "Traceback" not in result.output


def test_empty_results_say_no_rows(cli: Cli) -> None:
    result = cli("query", "SELECT 1 AS one WHERE 0")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "query: no rows"
    letters = cli("deadletters")
    assert letters.exit_code == 0, letters.output
    assert [line for line in letters.output.splitlines() if line.strip()] == [
        "dead letters: no rows",
        "most recent: no rows",
    ]


def test_a_table_written_to_a_pipe_is_not_cut_to_80_columns(cli: Cli) -> None:
    wide = ", ".join(f"'{'v' * 20}{n}' AS column_with_a_long_name_{n}" for n in range(6))
    result = cli("query", f"SELECT {wide}")
    assert result.exit_code == 0, result.output
    for n in range(6):
        assert f"column_with_a_long_name_{n}" in result.output
        assert f"{'v' * 20}{n}" in result.output
    retention = cli("retention")
    assert "…" not in retention.output, retention.output


def test_query_shows_ipv4_and_utc_milliseconds(cli: Cli) -> None:
    sql = (
        "SELECT toIPv6('203.0.113.242') AS ip, "
        "toDateTime64('2026-11-24 10:15:31.5', 3, 'UTC') AS at"
    )
    result = cli("query", sql, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"ip": "203.0.113.242", "at": "2026-11-24T10:15:31.500Z"}]


UTC_MS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def test_status_and_retention_json_show_utc_milliseconds(cli: Cli) -> None:
    cli.feed([action(0, dt.datetime.now(UTC) - dt.timedelta(days=1))])
    retention = cli("retention", "--format", "json")
    assert retention.exit_code == 0, retention.output
    oldest = [row["oldest"] for row in json.loads(retention.output) if row["oldest"]]
    assert oldest
    assert all(re.fullmatch(UTC_MS, at) for at in oldest), oldest
    status = cli("status", "--format", "json")
    tables = json.loads(status.output)["store"]["tables"]
    assert tables
    assert all(re.fullmatch(UTC_MS, t["last_insert"]) for t in tables), tables
