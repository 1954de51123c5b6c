"""Operators' checks: status (broker, lag, tables) and retention."""

from __future__ import annotations

import sys
from typing import Any

import click

from spur.cli.common import (
    FORMATS,
    TABLE_OR_JSON,
    privileged_reader_for,
    settings_from_env,
)
from spur.render import dumps, emit_rows


@click.command()
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def retention(fmt: str) -> None:
    """Per table: the retention policy, the oldest row, and whether it conforms.

    Exit code 1 when a table keeps rows longer than its policy allows.
    """
    from spur.operations.retention import retention_report

    settings = settings_from_env()
    store = privileged_reader_for(settings)  # every table's oldest row
    try:
        report = retention_report(store, settings)
    finally:
        store.close()
    emit_rows(report, fmt, title="retention")
    if not all(row["conforms"] for row in report):
        sys.exit(1)


@click.command()
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table", show_default=True)
def status(fmt: str) -> None:
    """Broker reachable, consumer lag per topic, rows and last insert per table.

    For a local store also its protection: "confined (Landlock ABI n)" or
    "NOT confined: why" (docs/security.md).

    Exit code 1 when the broker or the store cannot be reached, or the
    local store's disk is full. Each failure comes with a hint.
    """
    from spur.broker import NoBrokerError, kafka_target
    from spur.client.kafka import KafkaTarget
    from spur.local_state import running_store
    from spur.operations.status import broker_status, local_disk, store_status
    from spur.store_access import describe, local_store_protection, open_status_reader
    from spur_schemas.topics import INPUT_TOPICS

    settings = settings_from_env()
    try:
        bootstrap: KafkaTarget | NoBrokerError = kafka_target(settings)
    except NoBrokerError as exc:
        bootstrap = exc  # why there is none: the broker's status
    broker = broker_status(
        bootstrap, settings.broker.consumer_group, [t.value for t in INPUT_TOPICS]
    )
    local = None if settings.store.url else running_store(settings.local.store_dir)
    try:
        # A short timeout: a hung store is reported, not waited for.
        timeout = {"insert_timeout_seconds": STATUS_TIMEOUT_SECONDS}
        quick = settings.model_copy(update={"store": settings.store.model_copy(update=timeout)})
        store = open_status_reader(quick)
    except Exception as exc:  # any failure to open is reported, not raised
        stored: dict[str, Any] = {"reachable": False, "error": str(exc)}
        if hint := getattr(exc, "hint", None):
            stored["hint"] = hint
    else:
        try:
            disk = local_disk(settings.local.store_dir) if local else None
            stored = store_status(store, local=local, disk=disk)
        finally:
            store.close()
    if protection := local_store_protection(settings):
        stored["protection"] = protection
    if local is not None:
        stored["pid"] = local.pid  # the local store's server: what `spur dev down` stops
    document = {"broker": broker, "store": {"url": describe(settings), **stored}}
    if fmt == "json":
        click.echo(dumps(document))
    else:
        _print_status(broker, stored, describe(settings))
    if not (broker["reachable"] and stored["reachable"] and stored.get("writable", True)):
        sys.exit(1)


# Seconds `spur status` waits for the store's answer.
STATUS_TIMEOUT_SECONDS = 5.0


def _print_status(broker: dict[str, Any], stored: dict[str, Any], where: str) -> None:
    state = "reachable" if broker["reachable"] else f"UNREACHABLE: {broker.get('error')}"
    click.echo(f"broker {broker.get('bootstrap', '-')}: {state}")
    if broker.get("hint"):
        click.echo(f"  Hint: {broker['hint']}")
    for topic, lag in broker.get("consumer_lag", {}).items():
        click.echo(f"  {topic}: lag {lag:,}")
    if not stored["reachable"]:
        health = f"UNREACHABLE: {stored['error']}"
    elif not stored.get("writable", True):
        health = f"reachable, NOT WRITABLE: {stored['error']}"
    else:
        health = "reachable"
    click.echo(f"store {where}: {health}")
    if stored.get("hint"):
        click.echo(f"  Hint: {stored['hint']}")
    if disk := stored.get("disk"):
        click.echo(f"  disk: {disk['free_bytes']:,} of {disk['total_bytes']:,} bytes free")
    if stored.get("pid"):
        click.echo(f"  local store: pid {stored['pid']}")
    if stored.get("protection"):
        click.echo(f"  protection: {stored['protection']}")
    if stored.get("note"):
        click.echo(f"  {stored['note']}")
    if stored.get("tables"):
        emit_rows(stored["tables"], "table", "tables")


COMMANDS = (status, retention)
