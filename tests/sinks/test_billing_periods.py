"""Billing periods (docs/guarantees.md): closed totals are immutable, later actions corrections."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from click.testing import CliRunner
from msgspec.structs import replace

from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.operations.billing import (
    BillingInputError,
    CustomerUsage,
    close_month,
    corrections,
    month_bounds,
    period,
)
from spur.operations.periods import same_zone
from spur.operations.subjects import Subject, count_rows, erase, export
from spur.settings import Settings
from spur.worker.batch import batch_steps
from spur_schemas.events import Action
from spur_schemas.validate import encode
from spur_sinks.migrate import apply_migrations
from spur_sinks.store import Store
from spur_streams.batch import Message
from tests.oracle import expected_billing

# Relative to the real clock: the rows must outlive the store's TTL during the test.
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
_first = (NOW.replace(day=1) - dt.timedelta(days=1)).replace(day=1, hour=0, minute=0, second=0)
MONTH = _first.strftime("%Y-%m")  # last month: over, and well within retention
MONTH_START = _first
RETENTION = 365


def usage(customer_id: int, bytes_in: int, bytes_out: int, actions: int) -> CustomerUsage:
    return CustomerUsage(customer_id, bytes_in, bytes_out, actions)


# -- the pure part ---------------------------------------------------------------


def test_corrections_are_current_minus_closed_per_customer() -> None:
    closed = [usage(1, 10, 20, 2), usage(2, 5, 5, 1)]
    current = [usage(1, 15, 30, 3), usage(2, 5, 5, 1), usage(9, 7, 8, 1)]
    assert corrections(closed, current) == [usage(1, 5, 10, 1), usage(9, 7, 8, 1)]


def test_a_customer_first_billed_after_closing_is_a_correction_of_its_whole_usage() -> None:
    assert corrections([], [usage(4, 1, 2, 3)]) == [usage(4, 1, 2, 3)]


def test_nothing_changed_means_no_corrections() -> None:
    same = [usage(1, 10, 20, 2), usage(3, 0, 0, 1)]
    assert corrections(same, list(same)) == []


def test_shrunk_aggregates_are_reported_as_negative_corrections() -> None:
    # Only the TTL shrinks aggregates; the difference is shown, never hidden.
    assert corrections([usage(1, 10, 20, 2)], []) == [usage(1, -10, -20, -2)]


def test_corrections_are_sorted_by_customer() -> None:
    current = [usage(7, 1, 1, 1), usage(2, 1, 1, 1), usage(5, 1, 1, 1)]
    assert [u.customer_id for u in corrections([], current)] == [2, 5, 7]


# -- against the store -------------------------------------------------------------


class Filled:
    """A store with last month's actions, fed through the pipeline batch by batch."""

    def __init__(self, store: Store) -> None:
        apply_migrations(store, Settings().retention.tables)
        self.store = store
        self.pipeline = batch_steps(store, Settings())
        self.offset = 0
        shape = WorkloadShape(
            customers=3, sessions_per_customer=4, month_start=MONTH_START, days=20
        )
        self.actions = simulate_actions(shape)

    def feed(self, actions: Sequence[Action]) -> None:
        messages = [
            Message("spur.actions.v1", 0, self.offset + n, encode(a)) for n, a in enumerate(actions)
        ]
        self.offset += len(messages)
        outcome = self.pipeline.process_actions(messages, NOW)
        assert outcome.dead_letters == []

    def close(self, month: str = MONTH, timezone: str = "UTC", by: str = "ann") -> Any:
        return close_month(
            self.store, month, timezone, closed_by=by, now=NOW, retention_days=RETENTION
        )


def as_usage(totals: dict[int, tuple[int, int, int]]) -> list[CustomerUsage]:
    return [CustomerUsage(c, *totals[c]) for c in sorted(totals)]


def closed_rows(store: Store) -> int:
    rows = store.query(f"SELECT count() AS n FROM {store.database}.billing_periods")
    return int(rows[0]["n"])


@pytest.fixture
def filled(store: Store) -> Filled:
    return Filled(store)


def test_closing_records_the_totals_when_and_by_whom(filled: Filled) -> None:
    filled.feed(filled.actions)
    result = filled.close(by="ann")
    assert result.closed_now
    assert result.closing.by == "ann"
    assert result.closing.at == NOW
    assert result.totals == as_usage(expected_billing(filled.actions))
    shown = period(filled.store, MONTH)
    assert shown.closed == result.closing
    assert shown.customers == result.totals
    assert shown.corrections == []


