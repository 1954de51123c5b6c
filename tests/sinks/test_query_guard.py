"""`spur query` is confined: an attack corpus through the real command
line, each refused with exit 2 naming what, nothing written, no file read;
saved queries and an engineer's usual queries still run.

Every query runs as a subprocess (`python -m spur query ...`) as the
engineer of the test's database, as a user would run it; the corpus runs a
few at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from spur.local_state import WRITER, RunningStore
from spur.operations.query import saved_queries
from spur.settings import Settings, parse_store_url
from spur_sinks.migrate import apply_migrations
from spur_sinks.query_guard import QueryRefusedError, parse_tree
from spur_sinks.store import ServerStore, Store
from tests.conftest import TEST_DATABASES

SECRET = "marker-7f3a-not-for-your-eyes"
NETWORK_AND_PROCESS = {
    "file": "'{marker}'",
    "url": "'http://127.0.0.1:1/x', CSV, 'a String'",
    "s3": "'http://127.0.0.1:1/b/x.csv'",
    "remote": "'127.0.0.1', system.one",
    "remoteSecure": "'127.0.0.1', system.one",
    "cluster": "'default', system.one",
    "executable": "'cat {marker}', CSV, 'a String'",
    "input": "'a String'",
    "mysql": "'127.0.0.1:1', 'db', 't', 'u', 'p'",
    "postgresql": "'127.0.0.1:1', 'db', 't', 'u', 'p'",
    "jdbc": "'jdbc:x', 'db', 't'",
    "odbc": "'dsn', 'db', 't'",
    "hdfs": "'hdfs://127.0.0.1:1/x', CSV, 'a String'",
    "azureBlobStorage": "'http://127.0.0.1:1', 'c', 'x.csv'",
}
OTHER_ATTACKS = [
    # scalar functions reaching files, dictionaries, other tables, the host
    "SELECT length(file('/proc/self/environ'))",
    "SELECT `file`('{marker}')",
    "SELECT FILE('{marker}')",
    "SELECT dictGet('spur.d', 'a', toUInt64(1))",
    "SELECT joinGet('system.one', 'dummy', 0)",
    "SELECT hasColumnInTable('system', 'users', 'name')",
    "SELECT sleepEachRow(3) FROM numbers(100)",
    "SELECT * APPLY(file) FROM (SELECT '{marker}' AS p)",
    # INTO OUTFILE, FORMAT
    "SELECT 1 INTO OUTFILE '{out}'",
    "SELECT 1 INTO OUTFILE '{out}' APPEND",
    "SELECT 1 INTO OUTFILE '{out}' TRUNCATE FORMAT CSV",
    "SELECT 1 INTO OUTFILE '{out}' AND STDOUT",
    "select 1 into outfile '{out}' compression 'gzip'",
    "SELECT 1 FORMAT JSON",
    "SELECT 1 FORMAT Native",
    # KILL, SYSTEM, SET, SETTINGS
    "KILL QUERY WHERE query ILIKE '%INSERT%'",
    "KILL MUTATION WHERE 1",
    "SYSTEM SHUTDOWN",
    "SYSTEM FLUSH LOGS",
    "SET readonly = 0",
    "SET max_memory_usage = 0",
    "SELECT 1 SETTINGS readonly = 0",
    "SELECT count() FROM actions SETTINGS max_memory_usage = 100000000000",
    "SELECT * FROM (SELECT 1 SETTINGS max_execution_time = 0)",
    "SELECT 1 SETTINGS max_result_rows = 0, result_overflow_mode = 'break'",
    # DDL and writes
    "INSERT INTO actions (customer_id) VALUES (1)",
    "CREATE TABLE evil (n UInt8) ENGINE = Memory",
    "DROP TABLE actions",
    "ALTER TABLE actions DELETE WHERE 1",
    "DELETE FROM actions WHERE 1",
    "TRUNCATE TABLE actions",
    "OPTIMIZE TABLE actions FINAL",
    "CREATE DICTIONARY d (a UInt64) PRIMARY KEY a SOURCE(FILE(path '{marker}')) "
    "LAYOUT(FLAT()) LIFETIME(0)",
    "ATTACH TABLE evil FROM '{marker}' (a String) ENGINE = File(CSV)",
    # several statements
    "SELECT 1; SELECT 2",
    "SELECT 1; INSERT INTO actions (customer_id) VALUES (1)",
    "SELECT 1 /* ; */ ; SELECT file('{marker}')",
    # comments, case and whitespace
    "/* harmless */ sElEcT\tfile\n(\n'{marker}'\n) -- trailing",
    "-- a comment\nKILL QUERY WHERE 1",
    "SELECT 1 AS `x\n      TableIdentifier system.one`, file('{marker}')",
    "sElEcT * FrOm FiLe('{marker}', 'LineAsString')",
    # hidden in a subquery, CTE, UNION, JOIN, IN, lambda, dictionary, view
    "SELECT * FROM (SELECT * FROM file('{marker}', 'LineAsString'))",
    "WITH x AS (SELECT * FROM file('{marker}', 'LineAsString')) SELECT * FROM x",
    "WITH file('{marker}') AS f SELECT f",
    "SELECT 1 UNION ALL SELECT length(file('{marker}'))",
    "SELECT 1 FROM actions AS a JOIN file('{marker}', 'LineAsString') AS b ON 1",
    "SELECT count() FROM actions WHERE login IN (SELECT * FROM file('{marker}', 'LineAsString'))",
    "SELECT count() FROM actions WHERE login IN system.users",
    "SELECT arrayMap(p -> file(p), ['{marker}'])",
    "SELECT * FROM dictionary('spur.d')",
    "SELECT * FROM actions_view(customer = 1)",
    "SELECT * FROM view(SELECT 1)",
    "SELECT * FROM merge('system', '^users$')",
    "SELECT * FROM python('x')",
    # other databases, system internals
    "SELECT * FROM system.users",
    "SELECT * FROM system.processes",
    "SELECT query FROM system.query_log",
    "SELECT * FROM default.anything",
    "SELECT * FROM INFORMATION_SCHEMA.TABLES",
    "EXPLAIN SELECT file('{marker}')",
    # the host: its names, kernel, ports, identity, and the paths of its disks
    "SELECT hostName()",
    "SELECT HOSTNAME()",
    "SELECT fqdn()",
    "SELECT FQDN()",
    "SELECT fullHostName()",
    "SELECT getOSKernelVersion()",
    "SELECT serverUUID()",
    "SELECT tcpPort()",
    "SELECT getServerPort('tcp_port')",
    "SELECT displayName()",
    "SELECT buildId()",
    "SELECT uptime()",
    "SELECT data_paths FROM system.tables",
    "SELECT t.metadata_path FROM system.tables AS t",
    "SELECT * FROM system.tables",
    "SELECT * EXCEPT (name) FROM system.tables",
    "SELECT COLUMNS('path') FROM system.parts",
    "SELECT path FROM system.parts",
    "SELECT disk_name, name FROM system.parts",
    "SELECT (SELECT groupArray(data_paths) FROM system.tables) AS x",
    "SELECT * FROM actions WHERE 0 UNION ALL SELECT * FROM system.parts",
    # quadratic work inside one block, which no time check reaches
    "SELECT editDistance(repeat('a', 60000), repeat('b', 60000 + number)) FROM numbers(10)",
    "SELECT arrayLevenshteinDistance(range(100000), arrayMap(x -> x + 1, range(100000)))",
    "SELECT arraySimilarity(range(20000), range(20000), range(20000), range(20000))",
    # found by a search of the function catalogue (docs/security.md): each ran on for
    # 2 s to over 10 minutes after the command gave up, at a 3 s limit
    "SELECT length(JSON_QUERY('[' || arrayStringConcat(arrayMap(x -> '{{\"a\":[1]}}', "
    "range(80000)), ',') || ']', '$[*].a[*]'))",
    "SELECT json_value('[1]', '$[*]')",
    "SELECT JSONMergePatch('{{}}', '{{}}')",
    "SELECT countSubstringsCaseInsensitiveUTF8(repeat('ä', 1000000), repeat('ä', 5000) || 'b')",
    "SELECT repeat('ä', 100000) ILIKE '%' || repeat('ä', 5000) || 'b%'",
    "SELECT repeat('a', 10) NOT ILIKE '%b%'",
    "SELECT hasAny(range(300000), range(300000, 600000))",
    "SELECT hasAll(range(700000), arrayReverse(range(700000)))",
    "SELECT countIf(indexOf(range(100000), number + 1000000) > 0) FROM numbers(100000)",
    "SELECT sum(countEqual(range(100000), number)) FROM numbers(65000)",
    "SELECT polygonsUnionCartesian([[[(0., 0.), (1., 0.), (1., 1.)]]], "
    "[[[(0., 0.), (1., 0.), (1., 1.)]]])",
    "SELECT pointInPolygon((0.5, 0.5), [(0., 0.), (1., 0.), (1., 1.)])",
    "SELECT multiSearchAllPositions(repeat('a', 600000), ['aa', 'ab'])",
    "SELECT arrayReduce('estimateCompressionRatio(''ZSTD(22)'')', range(10000000))",
    "SELECT arrayReduce(concat('estimateCompression', 'Ratio'), range(10))",
    # parsing itself: outside every limit but the parser's (5 s of the engine's
    # CPU for 64 KB of nested tuples without them)
    "SELECT " + ",".join(["(1,(" * 100 + "1" + "))" * 100] * 100),
    "SELECT " + "+".join(map(str, range(200))),
]
# Of the corpus, run as processes too (the rest in-process: Target.spur_query_in_process).
AS_PROCESSES = [
    "SELECT * FROM file('{marker}')",
    "SELECT 1 INTO OUTFILE '{out}'",
    "SELECT " + "+".join(map(str, range(200))),
]
ENGINEER_QUERIES = [
    "SELECT name, engine, total_rows FROM system.tables WHERE database = currentDatabase()",
    "SELECT table, sum(rows) AS n, max(modification_time) FROM system.parts WHERE active "
    "GROUP BY table",
    "SELECT version(), timezone(), currentDatabase()",
    "SELECT a.action, count() AS n, uniqExact(w.path) AS paths FROM actions AS a "
    "LEFT JOIN web_requests AS w ON toStartOfHour(a.started_at) = toStartOfHour(w.ts) "
    "GROUP BY a.action ORDER BY n DESC",
    "SELECT customer_id, started_at, row_number() OVER (PARTITION BY customer_id ORDER BY "
    "started_at) AS nth, sum(bytes_in) OVER (ORDER BY started_at ROWS BETWEEN 1 PRECEDING "
    "AND CURRENT ROW) AS moving FROM actions FINAL",
    "SELECT login, groupArray(action) AS chain, arrayStringConcat(arraySort(groupUniqArray("
    "action)), ',') AS kinds, arrayMap(x -> x * 2, [1, 2, 3]) AS doubled "
    "FROM actions GROUP BY login",
    "SELECT arrayJoin(mapKeys(profile)) AS key, count() FROM actions GROUP BY key",
    "WITH recent AS (SELECT * FROM actions WHERE started_at >= now() - INTERVAL 1 DAY) "
    "SELECT toStartOfFiveMinutes(started_at) AS bucket, countIf(status = 'error') AS errors, "
    "quantile(0.95)(toUnixTimestamp64Milli(ended_at) - toUnixTimestamp64Milli(started_at)) AS p95 "
    "FROM recent GROUP BY bucket ORDER BY bucket WITH FILL STEP toIntervalMinute(5)",
    "SELECT toStartOfHour(ts) AS h, count(), sum(bytes_sent) FROM web_requests GROUP BY h",
    "SELECT toStartOfDay(ts) AS d, form, count() FROM form_submissions GROUP BY d, form",
    "SELECT toStartOfDay(hour) AS d, sum(bytes_in + bytes_out) FROM usage_hourly FINAL GROUP BY d",
    "SELECT toStartOfInterval(minute, INTERVAL 15 MINUTE) AS q, max(duration_p95_ms) "
    "FROM capacity_minutely FINAL GROUP BY q",
    "SELECT date_trunc('day', at) AS d, reason, count() FROM dead_letters GROUP BY d, reason",
    "SELECT name, total_rows FROM system.tables WHERE database = currentDatabase()",
    "SELECT number, number % 3 = 0 ? 'fizz' : toString(number) FROM numbers(10)",
    "SELECT arrayReduce('maxIf', [1, 2, 3], [1, 0, 1]), has([1, 2], 2), position('ab', 'b')",
    "EXPLAIN SELECT count() FROM actions WHERE customer_id IN (1, 2)",
    "SELECT customer_id FROM actions WHERE customer_id IN (SELECT customer_id FROM usage_hourly) "
    "INTERSECT SELECT customer_id FROM usage_hourly",
    "SELECT format('{{}}-{{}}', login, action), CASE WHEN bytes_in > 10 THEN 'big' ELSE 'small' "
    "END, multiIf(status = 'ok', 1, 0) FROM actions LIMIT 5;",
]


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Target:
    store: Store
    env: dict[str, str]
    marker: Path
    out: Path

    def spur_query(self, sql: str) -> Ran:
        text = sql.format(marker=self.marker, out=self.out)
        done = subprocess.run(
            [sys.executable, "-m", "spur", "query", "--format", "json", "--", text],
            env=self.env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        return Ran(done.returncode, done.stdout, done.stderr)

    def spur_query_in_process(self, sql: str) -> Ran:
        """The same command through click's runner: the corpus's 129 attacks as
        processes took 50 s of the suite; a few still run as processes
        (test_attacks_as_processes)."""
        from spur.cli.main import main

        text = sql.format(marker=self.marker, out=self.out)
        done = CliRunner().invoke(main, ["query", "--format", "json", "--", text], env=self.env)
        stderr = done.stderr
        if done.exception is not None and not isinstance(done.exception, SystemExit):
            stderr += "".join(traceback.format_exception(done.exception))
        return Ran(done.exit_code, done.stdout, stderr)

    def counts(self) -> dict[str, int]:
        return {
            row["name"]: row["total_rows"] or 0
            for row in self.store.query(
                "SELECT name, total_rows FROM system.tables "
                f"WHERE database = '{self.store.database}'"
            )
        }


def attack_corpus() -> list[str]:
    as_tables = [f"SELECT * FROM {name}({args})" for name, args in NETWORK_AND_PROCESS.items()]
    as_scalars = [f"SELECT {name}({args})" for name, args in NETWORK_AND_PROCESS.items()]
    return [*as_tables, *as_scalars, *OTHER_ATTACKS]


@pytest.fixture(scope="module")
def target(local_store: RunningStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    database = TEST_DATABASES[-1]  # the module's own; no other test takes the last one
    store_url = local_store.url(WRITER, database)
    store = ServerStore(parse_store_url(store_url), 30.0)
    apply_migrations(store, Settings().retention.tables)
    fill(store)
    workdir = tmp_path_factory.mktemp("query")
    marker = workdir / "marker.txt"
    marker.write_text(SECRET)
    env = {
        **os.environ,
        "SPUR_CLICKHOUSE_URL": store_url,
        "SPUR_CLICKHOUSE_READ_URL": local_store.url("engineer", database),
        "SPUR_STATE_DIR": str(workdir / "state"),
    }
    try:
        yield Target(store, env, marker, workdir / "out.csv")
    finally:
        store.execute(f"DROP DATABASE IF EXISTS {database} SYNC")
        store.close()


def fill(store: Store) -> None:
    db = store.database
    store.execute(
        f"INSERT INTO {db}.actions (customer_id, started_at, duration_ms, action_id_in, action, "
        "login, session_id, bytes_in, bytes_out, status, profile) SELECT number % 3, "
        "now64(3) - number, number * 1000, generateUUIDv4(), ['save', 'load'][number % 2 + 1], "
        "concat('u', toString(number % 4)), 's1', number * 10, number, "
        "if(number % 5 = 0, 'error', 'ok'), map('plan', 'pro') FROM numbers(20)"
    )
    store.execute(
        f"INSERT INTO {db}.web_requests (ts, request_id, path, bytes_sent, status) "
        "SELECT now64(3) - number, generateUUIDv4(), '/p', 100, 200 FROM numbers(5)"
    )


@pytest.fixture(scope="module")
def corpus_results(target: Target) -> dict[str, Ran]:
    before = target.counts()
    results = {sql: target.spur_query_in_process(sql) for sql in attack_corpus()}
    assert target.counts() == before, "an attack wrote to spur's tables"
    return results


def test_the_corpus_is_large_enough() -> None:
    assert len(attack_corpus()) >= 40


@pytest.mark.parametrize("sql", attack_corpus())
def test_every_attack_is_refused_naming_what(
    corpus_results: dict[str, Ran], target: Target, sql: str
) -> None:
    ran = corpus_results[sql]
    assert ran.returncode == 2, f"{sql!r} exited {ran.returncode}: {ran.stdout}{ran.stderr}"
    assert "refused" in ran.stderr, ran.stderr
    assert "Traceback" not in ran.stderr
    assert SECRET not in ran.stdout + ran.stderr
    assert not target.out.exists()


@pytest.mark.parametrize("sql", AS_PROCESSES)
def test_attacks_as_processes(target: Target, sql: str) -> None:
    """As a user runs them: the exit status and the message from the process itself."""
    before = target.counts()
    ran = target.spur_query(sql)
    assert ran.returncode == 2, f"{sql!r} exited {ran.returncode}: {ran.stdout}{ran.stderr}"
    assert "refused" in ran.stderr, ran.stderr
    assert "Traceback" not in ran.stderr
    assert SECRET not in ran.stdout + ran.stderr
    assert not target.out.exists()
    assert target.counts() == before


def test_messages_name_what_was_refused(corpus_results: dict[str, Ran]) -> None:
    def said(sql: str) -> str:
        return " ".join(corpus_results[sql].stderr.split())

    assert "table function file()" in said("SELECT * FROM file('{marker}')")
    assert "function file()" in said("SELECT file('{marker}')")
    assert "INTO OUTFILE" in said("SELECT 1 INTO OUTFILE '{out}'")
    assert "FORMAT" in said("SELECT 1 FORMAT JSON")
    assert "KILL" in said("KILL MUTATION WHERE 1")
    assert "SYSTEM" in said("SYSTEM SHUTDOWN")
    assert "SET" in said("SET readonly = 0")
    assert "SETTINGS" in said("SELECT 1 SETTINGS readonly = 0")
    assert "several statements" in said("SELECT 1; SELECT 2")
    assert "system.users" in said("SELECT * FROM system.users")
    assert "INSERT" in said("INSERT INTO actions (customer_id) VALUES (1)")
    assert "max_parser_depth" in said("SELECT " + "+".join(map(str, range(200))))


@pytest.mark.parametrize("name", sorted(saved_queries()))
def test_saved_queries_pass_the_guard_and_run(target: Target, name: str) -> None:
    ran = target.spur_query(name)
    assert ran.returncode == 0, ran.stderr


@pytest.mark.parametrize("sql", ENGINEER_QUERIES)
def test_an_engineers_queries_still_run(target: Target, sql: str) -> None:
    ran = target.spur_query(sql)
    assert ran.returncode == 0, ran.stderr


def test_a_tree_whose_lines_disagree_with_its_counts_is_refused() -> None:
    parse_tree(["SelectWithUnionQuery (children 1)", " ExpressionList"])
    with pytest.raises(QueryRefusedError, match="unreadable"):
        parse_tree(["SelectWithUnionQuery (children 2)", " ExpressionList"])
    with pytest.raises(QueryRefusedError, match="unreadable"):
        parse_tree(["Literal UInt64_1 (alias x", "  Function file (children 1))"])
