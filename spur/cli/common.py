"""What every command shares: settings, the store's accounts, option types, error handling."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

from spur.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from sinks.store import Store
    from spur.store_access import Reader

F = TypeVar("F", bound=Callable[..., Any])
err = Console(stderr=True)


class CommandFailed(click.ClickException):
    """A failure the user can act on; printed without a traceback, exit 1."""

    exit_code = 1


def friendly_errors(command: F) -> F:
    """Turn spur's known error types into a one-line message and an exit code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sinks.store import StoreError
        from spur.broker import NoBrokerError
        from spur.dev.broker import BrokerError
        from spur.dev.demo import DemoError
        from spur.dev.store import LocalStoreError
        from spur.produce import UnknownTopicError
        from spur.read.billing import BillingInputError
        from spur.read.query import QueryRefusedError
        from spur.topics import TopicError

        try:
            return command(*args, **kwargs)
        except (SettingsError, BillingInputError, UnknownTopicError, QueryRefusedError) as exc:
            raise click.UsageError(str(exc)) from exc
        except (
            NoBrokerError,
            BrokerError,
            StoreError,
            DemoError,
            LocalStoreError,
            TopicError,
        ) as exc:
            raise CommandFailed(str(exc)) from exc

    return wrapper  # type: ignore[return-value]  # same signature as `command`


def reader_for(settings: Settings, user: Reader = "engineer") -> Store:
    """The store as a read-only user (workers may run meanwhile)."""
    from spur.store_access import open_reader

    return open_reader(settings, user)


def privileged_reader_for(settings: Settings) -> Store:
    """Reads of every table (export, retention, reconcile) as the writer, writes refused."""
    from spur.store_access import open_privileged_reader

    return open_privileged_reader(settings)


def writer_for(settings: Settings) -> Store:
    """The store as its writer, for commands that change data (workers may run meanwhile)."""
    from spur.store_access import open_writer

    return open_writer(settings)


def settings_from_env() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc


FORMATS = click.Choice(["table", "csv", "json"])
# One rule for customer ids everywhere (DESIGN §3: 1 to 2^32 - 1); out of range exits 2.
CUSTOMER_ID = click.IntRange(1, 2**32 - 1)
TABLE_OR_JSON = click.Choice(["table", "json"])