def test_actions_arriving_after_closing_are_corrections_apart(filled: Filled) -> None:
    cut = len(filled.actions) * 2 // 3
    before, after = filled.actions[:cut], list(filled.actions[cut:])
    # A customer whose first action of the month arrives after closing (at the
    # partition's newest event time: this test is not about lateness).
    newcomer = [replace(a, action_id=uuid.uuid4(), customer_id=999) for a in after[-3:]]
    filled.feed(before)
    closed = filled.close().totals
    filled.feed([*after, *newcomer])
    shown = period(filled.store, MONTH)
    assert shown.customers == closed == as_usage(expected_billing(before))
    assert shown.corrections == as_usage(expected_billing([*after, *newcomer]))
    assert 999 in {u.customer_id for u in shown.corrections}
    document = shown.as_dict()
    assert document["closed"] == {"at": NOW.isoformat(timespec="milliseconds"), "by": "ann"}
    assert document["corrections"] == [u.as_dict() for u in shown.corrections]


def test_closing_a_closed_month_changes_nothing(filled: Filled) -> None:
    filled.feed(filled.actions[:50])
    first = filled.close(by="ann")
    rows = closed_rows(filled.store)
    filled.feed(filled.actions[50:])
    again = filled.close(by="bob")
    assert not again.closed_now
    assert again.closing == first.closing
    assert again.totals == first.totals
    assert closed_rows(filled.store) == rows


def test_a_month_without_usage_can_be_closed_and_stays_closed(filled: Filled) -> None:
    assert filled.close().closed_now
    assert filled.close().closed_now is False
    filled.feed(filled.actions[:10])
    shown = period(filled.store, MONTH)
    assert shown.customers == []
    assert shown.corrections == as_usage(expected_billing(filled.actions[:10]))


def test_a_period_is_a_month_in_one_time_zone(filled: Filled) -> None:
    filled.feed(filled.actions)
    filled.close(timezone="UTC")
    berlin = period(filled.store, MONTH, "Europe/Berlin")
    assert berlin.closed is None
    assert berlin.corrections == []
    assert filled.close(timezone="Europe/Berlin").closed_now
    assert period(filled.store, MONTH, "Europe/Berlin").closed is not None


def test_a_period_is_closed_under_every_name_of_its_zone(filled: Filled) -> None:
    # Found from outside: --tz UTC and --tz Etc/UTC were two periods.
    filled.feed(filled.actions[:10])
    first = filled.close(timezone="UTC")
    assert first.closed_now
    for alias in ("Etc/UTC", "Zulu", "Etc/Universal"):
        again = filled.close(timezone=alias)
        assert not again.closed_now
        assert again.closing == first.closing
        shown = period(filled.store, MONTH, alias)
        assert shown.closed == first.closing
        assert shown.timezone == alias  # shown as asked
    filled.feed(filled.actions[10:])  # later actions: corrections under every name
    assert (
        period(filled.store, MONTH, "Etc/UTC").corrections
        == period(filled.store, MONTH, "UTC").corrections
        != []
    )
    # Another zone that shares the offset is another zone (its own close).
    assert period(filled.store, MONTH, "Etc/GMT").closed is None


def test_the_names_of_one_zone_are_tzdatas_links() -> None:
    assert {"UTC", "Etc/UTC", "Zulu"} <= set(same_zone("UTC"))
    assert same_zone("Etc/UTC") == same_zone("UTC")
    assert "Etc/GMT" not in same_zone("UTC")
    assert "Europe/Paris" not in same_zone("Europe/Berlin")
    assert "localtime" not in same_zone("UTC")  # the machine's zone is no name of one
    assert list(same_zone("Europe/Berlin")) == sorted(same_zone("Europe/Berlin"))


def test_an_open_month_shows_current_totals_and_no_corrections(filled: Filled) -> None:
    filled.feed(filled.actions)
    shown = period(filled.store, MONTH)
    assert shown.closed is None
    assert shown.customers == as_usage(expected_billing(filled.actions))
    assert shown.as_dict()["closed"] is None
    assert shown.as_dict()["corrections"] == []


def test_the_customer_filter_applies_to_closed_totals_and_corrections(filled: Filled) -> None:
    customer = filled.actions[0].customer_id
    filled.feed(filled.actions[:60])
    filled.close()
    filled.feed(filled.actions[60:])
    shown = period(filled.store, MONTH, customer_id=customer)
    ours = [a for a in filled.actions if a.customer_id == customer]
    early = [a for a in filled.actions[:60] if a.customer_id == customer]
    assert shown.customers == as_usage(expected_billing(early))
    late = expected_billing([a for a in ours if a not in early])
    assert shown.corrections == as_usage(late)


