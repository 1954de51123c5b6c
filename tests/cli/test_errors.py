"""One error root: every failure spur knows is a SpurError, caught once by the CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from spur.cli.main import main
from spur_schemas.errors import InputError, SpurError, UnavailableError


def error_types() -> list[tuple[type[Exception], type[SpurError]]]:
    from spur.broker import NoBrokerError
    from spur.dev.broker import BrokerError
    from spur.dev.demo import DemoError
    from spur.dev.local_store import LocalStoreError
    from spur.operations.periods import BillingInputError
    from spur.produce import UnknownTopicError
    from spur.settings import SettingsError
    from spur.store_access import NoStoreError
    from spur.topics import TopicError
    from spur_sinks.query_tree import QueryRefusedError
    from spur_sinks.store import StoreError
    from spur_sinks.url import StoreURLError

    return [
        (SettingsError, InputError),
        (StoreURLError, InputError),
        (BillingInputError, InputError),
        (UnknownTopicError, InputError),
        (QueryRefusedError, InputError),
        (NoBrokerError, UnavailableError),
        (StoreError, UnavailableError),
        (NoStoreError, UnavailableError),
        (BrokerError, SpurError),
        (DemoError, SpurError),
        (LocalStoreError, SpurError),
        (TopicError, SpurError),
    ]


def test_every_error_the_cli_reports_derives_from_one_root() -> None:
    for kind, root in error_types():
        assert issubclass(kind, root), kind


def test_input_exits_2_and_unavailable_exits_1_retriable() -> None:
    assert InputError("x").exit_code == 2
    assert not InputError("x").retriable
    assert UnavailableError("x").exit_code == 1
    assert UnavailableError("x").retriable


def test_a_topic_mismatch_prints_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import spur.worker.process
    from spur.topics import TopicError

    def refuse(settings: object, processes: int) -> None:
        raise TopicError(
            "topic spur.actions.v1 has 2 partitions, spur declares 4",
            hint="set SPUR_TOPIC_PARTITIONS=2",
        )

    monkeypatch.setattr(spur.worker.process, "run_worker", refuse)
    result = CliRunner().invoke(main, ["worker"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Error: topic spur.actions.v1 has 2 partitions" in result.stderr
    assert "Hint: set SPUR_TOPIC_PARTITIONS=2" in result.stderr
    assert "Traceback" not in result.output
