"""`spur reconcile` says what of the month it compared: the store's TTLs may be
deleting what is older (tests/sinks/test_reconcile_retention_edge.py has the
edge itself). The TTLs are the store's own, whatever the caller's settings."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from spur_sinks.migrate import apply_migrations
from spur_sinks.store import Store
from spur_sinks.tables import Retention
from tests.cli.conftest import Cli


def test_a_month_past_retention_has_nothing_to_compare(cli: Cli) -> None:
    result = cli("reconcile", "--month", "2024-01")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "2024-01 (UTC) is past the store's retention (365 days for actions): "
        "nothing left to compare"
    ]
    report = json.loads(cli("reconcile", "--month", "2024-01", "--format", "json").output)
    assert report["compared"]["usage"]["from"] == report["compared"]["usage"]["to"]
    assert report["compared"]["capacity"]["from"] == report["compared"]["capacity"]["to"]
    days = {name: span["ttl_days"] for name, span in report["compared"].items()}
    assert days == {"usage": 365, "capacity": 365}


def test_the_settings_do_not_move_what_is_compared(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The store's TTLs were compiled in at its first migration (365 days): a
    # shell with another retention setting must not compare by it.
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    monkeypatch.setenv("SPUR_ACTIONS_RETENTION_DAYS", "1")
    result = cli("reconcile", "--month", month, "--format", "json")
    assert result.exit_code == 0, result.output
    compared = json.loads(result.output)["compared"]
    assert compared["usage"]["from"] == f"{month}-01T00:00:00+00:00"
    assert compared["usage"]["ttl_days"] == 365


def test_a_store_with_a_day_of_retention_is_compared_for_a_day(
    store: Store, store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    apply_migrations(store, Retention(actions=1, capacity=2))
    monkeypatch.setenv("SPUR_CLICKHOUSE_URL", store_url)
    monkeypatch.setenv("SPUR_STATE_DIR", str(tmp_path / ".spur"))
    for name in (
        "SPUR_BILLING_TIMEZONE",
        "SPUR_CLICKHOUSE_READ_URL",
        "SPUR_ACTIONS_RETENTION_DAYS",
    ):
        monkeypatch.delenv(name, raising=False)
    from spur.cli.main import main

    now = dt.datetime.now(dt.UTC)
    month = now.strftime("%Y-%m")
    result = CliRunner().invoke(main, ["reconcile", "--month", month, "--format", "json"])
    assert result.exit_code == 0, result.output
    compared = json.loads(result.output)["compared"]
    assert (compared["usage"]["ttl_days"], compared["capacity"]["ttl_days"]) == (1, 1)
    usage_from = dt.datetime.fromisoformat(compared["usage"]["from"])
    month_start = dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)
    # The first hour whose TTL (hour + 1 day) is more than the margin away.
    a_day_ago = now - dt.timedelta(days=1)
    assert usage_from.minute == usage_from.second == 0
    assert usage_from == month_start or a_day_ago < usage_from <= a_day_ago + dt.timedelta(hours=2)
    table = CliRunner().invoke(main, ["reconcile", "--month", month]).output
    assert ("compared from" in table) == (usage_from > month_start)
    assert "1 day for actions and usage" in table or usage_from == month_start
