"""`spur reconcile` says what of the month it compared: the retention's TTLs
may be deleting what is older (tests/sinks/test_reconcile_retention_edge.py
has the edge itself)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.cli.conftest import Cli


def test_a_month_past_retention_has_nothing_to_compare(cli: Cli) -> None:
    result = cli("reconcile", "--month", "2024-01")
    assert result.exit_code == 0, result.output
    assert "2024-01 (UTC) is past the actions' retention (365 days)" in result.output

    report = json.loads(cli("reconcile", "--month", "2024-01", "--format", "json").output)
    assert report["compared"]["usage"]["from"] == report["compared"]["usage"]["to"]
    assert report["compared"]["capacity"]["from"] == report["compared"]["capacity"]["to"]


def test_the_retention_setting_moves_what_is_compared(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = dt.datetime.now(dt.UTC)
    month = now.strftime("%Y-%m")
    whole = json.loads(cli("reconcile", "--month", month, "--format", "json").output)
    assert whole["compared"]["usage"]["from"] == f"{month}-01T00:00:00+00:00"

    monkeypatch.setenv("SPUR_ACTIONS_RETENTION_DAYS", "1")
    result = cli("reconcile", "--month", month, "--format", "json")
    assert result.exit_code == 0, result.output
    usage_from = dt.datetime.fromisoformat(json.loads(result.output)["compared"]["usage"]["from"])
    # The first hour whose TTL (hour + 1 day) is more than the margin away.
    assert (
        now - dt.timedelta(days=1)
        < usage_from
        <= now - dt.timedelta(days=1) + dt.timedelta(hours=2)
    )
    month_start = dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)
    said = "compared from" in cli("reconcile", "--month", month).output
    assert said == (usage_from > month_start)  # not said when the month is compared whole
