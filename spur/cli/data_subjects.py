"""Data-subject commands: erase and export (deletion and information requests)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from spur.cli.common import (
    CUSTOMER_ID,
    TABLE_OR_JSON,
    privileged_reader_for,
    settings_from_env,
    writer_for,
)
from spur.render import emit_rows, row_of
from spur.settings import Settings
from spur_schemas.errors import InputError

if TYPE_CHECKING:
    from spur.operations.subjects import Subject


def subject_from(customer: int | None, login: str | None) -> Subject:
    from spur.operations.subjects import Subject

    if (customer is None) == (login is None):
        raise click.UsageError("name exactly one subject: --customer N or --login NAME")
    if customer is not None:
        return Subject("customer", str(customer))
    assert login is not None
    return Subject("login", login)


@click.command()
@click.option("--customer", type=CUSTOMER_ID, default=None, help="Erase this customer's data.")
@click.option("--login", default=None, help="Erase this login's data.")
@click.option("--yes", is_flag=True, help="Confirm: the deletion cannot be undone.")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table", show_default=True)
def erase(customer: int | None, login: str | None, yes: bool, fmt: str) -> None:
    """Delete everything stored about a customer or a login (clause 3.4).

    Removes their rows from every table (raw events, aggregates when a
    customer is erased, consent log, dead letters), writes an audit record
    with a salted hash instead of the subject, tombstones their consent
    ledger entries in Kafka, and says when the copies still held in Kafka's
    input topics expire.
    """
    from spur.operations.subjects import erase as delete_subject
    from spur.operations.subjects import load_salt, logins_of

    subject = subject_from(customer, login)
    if not yes:
        raise click.UsageError("erasure cannot be undone: add --yes to confirm")
    settings = settings_from_env()
    salt_value = (
        settings.privacy.erasure_salt.get_secret_value() if settings.privacy.erasure_salt else None
    )
    store = writer_for(settings)
    try:
        logins = logins_of(store, subject)
        erasure = delete_subject(
            store,
            subject,
            load_salt(salt_value, settings.local.state_dir),
            settings.broker.input_retention_days,
        )
    finally:
        store.close()
    tombstones = tombstone_consent(settings, logins)
    expires = erasure.kafka_expires_at.strftime("%Y-%m-%d %H:%M UTC")
    if fmt == "json":
        document = {
            "erasure_id": str(erasure.erasure_id),
            "rows_removed": erasure.rows_removed,
            "rows_unlinked": erasure.rows_unlinked,
            "kafka_input_copies_expire_by": erasure.kafka_expires_at.isoformat(),
            "consent_tombstones": tombstones,
        }
        click.echo(json.dumps(document, indent=2))
        return
    if not any(erasure.rows_removed.values()):
        click.echo(
            f"nothing was stored about the {subject.kind} {subject.value}: no rows removed "
            f"(audit id {erasure.erasure_id})"
        )
    else:
        emit_rows(
            [
                *(
                    {"table": t, "rows": n, "what": "removed"}
                    for t, n in erasure.rows_removed.items()
                ),
                *(
                    {"table": t, "rows": n, "what": "kept without the customer (ids only)"}
                    for t, n in erasure.rows_unlinked.items()
                ),
            ],
            "table",
            title=f"erased {subject.kind} (audit id {erasure.erasure_id})",
        )
    click.echo(
        f"Kafka: copies in the input topics expire by {expires} "
        f"(retention {settings.broker.input_retention_days} days); consent ledger: {tombstones}"
    )


def tombstone_consent(settings: Settings, logins: list[str]) -> str:
    """Tombstone the logins' keys on the compacted consent topic; say what happened.

    On every partition, not only each login's own: a producer with another
    partitioner (librdkafka's CRC32) may have put a decision of the login on
    any of them, and compaction removes a key's messages per partition.
    """
    from aiokafka.errors import KafkaError

    from spur.broker import NoBrokerError, kafka_target
    from spur.client import Publisher
    from spur_schemas.topics import Topic, consent_key

    if not logins:
        return "no entries"

    async def send() -> None:
        async with Publisher(kafka_target(settings)) as publisher:
            for partition in await publisher.partitions(Topic.CONSENT):
                for login in logins:
                    await publisher.publish_tombstone(Topic.CONSENT, consent_key(login), partition)

    try:
        asyncio.run(asyncio.wait_for(send(), 30))
    except (NoBrokerError, KafkaError, TimeoutError, OSError) as exc:
        return f"NOT tombstoned ({exc or type(exc).__name__}); rerun erase when the broker is up"
    return f"{len(logins)} login(s) tombstoned on every partition, removed at the next compaction"


@click.command()
@click.option("--customer", type=CUSTOMER_ID, default=None, help="Export this customer's data.")
@click.option("--login", default=None, help="Export this login's data.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File [stdout]."
)
def export(customer: int | None, login: str | None, out: Path | None) -> None:
    """Every stored row about a customer or login, as JSON lines (clause 2).

    Each line is {"table": ..., "row": {...}}. For information requests.
    """
    from spur.operations.subjects import export as rows_of

    subject = subject_from(customer, login)
    settings = settings_from_env()
    sink = open_out(out) if out else contextlib.nullcontext(sys.stdout)
    written = 0
    with sink as lines:
        store = privileged_reader_for(settings)  # every table: no read-only role has them all
        try:
            for line in rows_of(store, subject):
                shown = {"table": line["table"], "row": row_of(line["row"])}
                lines.write(json.dumps(shown, default=str) + "\n")
                written += 1
        finally:
            store.close()
    about = f"{subject.kind} {subject.value}"
    if not written:
        # On stderr: stdout stays the (empty) JSON lines.
        click.echo(f"nothing is stored about the {about}: no rows exported", err=True)
    elif out:
        click.echo(f"wrote {written} rows about the {about} to {out}")


def open_out(path: Path) -> TextIO:
    """The --out file, opened for writing; a path that cannot be written is bad input."""
    try:
        return path.open("w")
    except OSError as exc:
        raise InputError(
            f"--out {path}: {exc.strerror or exc}",
            hint="name a file in an existing directory you may write to",
        ) from exc


COMMANDS = (erase, export)
