"""Operators' checks: status (broker, lag, tables) and retention."""

from __future__ import annotations

import sys
from typing import Any

import click

from spur.cli.common import (
    FORMATS,
    TABLE_OR_JSON,
    privileged_reader_for,
    reader_for,
    settings_from_env,
)
from spur.render import dumps, emit_rows


@click.command()
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def retention(fmt: str) -> None:
    """Per table: the retention policy, the oldest row, and whether it conforms.

    Exit code 1 when a table keeps rows longer than its policy allows.
    """
    from spur.read.retention import retention_report

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

    Exit code 1 when the broker or the store cannot be reached.
    """
    from schemas.topics import INPUT_TOPICS
    from spur.broker import NoBrokerError, kafka_target
    from spur.client.kafka import KafkaTarget
    from spur.read.status import broker_status, store_status
    from spur.store_access import describe, local_store_protection

    settings = settings_from_env()
    try:
        bootstrap: KafkaTarget | None = kafka_target(settings)
    except NoBrokerError:
        bootstrap = None
    broker = broker_status(bootstrap, settings.consumer_group, [t.value for t in INPUT_TOPICS])
    try:
        store = reader_for(settings)
    except Exception as exc:  # any failure to open is reported, not raised
        stored: dict[str, Any] = {"reachable": False, "error": str(exc)}
        if hint := getattr(exc, "hint", None):
            stored["hint"] = hint
    else:
        try:
            stored = store_status(store)
        finally:
            store.close()
    if protection := local_store_protection(settings):
        stored["protection"] = protection
    document = {"broker": broker, "store": {"url": describe(settings), **stored}}
    if fmt == "json":
        click.echo(dumps(document))
    else:
        _echo_text(broker, stored, describe(settings))
    if not (broker["reachable"] and stored["reachable"]):
        sys.exit(1)


def _echo_text(broker: dict[str, Any], stored: dict[str, Any], where: str) -> None:
    state = "reachable" if broker["reachable"] else f"UNREACHABLE: {broker.get('error')}"
    click.echo(f"broker {broker.get('bootstrap', '-')}: {state}")
    for topic, lag in broker.get("consumer_lag", {}).items():
        click.echo(f"  {topic}: lag {lag:,}")
    health = "reachable" if stored["reachable"] else f"UNREACHABLE: {stored['error']}"
    click.echo(f"store {where}: {health}")
    if stored.get("protection"):
        click.echo(f"  protection: {stored['protection']}")
    if stored.get("note"):
        click.echo(f"  {stored['note']}")
    if stored.get("tables"):
        emit_rows(stored["tables"], "table", "tables")


COMMANDS = (status, retention)
