"""After any erasure `spur reconcile` is clean, or says exactly what erasure changed.

Billing and capacity keep counting erased actions (by design); reconcile
must tell those from lost or doubled folds, which it reports (exit 1) and
--repair fixes, and --repair must converge: a second run finds nothing to do.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from tests.cli.conftest import Cli, action

AT = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def _fill(cli: Cli) -> None:
    # Two customers, three logins, sharing minutes and hours.
    cli.feed(
        [
            action(n, AT + dt.timedelta(seconds=7 * n), customer_id=1 + n % 2, login=f"u{n % 3}")
            for n in range(24)
        ]
    )


def _reconcile(cli: Cli, *options: str) -> tuple[int, dict[str, Any]]:
    result = cli("reconcile", "--month", "2026-11", "--format", "json", *options)
    return result.exit_code, json.loads(result.output)


def test_after_erasing_a_customer_reconcile_is_clean_and_repair_changes_nothing(cli: Cli) -> None:
    _fill(cli)
    assert cli("erase", "--customer", "1", "--yes").exit_code == 0
    code, report = _reconcile(cli)
    assert code == 0, report
    assert report["differences"] == []  # the customer's usage went with it
    # Capacity still counts the erased actions: explained, minute by minute.
    assert report["capacity_differences"], report
    assert all(d["explained_by_erasure"] for d in report["capacity_differences"])
    assert report["capacity_remaining"] == 0
    code, repaired = _reconcile(cli, "--repair")
    assert code == 0, repaired
    assert repaired["windows_repaired"] == 0
    assert _reconcile(cli) == (0, report)


def test_after_erasing_a_login_the_kept_billing_is_explained_exactly(cli: Cli) -> None:
    _fill(cli)
    assert cli("erase", "--login", "u1", "--yes").exit_code == 0
    code, report = _reconcile(cli)
    assert code == 0, report
    erased_per_customer = {1: 4, 2: 4}  # u1 = n % 3 == 1: n in 1, 4, ..., 22; by n % 2
    assert {d["customer_id"]: d["erased_actions"] for d in report["differences"]} == (
        erased_per_customer
    )
    for difference in report["differences"]:
        assert difference["explained_by_erasure"], difference
        assert -difference["missing_actions"] == difference["erased_actions"]
    assert report["remaining"] == 0
    assert report["capacity_remaining"] == 0
    code, repaired = _reconcile(cli, "--repair")
    assert code == 0, repaired
    assert _reconcile(cli) == (0, report)  # converged: nothing rewritten, nothing new
    table = cli("reconcile", "--month", "2026-11")
    assert "erased actions, billed by design" in table.output, table.output


def test_a_lost_fold_beside_an_erasure_is_reported_and_repaired(cli: Cli) -> None:
    _fill(cli)
    # Another hour's fold of customer 2 is lost (a disaster), besides an erased login.
    later = AT + dt.timedelta(hours=3)
    cli.feed([action(100, later, customer_id=2, login="u0")])
    assert cli("erase", "--login", "u1", "--yes").exit_code == 0
    store = cli.store
    for table in ("usage_sums", "usage_hourly", "capacity_minutely"):
        column = "minute" if table == "capacity_minutely" else "hour"
        store.execute(
            f"DELETE FROM {store.database}.{table} WHERE {column} >= '2026-11-20 13:00:00' "
            "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
        )
    code, report = _reconcile(cli)
    assert code == 1, report
    lost = [d for d in report["differences"] if not d["explained_by_erasure"]]
    # Customer 2 keeps 4 erased actions in its billing and lost 1: 3 more than raw.
    assert [(d["customer_id"], d["missing_actions"], d["erased_actions"]) for d in lost] == [
        (2, -3, 4)
    ]
    assert report["capacity_remaining"] == 1
    code, repaired = _reconcile(cli, "--repair")
    assert code == 0, repaired
    assert repaired["remaining"] == 0
    assert repaired["capacity_remaining"] == 0
    code, after = _reconcile(cli)
    assert code == 0, after
    assert all(d["explained_by_erasure"] for d in after["differences"])


def test_repair_never_copies_damaged_sums_of_an_erased_window_into_billing(cli: Cli) -> None:
    # Found from outside: the sums of an hour holding an erased login's action
    # were doubled; --repair left the sums alone, but copied them into what
    # billing reads (usage_hourly), billing the customer one action more.
    _fill(cli)
    assert cli("erase", "--login", "u1", "--yes").exit_code == 0
    database = cli.store.database
    cli.store.execute(
        f"INSERT INTO {database}.usage_sums SELECT * FROM {database}.usage_sums "
        "WHERE customer_id = 2"
    )
    billed = cli.store.query(
        f"SELECT sum(actions) AS n FROM {database}.usage_hourly FINAL WHERE customer_id = 2"
    )[0]["n"]
    code, repaired = _reconcile(cli, "--repair")
    assert code == 1, repaired  # reported: the raw rows cannot say what it held
    assert repaired["windows_repaired"] == 0
    assert (
        cli.store.query(
            f"SELECT sum(actions) AS n FROM {database}.usage_hourly FINAL WHERE customer_id = 2"
        )[0]["n"]
        == billed
    )
