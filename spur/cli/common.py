"""What every command shares: settings, the store's accounts, option types, one failure type."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.console import Console

from spur.settings import Settings, load_settings
from spur_schemas.errors import SpurError

if TYPE_CHECKING:
    from spur.store_access import Reader
    from spur_sinks.store import Store

err = Console(stderr=True)


class CommandFailed(SpurError):
    """A failure of a command the user can act on (not bad input): exit 1."""


def reader_for(settings: Settings, user: Reader = "engineer") -> Store:
    """The store as a read-only user (workers may run meanwhile); a read waits a while
    when the account runs as many as it may (spur.cli.waiting)."""
    from spur.cli.waiting import WaitingForASlot
    from spur.store_access import open_reader

    return WaitingForASlot(open_reader(settings, user))


def privileged_reader_for(settings: Settings) -> Store:
    """Reads of every table (export, retention, reconcile) as the writer, writes refused."""
    from spur.store_access import open_privileged_reader

    return open_privileged_reader(settings)


def writer_for(settings: Settings) -> Store:
    """The store as its writer, for commands that change data (workers may run meanwhile)."""
    from spur.store_access import open_writer

    return open_writer(settings)


def settings_from_env() -> Settings:
    """The settings; a bad ``SPUR_*`` variable raises SettingsError (exit 2)."""
    return load_settings()


FORMATS = click.Choice(["table", "csv", "json"])
# One rule for customer ids everywhere (docs/events.md: 1 to 2^32 - 1); out of range exits 2.
CUSTOMER_ID = click.IntRange(1, 2**32 - 1)
TABLE_OR_JSON = click.Choice(["table", "json"])