@pytest.mark.parametrize(
    ("month", "words"),
    [
        (NOW.strftime("%Y-%m"), "not over yet"),
        ((NOW - dt.timedelta(days=400)).strftime("%Y-%m"), "beyond retention"),
        ("2026-13", "expected YYYY-MM"),
    ],
)
def test_a_month_not_over_or_beyond_retention_cannot_be_closed(
    filled: Filled, month: str, words: str
) -> None:
    with pytest.raises(BillingInputError, match=words):
        filled.close(month=month)
    assert closed_rows(filled.store) == 0


def test_erasing_a_customer_removes_its_closed_totals_and_export_shows_them(
    filled: Filled,
) -> None:
    filled.feed(filled.actions)
    filled.close()
    customer = Subject("customer", str(filled.actions[0].customer_id))
    exported = [row for row in export(filled.store, customer) if row["table"] == "billing_periods"]
    assert len(exported) == 1
    assert count_rows(filled.store, customer)["billing_periods"] == 1
    erase(filled.store, customer, b"salt", input_retention_days=7)
    assert count_rows(filled.store, customer)["billing_periods"] == 0
    assert period(filled.store, MONTH).closed is not None  # the period stays closed


def test_the_closed_record_expires_with_the_actions_retention(store: Store) -> None:
    apply_migrations(store, Settings().retention.tables)
    (row,) = store.query(
        "SELECT create_table_query FROM system.tables "
        f"WHERE database = '{store.database}' AND name = 'billing_periods'"
    )
    assert "TTL period_start + toIntervalDay(365)" in row["create_table_query"]
    assert "ENGINE = MergeTree" in row["create_table_query"]


# -- the command line ---------------------------------------------------------------


@pytest.fixture
def cli(filled: Filled, store_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The commands against the test's own database, through the store's native protocol."""
    import spur.cli.billing

    monkeypatch.setenv("SPUR_CLICKHOUSE_URL", store_url)
    monkeypatch.setattr(spur.cli.billing, "os_user", lambda: "ann")
    monkeypatch.delenv("SPUR_BILLING_TIMEZONE", raising=False)
    return CliRunner()


def spur(runner: CliRunner, *args: str) -> Any:
    from spur.cli.main import main

    return runner.invoke(main, list(args), catch_exceptions=False)


def test_cli_billing_shows_an_open_month_in_the_existing_shape(
    cli: CliRunner, filled: Filled
) -> None:
    filled.feed(filled.actions)
    result = spur(cli, "billing", "--month", MONTH, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    start, end = month_bounds(MONTH, "UTC")
    assert document["month"] == MONTH
    assert (document["from"], document["to"]) == (start.isoformat(), end.isoformat())
    assert document["closed"] is None
    assert document["corrections"] == []
    expected = expected_billing(filled.actions)
    assert {c["customer_id"]: c["actions"] for c in document["customers"]} == {
        customer: totals[2] for customer, totals in expected.items()
    }
    assert set(document["customers"][0]) == {
        "customer_id", "bytes_in", "bytes_out", "bytes_total", "actions",
    }  # fmt: skip


def test_cli_close_then_billing_shows_closed_totals_and_corrections(
    cli: CliRunner, filled: Filled
) -> None:
    filled.feed(filled.actions[:60])
    closed = spur(cli, "billing", "close", "--month", MONTH)
    assert closed.exit_code == 0, closed.output
    assert f"closed {MONTH} (UTC)" in closed.output
    assert "by ann" in closed.output
    again = spur(cli, "billing", "close", "--month", MONTH)
    assert again.exit_code == 0
    assert "already closed" in again.output
    assert "nothing changed" in again.output
    filled.feed(filled.actions[60:])

    document = json.loads(spur(cli, "billing", "--month", MONTH, "--format", "json").output)
    assert document["closed"]["by"] == "ann"
    assert document["customers"] == [
        u.as_dict() for u in as_usage(expected_billing(filled.actions[:60]))
    ]
    assert document["corrections"] == [
        u.as_dict() for u in as_usage(expected_billing(filled.actions[60:]))
    ]

    lines = spur(cli, "billing", "--month", MONTH, "--format", "csv").output.splitlines()
    assert lines[0] == "customer_id,bytes_in,bytes_out,bytes_total,actions,part"
    parts = [line.rsplit(",", 1)[1] for line in lines[1:]]
    assert parts == ["closed"] * len(document["customers"]) + ["correction"] * len(
        document["corrections"]
    )

    table = spur(cli, "billing", "--month", MONTH).output
    assert "closed at" in table
    assert "Corrections" in table


def test_cli_billing_options_belong_after_the_subcommand(cli: CliRunner) -> None:
    result = spur(cli, "billing", "--month", MONTH, "close")
    assert result.exit_code == 2
    assert "after the subcommand" in result.output
    missing = spur(cli, "billing")
    assert missing.exit_code == 2
    assert "--month" in missing.output
