"""Cluster mode renders every statement for a replicated ClickHouse cluster."""

from __future__ import annotations

import re

import pytest

from spur.settings import Settings, SettingsError, load_settings
from spur_sinks.migrate import for_cluster, migrations, render

CLUSTER = Settings(clickhouse_cluster="spur_cluster")
REPLICA_PATH = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"


def all_statements(settings: Settings) -> list[str]:
    return [
        s
        for m in migrations()
        for s in render(m, settings.retention.tables, "spur", settings.store.cluster)
    ]


def test_every_statement_runs_on_the_cluster_with_a_replicated_engine() -> None:
    statements = all_statements(CLUSTER)
    assert len(statements) >= 8
    for statement in statements:
        if statement.startswith("INSERT INTO"):
            continue  # data (0006's seeds): written once, replicated by the engines
        assert "ON CLUSTER 'spur_cluster'" in statement
        if (
            statement.startswith(("ALTER TABLE", "DROP ", "EXCHANGE TABLES", "DETACH ", "ATTACH "))
            or "\nTO spur." in statement
            or " TO spur." in statement
        ):
            continue  # changes a replicated table, or a view into one: no engine of its own
        if "ENGINE = Null" in statement:
            continue  # holds no data: nothing to replicate
        engine = re.search(r"ENGINE = (\w+)\(([^)]*)\)", statement)
        assert engine, statement
        assert engine.group(1).startswith("Replicated"), statement
        assert engine.group(2).startswith(
            "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
        )


def test_alter_statements_name_the_cluster_after_the_table() -> None:
    alters = [s for s in all_statements(CLUSTER) if s.startswith("ALTER TABLE")]
    assert alters
    assert all(re.match(r"ALTER TABLE spur\.\w+ ON CLUSTER 'spur_cluster'", s) for s in alters), (
        alters
    )


def test_a_table_built_again_is_exchanged_on_the_cluster() -> None:
    (exchange,) = [s for s in all_statements(CLUSTER) if s.startswith("EXCHANGE TABLES")]
    assert (
        exchange == "EXCHANGE TABLES spur.actions AND spur.actions_0011 ON CLUSTER 'spur_cluster'"
    )


def test_engine_arguments_are_kept_after_the_replication_path() -> None:
    usage = next(s for s in all_statements(CLUSTER) if ".usage_hourly" in s)
    assert f"ReplicatedReplacingMergeTree({REPLICA_PATH}, version)" in usage


def test_single_server_ddl_is_untouched() -> None:
    for statement in all_statements(Settings()):
        assert "ON CLUSTER" not in statement
        assert "Replicated" not in statement


def test_bootstrap_statements_too() -> None:
    assert for_cluster("CREATE DATABASE IF NOT EXISTS spur", "c1") == (
        "CREATE DATABASE IF NOT EXISTS spur ON CLUSTER 'c1'"
    )


def test_a_cluster_name_cannot_inject_sql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPUR_CLICKHOUSE_CLUSTER", "x'; DROP TABLE actions; --")
    with pytest.raises(SettingsError, match="SPUR_CLICKHOUSE_CLUSTER"):
        load_settings()
