"""``spur produce``: validate a JSON-lines file and publish its valid events.

Blocking: reads the file line by line and publishes without waiting on each
delivery; flushes at the end. Bad lines are collected with their numbers,
never published, never silently skipped.

A line is judged as the worker will judge it, time guards included
(``future_timestamp``, ``beyond_retention``), with the time it is read as its
arrival: a line the worker would dead-letter is not sent into Kafka, where it
would sit with its personal data for the topic's retention. The worker checks
again when the event arrives, seconds later: a line within seconds of its
retention limit may pass here and be refused there; for ``future_timestamp``
the worker is never the stricter one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.errors import KafkaConnectionError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TransferSpeedColumn

from spur.client import Publisher, topic_and_key
from spur.client.kafka import KafkaTarget
from spur_schemas.errors import InputError, UnavailableError
from spur_schemas.events import Action, Consent, Event, FormSubmission, WebRequest
from spur_schemas.rejections import Rejection
from spur_schemas.topics import Topic
from spur_schemas.validate import TimeLimits, validate

EVENT_TYPE_OF_TOPIC: dict[str, type[Event]] = {
    Topic.ACTIONS.value: Action,
    Topic.WEB.value: WebRequest,
    Topic.FORMS.value: FormSubmission,
    Topic.CONSENT.value: Consent,
}


class UnknownTopicError(InputError, ValueError):
    pass


@dataclass
class ProduceReport:
    published: int = 0
    rejected: list[tuple[int, Rejection]] = field(default_factory=list)


async def produce_file(
    bootstrap: KafkaTarget,
    path: Path,
    topic: str,
    console: Console,
    time_limits: Callable[[type[Event]], TimeLimits],
) -> ProduceReport:
    """Publish the file's valid lines to ``topic``; report the others by line number.

    ``time_limits`` gives the time guards of the topic's event type
    (``Settings.time_limits``). Raises :class:`UnknownTopicError` for a topic
    that is not an input topic, and what the publisher raises when the
    broker cannot be reached.
    """
    kind = EVENT_TYPE_OF_TOPIC.get(topic)
    if kind is None:
        raise UnknownTopicError(
            f"--topic {topic!r}: not an input topic; use one of {', '.join(EVENT_TYPE_OF_TOPIC)}"
        )
    limits = time_limits(kind)
    report = ProduceReport()
    size = path.stat().st_size  # noqa: ASYNC240  # one stat call before the loop
    progress = Progress(
        TextColumn("publishing {task.fields[name]}"),
        BarColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
        # Not on a file or a pipe: there a progress bar is only a stray blank line.
        disable=not console.is_terminal,
    )
    try:
        async with Publisher(bootstrap) as publisher:
            with progress, path.open("rb") as lines:
                task = progress.add_task("", total=size, name=path.name)
                for line_no, line in enumerate(lines, start=1):
                    progress.advance(task, len(line))
                    body = line.rstrip(b"\r\n")
                    if not body.strip():
                        continue
                    decoded = validate(body, kind, dt.datetime.now(dt.UTC), limits)
                    if isinstance(decoded, Rejection):
                        report.rejected.append((line_no, decoded))
                        continue
                    _topic, key = topic_and_key(decoded)
                    # The line is published as written: the file is the source of truth.
                    await publisher.publish_raw(topic, body, key=key)
                    report.published += 1
    except KafkaConnectionError as exc:
        raise UnavailableError(
            f"Kafka at {bootstrap.bootstrap} is unreachable: {exc}",
            hint="start one with `spur dev up`, or set SPUR_KAFKA_BOOTSTRAP",
        ) from exc
    return report
