"""The Kafka library's repeated complaints: each text at once, its repeats counted."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from spur.worker.repeated_logs import RepeatLimit, limit_repeated_logs

REFUSED = "Unable connect to node with id %s: %s"


class Clock:
    def __init__(self) -> None:
        self.now = 1_796_644_800.0  # 2026-12-07 12:00:00 UTC

    def __call__(self) -> float:
        return self.now


def record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_a_text_repeated_within_the_interval_is_held_back_and_counted_with_its_times() -> None:
    clock = Clock()
    limit = RepeatLimit(every=10.0, clock=clock)
    assert limit.filter(record("aiokafka.client", REFUSED, 1, "refused"))
    clock.now += 1.0
    held = [limit.filter(record("aiokafka.client", REFUSED, 1, "refused")) for _ in range(500)]
    assert not any(held)
    clock.now += 8.9
    assert not limit.filter(record("aiokafka.client", REFUSED, 1, "refused"))
    clock.now += 0.2
    summary = record("aiokafka.client", REFUSED, 1, "refused")
    assert limit.filter(summary)
    assert summary.getMessage() == (
        "Unable connect to node with id 1: refused "
        "[501 more like this from 12:00:01 to 12:00:09 UTC]"
    )
    clock.now += 10.0
    alone = record("aiokafka.client", REFUSED, 1, "refused")
    assert limit.filter(alone)  # nothing held back since: no count
    assert alone.getMessage() == "Unable connect to node with id 1: refused"


def test_another_error_node_or_partition_is_another_message_logged_at_once() -> None:
    """Found from outside: keyed by the template, a new error waited behind an old one."""
    limit = RepeatLimit(every=10.0, clock=Clock())
    assert limit.filter(record("aiokafka.client", REFUSED, 1, "refused"))
    assert limit.filter(record("aiokafka.client", REFUSED, 1, "CorrelationIdError"))
    assert limit.filter(record("aiokafka.client", REFUSED, 2, "refused"))
    assert limit.filter(record("aiokafka.consumer.fetcher", REFUSED, 1, "refused"))
    assert not limit.filter(record("aiokafka.client", REFUSED, 1, "CorrelationIdError"))


def test_a_count_held_back_in_an_earlier_outage_says_when() -> None:
    clock = Clock()
    limit = RepeatLimit(every=10.0, clock=clock)
    limit.filter(record("aiokafka.client", REFUSED, 1, "refused"))
    clock.now += 5
    limit.filter(record("aiokafka.client", REFUSED, 1, "refused"))
    clock.now += 3600  # the broker came back; an hour later it is gone again
    later = record("aiokafka.client", REFUSED, 1, "refused")
    assert limit.filter(later)
    assert later.getMessage().endswith("[1 more like this at 12:00:05 UTC]")


def test_a_record_whose_arguments_do_not_fit_passes_to_logging() -> None:
    limit = RepeatLimit(every=10.0, clock=Clock())
    assert limit.filter(record("aiokafka.client", "%d nodes", "many"))
    assert limit.filter(record("aiokafka.client", "%d nodes", "many"))


@pytest.fixture
def clean_filters() -> Iterator[list[logging.Logger]]:
    names = ("aiokafka", "aiokafka.client", "aiokafka.consumer.fetcher")
    loggers = [logging.getLogger(name) for name in names]
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


def test_a_summary_formats_as_its_text_under_fausts_formatter() -> None:
    """Found in the broker-restart run: Faust's formatter turned ``args=None`` into
    ``(None,)`` and logged a formatting error instead of the summary."""
    from mode.utils.logging import ExtensionFormatter

    clock = Clock()
    limit = RepeatLimit(every=10.0, clock=clock)
    template = "%s at 100%% of %d tries"
    limit.filter(record("aiokafka.client", template, "refused", 3))
    clock.now += 1
    limit.filter(record("aiokafka.client", template, "refused", 3))
    clock.now += 10
    summary = record("aiokafka.client", template, "refused", 3)
    assert limit.filter(summary)
    expected = "refused at 100% of 3 tries [1 more like this at 12:00:01 UTC]"
    assert ExtensionFormatter(fmt="%(message)s").format(summary) == expected
    assert logging.Formatter("%(message)s").format(summary) == expected
