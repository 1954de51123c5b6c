"""The read-only accounts accept the settings the Grafana ClickHouse plugin sends
(max_execution_time with every query) and nothing that loosens their limits:
on the local store (spur.dev.local_store) and in deploy/clickhouse alike."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException

from spur.dev.store_engine import has_own_network
from spur.local_state import READERS, RunningStore
from spur.settings import Settings
from spur_sinks.store_errors import ACCESS_DENIED
from spur_sinks.url import PARSER_BACKTRACKS, PARSER_DEPTH
from tests.deploy.grafana_plugin import ROOT, query_settings

USERS_XML = ROOT / "deploy" / "clickhouse" / "users.d" / "spur.xml"
CONFIG_XML = ROOT / "deploy" / "clickhouse" / "config.d" / "spur.xml"
READONLY = 164  # ClickHouse: a setting changed in readonly mode
SETTING_CONSTRAINT_VIOLATION = 452
TOO_DEEP_TO_PARSE = 306
TOO_MUCH_BACKTRACKING = 718


def nested_tuples(depth: int, size: int = 64_000) -> str:
    """Slow to parse: with the engine's default parser limits, depth 300 took 5 s of
    its CPU at 64 KB and depth 100 1.8 s, before any limit of the query counts
    (measured)."""
    unit = "(1,(" * depth + "1" + "))" * depth
    return "SELECT " + ",".join([unit] * (size // len(unit)))


@pytest.fixture(params=READERS)
def reader(request: pytest.FixtureRequest, local_store: RunningStore) -> Iterator[Client]:
    user: str = request.param
    client = Client(
        host="127.0.0.1", port=local_store.port, user=user,
        password=local_store.credentials.passwords[user],
    )  # fmt: skip
    try:
        yield client
    finally:
        client.disconnect()


def code_of(client: Client, **settings: object) -> int | None:
    try:
        client.execute("SELECT getSetting('max_execution_time')", settings=settings)
    except ServerException as exc:
        return int(exc.code)
    return None


def test_a_reader_may_lower_its_time_limit_but_never_raise_it(reader: Client) -> None:
    limit = Settings().store.query_max_seconds
    assert reader.execute(
        "SELECT getSetting('max_execution_time')", settings={"max_execution_time": limit}
    ) == [(limit,)]
    assert code_of(reader, max_execution_time=5) is None
    assert code_of(reader, max_execution_time=limit + 1) == SETTING_CONSTRAINT_VIOLATION
    assert code_of(reader, max_execution_time=0) == SETTING_CONSTRAINT_VIOLATION  # 0: none


@pytest.mark.parametrize(
    "loosened",
    [
        {"readonly": 0},
        {"readonly": 2},
        {"max_memory_usage": 10 * 1024**3},
        {"max_result_rows": 0},
        {"max_concurrent_queries_for_user": 0},
        {"result_overflow_mode": "break"},
    ],
    ids=lambda s: next(iter(s)),
)
def test_a_reader_can_change_no_other_setting(
    reader: Client, local_store: RunningStore, loosened: dict[str, object]
) -> None:
    # Refused by the profile; behind the local store's gate, before the engine
    # sees it (spur.dev.reader_requests).
    gated = has_own_network(local_store.protection)
    assert code_of(reader, **loosened) == (ACCESS_DENIED if gated else READONLY)


def test_the_local_store_accepts_what_the_grafana_plugin_sends(reader: Client) -> None:
    assert code_of(reader, **query_settings()) is None


def deploy_profile() -> ET.Element:
    profile = ET.parse(USERS_XML).getroot().find("profiles/readonly")
    assert profile is not None
    return profile


def test_the_server_profile_lets_grafana_set_its_time_limit_within_the_maximum() -> None:
    profile = deploy_profile()
    assert profile.findtext("readonly") == "1"
    maximum = int(profile.findtext("max_execution_time") or 0)
    constraint = profile.find("constraints/max_execution_time")
    assert constraint is not None, "readonly=1 refuses the max_execution_time Grafana sends"
    assert constraint.find("changeable_in_readonly") is not None
    assert int(constraint.findtext("max") or 0) == maximum
    assert int(constraint.findtext("min") or 0) >= 1  # 0 would mean no limit at all
    # Nothing else may change: every other constraint would loosen a limit.
    assert [c.tag for c in profile.iterfind("constraints/*")] == ["max_execution_time"]
    sent = query_settings()
    assert set(sent) == {"max_execution_time"}, f"the profile refuses {sorted(sent)}"
    assert sent["max_execution_time"] <= maximum, "raise nothing: lower queryTimeout instead"
    config = ET.parse(CONFIG_XML).getroot()
    replace = "access_control_improvements/settings_constraints_replace_previous"
    assert config.findtext(replace) == "true", "changeable_in_readonly needs it"


@pytest.mark.parametrize(
    ("depth", "code"), [(300, TOO_DEEP_TO_PARSE), (100, TOO_MUCH_BACKTRACKING)]
)
def test_a_reader_s_query_is_refused_before_its_parse_runs_long(
    reader: Client, depth: int, code: int
) -> None:
    with pytest.raises(ServerException) as refused:
        reader.execute(nested_tuples(depth))
    assert refused.value.code == code


def test_the_server_profile_bounds_parsing_as_the_local_store_does() -> None:
    profile = deploy_profile()
    assert int(profile.findtext("max_parser_depth") or 0) == PARSER_DEPTH
    assert int(profile.findtext("max_parser_backtracks") or 0) == PARSER_BACKTRACKS
