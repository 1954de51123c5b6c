"""Grafana dashboards: every ClickHouse panel runs on demo data and returns rows."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from prometheus_client import REGISTRY

from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.metrics import PROMETHEUS
from spur.operations.query import saved_queries
from spur.settings import Settings
from spur.worker.batch import batch_steps
from spur_schemas.validate import encode
from spur_sinks.capacity import refresh_capacity
from spur_sinks.migrate import apply_migrations
from spur_sinks.store import Store
from spur_streams.batch import Message

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"


def panels(dashboard: str) -> list[dict[str, Any]]:
    document = json.loads((GRAFANA / "dashboards" / dashboard).read_text())
    found: list[dict[str, Any]] = document["panels"]
    return found


def grafana_macros(sql: str, database: str) -> str:
    """What the ClickHouse plugin does to a panel's SQL, for the last 60 days."""
    sql = re.sub(
        r"\$__timeFilter\((\w+)\)",
        r"\1 >= now() - INTERVAL 60 DAY AND \1 <= now() + INTERVAL 1 DAY",
        sql,
    )
    sql = re.sub(r"\$__timeInterval\((\w+)\)", r"toStartOfInterval(\1, INTERVAL 60 second)", sql)
    return sql.replace("spur.", f"{database}.")


def demo_data(store: Store) -> None:
    apply_migrations(store, Settings().retention.tables)
    pipeline = batch_steps(store, Settings())
    now = dt.datetime.now(dt.UTC)
    shape = WorkloadShape(
        customers=4, sessions_per_customer=10, month_start=now - dt.timedelta(days=2), days=2
    )
    actions = simulate_actions(shape)
    messages = [Message("spur.actions.v1", 0, n, encode(a)) for n, a in enumerate(actions)]
    broken = {**msgspec.json.decode(encode(actions[0])), "bytes_in": -1}
    messages.append(Message("spur.actions.v1", 0, len(messages), msgspec.json.encode(broken)))
    outcome = pipeline.process_actions(messages, now)
    refresh_capacity(store, outcome.capacity)


@pytest.mark.parametrize("panel", panels("usage-capacity.json"), ids=lambda p: str(p["title"]))
def test_every_clickhouse_panel_runs_and_returns_rows(store: Store, panel: dict[str, Any]) -> None:
    demo_data(store)
    for target in panel["targets"]:
        rows = store.query(grafana_macros(target["rawSql"], store.database))
        assert rows, f"panel {panel['title']!r} returned no rows"


def test_pipeline_health_panels_use_metrics_spur_exposes() -> None:
    PROMETHEUS.declare()
    families = list(REGISTRY.collect())
    declared = {f.name for f in families}
    declared |= {
        f"{f.name}_{suffix}" for f in families for suffix in ("total", "bucket", "count", "sum")
    }
    for panel in panels("pipeline-health.json"):
        for target in panel["targets"]:
            for name in re.findall(r"\b(spur_[a-z_]+)\b", target["expr"]):
                if name.startswith("spur_client_events_") and "(" in name:
                    continue
                assert name in declared or "|" in target["expr"], (panel["title"], name)


def test_datasources_point_at_the_compose_services() -> None:
    text = (GRAFANA / "provisioning" / "datasources" / "spur.yml").read_text()
    assert "grafana-clickhouse-datasource" in text
    assert "http://prometheus:9090" in text
    assert "secure: true" in text


@pytest.mark.parametrize("name", sorted(saved_queries()))
def test_every_saved_query_runs_on_demo_data(store: Store, name: str) -> None:
    demo_data(store)
    store.execute(f"USE {store.database}")  # saved queries name tables without a database
    rows = store.query(saved_queries()[name])
    if name != "busy_client_ips":  # demo traffic has no misuse to find
        assert rows, f"saved query {name} returned no rows"
