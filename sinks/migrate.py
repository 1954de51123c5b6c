"""Versioned DDL migrations, applied idempotently at start.

Migrations are the files ``schemas/ddl/NNNN_name.sql``, applied in order;
each applied version is recorded in ``schema_migrations``, and every
statement is itself idempotent (``IF NOT EXISTS``), so a crash between a
statement and its record is harmless. Retention days (spur_sinks.tables.Retention,
from the settings) are compiled into the TTLs here, declared once; the
tables the DDL creates are the registry's (spur_sinks.tables, checked by a test).

Blocking. Raises :class:`spur_sinks.store.StoreError` when a statement fails.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from importlib import resources
from string import Template

from spur_sinks import migration_lock
from spur_sinks.store import Store, StoreError
from spur_sinks.tables import Retention

# Migration 0002 indexed action ids for this many days after they were seen;
# 0006 keeps them as long as their actions. Only 0002's text still names it.
HISTORICAL_DEDUP_HORIZON_DAYS = 7

log = logging.getLogger(__name__)

# Tries of the migrations when workers started together apply them at once.
MIGRATION_ATTEMPTS = 6

# TTL merges run at most this often per table; ClickHouse's default is 4 h.
# An hour keeps expired rows from outliving their deadline by more than that.
TTL_MERGE_SECONDS = 3600


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """Every migration shipped with spur, in version order."""
    found = []
    for entry in resources.files("spur_schemas").joinpath("ddl").iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(int(version), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found, key=lambda m: m.version)


_CREATE = re.compile(r"^(CREATE (?:TABLE|DATABASE|MATERIALIZED VIEW)(?: IF NOT EXISTS)? [\w.]+)")
_ALTER = re.compile(r"^(ALTER TABLE [\w.]+)")
_DROP = re.compile(r"^(DROP (?:TABLE|VIEW) IF EXISTS [\w.]+)")
_DETACH = re.compile(r"^((?:DETACH|ATTACH) TABLE [\w.]+)")
_ENGINE = re.compile(r"ENGINE = (\w*MergeTree)(?:\(([^)]*)\))?")


def for_cluster(statement: str, cluster: str) -> str:
    """One statement for a ClickHouse cluster: ``ON CLUSTER`` and Replicated engines.

    Replicas find each other under ``/clickhouse/tables/{shard}/{database}/{table}``;
    ``{shard}`` and ``{replica}`` are each server's macros (deploy/clickhouse).
    """
    statement = _CREATE.sub(lambda m: f"{m.group(1)} ON CLUSTER '{cluster}'", statement, count=1)
    statement = _ALTER.sub(lambda m: f"{m.group(1)} ON CLUSTER '{cluster}'", statement, count=1)
    statement = _DROP.sub(lambda m: f"{m.group(1)} ON CLUSTER '{cluster}'", statement, count=1)
    statement = _DETACH.sub(lambda m: f"{m.group(1)} ON CLUSTER '{cluster}'", statement, count=1)
    if statement.startswith("EXCHANGE TABLES"):  # ON CLUSTER after both names
        statement = f"{statement} ON CLUSTER '{cluster}'"

    def replicated(match: re.Match[str]) -> str:
        engine, args = match.group(1), match.group(2)
        path = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
        return f"ENGINE = Replicated{engine}({path}{', ' + args if args else ''})"

    return _ENGINE.sub(replicated, statement, count=1)


def render(
    migration: Migration, retention: Retention, database: str, cluster: str | None = None
) -> list[str]:
    """The migration's statements with database name and retention filled in;
    for a ClickHouse ``cluster``, with ON CLUSTER and Replicated engines."""
    values = {
        "database": database,
        **retention.template_values(),
        "dedup_horizon_days": HISTORICAL_DEDUP_HORIZON_DAYS,
        "ttl_merge_seconds": TTL_MERGE_SECONDS,
    }
    text = Template(migration.sql).substitute(values)
    statements = []
    for chunk in text.split(";\n"):
        body = "\n".join(
            line for line in chunk.splitlines() if not line.lstrip().startswith("--")
        ).strip()
        if body:
            statements.append(body.rstrip(";"))
    if cluster:
        return [for_cluster(s, cluster) for s in statements]
    return statements


# Before any migration: the database and the record of applied versions.
BOOTSTRAP = (
    "CREATE DATABASE IF NOT EXISTS {db}",
    "CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
    "(version UInt32, name String, applied_at DateTime DEFAULT now()) "
    "ENGINE = ReplacingMergeTree ORDER BY version",
)


def apply_migrations(
    store: Store,
    retention: Retention,
    *,
    cluster: str | None = None,
    pause: float = 0.5,
    stale_seconds: float = migration_lock.STALE_SECONDS,
) -> list[Migration]:
    """Apply what is not applied yet; return the migrations applied now.

    On one server, one worker at a time applies them (spur_sinks.migration_lock):
    a worker that finds another at it waits until every migration is recorded
    (or takes over a lock whose holder stopped ``stale_seconds`` ago).
    """
    bootstrap(store, cluster, pause)
    if cluster is not None:
        return _apply_all(store, retention, cluster, pause)
    while not _all_recorded(store):
        try:
            taken = migration_lock.take(store)
        except migration_lock.NotGranted as exc:
            log.warning(
                "migrating without the migration lock, as earlier builds did: the writer "
                "lacks its grants (docs/upgrading.md, 'One worker at a time migrates'): %s", exc,
            )  # fmt: skip
            return _apply_all(store, retention, None, pause)
        if taken:
            with migration_lock.held(store):
                return _apply_all(store, retention, None, pause)
        if migration_lock.take_over_if_stale(store, stale_seconds):
            log.warning("took over a migration lock whose holder had stopped")
            continue
        time.sleep(pause)
    return []


def bootstrap(store: Store, cluster: str | None, pause: float) -> None:
    """The database and the record of applied versions (idempotent; tried
    :data:`MIGRATION_ATTEMPTS` times, as workers starting together run it at once)."""
    for attempt in range(1, MIGRATION_ATTEMPTS + 1):
        try:
            for template in BOOTSTRAP:
                statement = template.format(db=store.database)
                store.execute(for_cluster(statement, cluster) if cluster else statement)
        except StoreError:
            if attempt == MIGRATION_ATTEMPTS:
                raise
            time.sleep(pause * 2 ** (attempt - 1))
        else:
            return


def _all_recorded(store: Store) -> bool:
    return {m.version for m in migrations()} <= _recorded(store)


def _apply_all(
    store: Store, retention: Retention, cluster: str | None, pause: float
) -> list[Migration]:
    """Apply what is missing, retrying a migration that failed halfway.

    Workers on a cluster, or of a version without the lock, may still run one
    migration at once; a statement can then fail halfway through the other's
    (0009 drops ``ended_at`` before it adds it back, computed). The failed
    migration is tried again from its first statement, after ``pause``
    doubling, until the other recorded it or it went through; raises the
    last StoreError after :data:`MIGRATION_ATTEMPTS`.
    """
    applied: list[Migration] = []
    for attempt in range(1, MIGRATION_ATTEMPTS + 1):
        try:
            _apply_missing(store, retention, cluster, applied)
        except StoreError as exc:
            if attempt == MIGRATION_ATTEMPTS:
                raise
            log.warning("a migration failed (%s); trying again, another worker may be at it", exc)
            time.sleep(pause * 2 ** (attempt - 1))
        else:
            break
    return applied


def _recorded(store: Store) -> set[int]:
    rows = store.query(f"SELECT version FROM {store.database}.schema_migrations")
    return {int(row["version"]) for row in rows}


def _apply_missing(
    store: Store, retention: Retention, cluster: str | None, applied: list[Migration]
) -> None:
    """Apply every migration not recorded yet, appending each to ``applied`` when done."""
    db = store.database
    for migration in migrations():
        # Read again before each one: a worker started at the same time may
        # have applied it meanwhile, and must not be followed by a second run
        # of its backfills (0006, 0008 copy stored actions into the index and
        # the sums) once it consumes.
        if migration.version in _recorded(store):
            continue
        for statement in render(migration, retention, db, cluster):
            store.execute(statement)
        store.insert(
            "schema_migrations", {"version": [migration.version], "name": [migration.name]}
        )
        applied.append(migration)
