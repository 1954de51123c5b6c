"""Reads run within SPUR_QUERY_MAX_*: the readers' profile of the local
store is generated from them, the writer's account sends them with each query;
state files are private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from spur.client.spool import Spool
from spur.dev.store_config import users_xml
from spur.local_state import Credentials
from spur.operations.query import run_query, stream_query
from spur.operations.subjects import load_salt
from spur.settings import Settings, parse_store_url
from spur_sinks.store import ServerStore, Store, StoreError
from spur_sinks.url import ReadLimits


def test_the_readers_profile_carries_the_limits_and_refuses_changes() -> None:
    settings = Settings(
        query_max_memory_bytes=123_456_789, query_max_seconds=7, query_max_rows=4200
    )
    xml = users_xml(
        Credentials(
            dict.fromkeys(("spur_writer", "spur_admin", "billing", "ops", "engineer"), "p")
        ),
        settings.store.read_limits,
        ["spur"],
    )
    profile = xml.split("<readonly>", 1)[1].split("</readonly></profiles>", 1)[0]
    assert "<readonly>1</readonly>" in "<readonly>" + profile
    for expected in (
        "<max_memory_usage>123456789</max_memory_usage>",
        "<max_execution_time>7</max_execution_time>",
        "<max_result_rows>4200</max_result_rows>",
        "<result_overflow_mode>throw</result_overflow_mode>",
    ):
        assert expected in profile
    assert "GRANT SELECT ON spur.billing_periods" in xml  # billing reads closed periods


def test_the_writers_account_reads_within_the_limits(store: Store, store_url: str) -> None:
    store.execute(f"CREATE DATABASE IF NOT EXISTS {store.database}")
    reader = ServerStore(parse_store_url(store_url), 30.0, in_database=True)
    limits = ReadLimits(
        max_memory_bytes=300_000_000, max_execution_seconds=9, max_result_rows=1_000
    )
    try:
        (row,) = run_query(
            reader,
            "SELECT getSetting('max_memory_usage') AS memory, "
            "getSetting('max_result_rows') AS result_rows, getSetting('readonly') AS readonly",
            limits,
        )
        assert (row["memory"], row["result_rows"], row["readonly"]) == (300_000_000, 1_000, 2)
        with pytest.raises(StoreError, match="396"):  # too many result rows
            run_query(reader, "SELECT number FROM numbers(2000)", limits)
    finally:
        reader.close()


def test_a_read_stops_past_its_bytes_even_where_the_server_would_not(
    store: Store, store_url: str
) -> None:
    store.execute(f"CREATE DATABASE IF NOT EXISTS {store.database}")
    reader = ServerStore(parse_store_url(store_url), 30.0, in_database=True)
    limits = ReadLimits(max_result_bytes=5_000_000)
    try:
        # 400 rows of 100 kB: 40 MB, in rows well under the row limit.
        rows = stream_query(reader, "SELECT repeat('x', 100000) AS s FROM numbers(400)", limits)
        received: list[dict[str, object]] = []
        with pytest.raises(StoreError) as refused:
            received.extend(rows)
        assert refused.value.code == 396
        assert refused.value.hint
        assert len(received) <= 50  # stopped at the limit, not after the whole result
        assert len(run_query(reader, "SELECT repeat('x', 100000) FROM numbers(40)", limits)) == 40
    finally:
        reader.close()


def test_the_spool_and_the_salt_are_private(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append("actions", None, b"{}")
    spool.advance(1)
    spool.close()
    assert stat.S_IMODE((tmp_path / "spool").stat().st_mode) == 0o700
    for name in ("events.jsonl", "events.cursor"):
        assert stat.S_IMODE((tmp_path / "spool" / name).stat().st_mode) == 0o600, name
    load_salt(None, tmp_path / "state")
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "state" / "erasure.salt").stat().st_mode) == 0o600
