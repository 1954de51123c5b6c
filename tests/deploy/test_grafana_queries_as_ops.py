"""Every ClickHouse query of every Grafana dashboard runs as the datasource's
user (``ops``) on the local store, with the settings the Grafana ClickHouse
plugin sends and its macros expanded the way it expands them, on demo data.

Time-series panels must return what the plugin turns into one series per
label (LongToWide): the time first, sorted, and one row per time and label.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from clickhouse_driver import Client

from spur.local_state import RunningStore
from spur_sinks.store import Store
from tests.deploy.demo_data import load_demo_data
from tests.deploy.grafana_plugin import (
    CLICKHOUSE_PLUGIN,
    Target,
    dashboards,
    datasource,
    expand_macros,
    query_settings,
    targets,
    time_range,
)

CLICKHOUSE_TARGETS = list(targets(CLICKHOUSE_PLUGIN))


@pytest.fixture
def as_datasource_user(local_store: RunningStore, store: Store) -> Iterator[Client]:
    """The store as the provisioned datasource's user, in the test's database."""
    load_demo_data(store)
    user = datasource(CLICKHOUSE_PLUGIN)["jsonData"]["username"]
    client = Client(
        host="127.0.0.1", port=local_store.port, user=user,
        password=local_store.credentials.passwords[user], database=store.database,
    )  # fmt: skip
    try:
        yield client
    finally:
        client.disconnect()


def run_as_grafana(client: Client, target: Target) -> tuple[list[tuple[Any, ...]], list[str]]:
    board = dashboards()[target.dashboard]
    # Opened a moment after the data arrived ($__timeFilter has whole seconds).
    start, end = time_range(board, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2))
    # Grafana's interval: the range over about as many points as a panel is wide.
    interval_s = max(int((end - start).total_seconds()) // 1000, 1)
    sql = expand_macros(target.target["rawSql"], start, end, interval_s)
    # The test's own database instead of `spur` (tables only, not e.g. topic names).
    sql = re.sub(r"\b(FROM|JOIN)\s+spur\.", rf"\1 {client.connection.database}.", sql)
    rows, columns = client.execute(sql, settings=query_settings(), with_column_types=True)
    return rows, [type_ for _, type_ in columns]


def test_the_dashboards_have_clickhouse_queries() -> None:
    assert len(CLICKHOUSE_TARGETS) >= 6


@pytest.mark.parametrize("target", CLICKHOUSE_TARGETS, ids=lambda t: t.name)
def test_every_dashboard_query_runs_as_the_datasource_user(
    as_datasource_user: Client, target: Target
) -> None:
    rows, _ = run_as_grafana(as_datasource_user, target)
    assert rows, f"{target.name} returned no rows on demo data"


@pytest.mark.parametrize(
    "target",
    [t for t in CLICKHOUSE_TARGETS if t.panel["type"] == "timeseries"],
    ids=lambda t: t.name,
)
def test_time_series_queries_return_one_series_per_label(
    as_datasource_user: Client, target: Target
) -> None:
    rows, types = run_as_grafana(as_datasource_user, target)
    assert types[0].startswith("DateTime"), f"{target.name}: the time comes first, got {types}"
    labels = [n for n, t in enumerate(types) if "String" in t]
    assert labels, f"{target.name}: no label column, so no series per customer/action"
    times = [row[0] for row in rows]
    assert times == sorted(times), f"{target.name}: LongToWide needs rows sorted by time"
    keys = [(row[0], *(row[n] for n in labels)) for row in rows]
    assert len(keys) == len(set(keys)), f"{target.name}: several rows for one time and label"
    series = {tuple(row[n] for n in labels) for row in rows}
    assert len(series) > 1, f"{target.name}: demo data has several customers/actions"
