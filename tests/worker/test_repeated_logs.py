"""The Kafka library's repeated complaints: the first at once, the rest counted."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from spur.worker.repeated_logs import RepeatLimit, limit_repeated_logs


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_a_message_repeated_within_the_interval_is_held_back_and_counted() -> None:
    clock = Clock()
    limit = RepeatLimit(every=10.0, clock=clock)
    template = "Unable connect to node with id %s: %s"
    assert limit.filter(record("aiokafka.client", template, 1, "refused"))
    held = [limit.filter(record("aiokafka.client", template, 1, f"error {i}")) for i in range(500)]
    assert not any(held)
    clock.now += 9.9
    assert not limit.filter(record("aiokafka.client", template, 1, "refused"))
    clock.now += 0.2
    summary = record("aiokafka.client", template, 1, "refused")
    assert limit.filter(summary)
    assert summary.getMessage() == (
        "Unable connect to node with id 1: refused [501 more like this in 10 s]"
    )
    clock.now += 10.0
    alone = record("aiokafka.client", template, 1, "refused")
    assert limit.filter(alone)  # nothing held back since: no count
    assert alone.getMessage() == "Unable connect to node with id 1: refused"


def test_other_messages_and_other_loggers_pass_on_their_own() -> None:
    limit = RepeatLimit(every=10.0, clock=Clock())
    assert limit.filter(record("aiokafka.client", "Unable to update metadata from %r", [1]))
    assert limit.filter(
        record("aiokafka.consumer.fetcher", "Unable to update metadata from %r", [1])
    )
    assert limit.filter(record("aiokafka.client", "Unable connect to node with id %s: %s", 1, "x"))
    assert not limit.filter(record("aiokafka.client", "Unable to update metadata from %r", [2]))


@pytest.fixture
def clean_filters() -> Iterator[list[logging.Logger]]:
    loggers = [
        logging.getLogger(n) for n in ("aiokafka", "aiokafka.client", "aiokafka.consumer.fetcher")
    ]
    yield loggers
    for logger in loggers:
        logger.filters = [f for f in logger.filters if not isinstance(f, RepeatLimit)]


def test_the_limit_sits_on_each_kafka_library_logger_once(
    clean_filters: list[logging.Logger],
) -> None:
    limit = limit_repeated_logs()
    assert limit_repeated_logs(limit) is limit
    for logger in clean_filters:
        assert logger.filters.count(limit) == 1, logger.name
    assert limit not in logging.getLogger("spur.worker").filters
