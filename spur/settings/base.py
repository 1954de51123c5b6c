"""What every settings group shares: frozen, no unknown names, errors that name the variable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from spur_schemas.errors import InputError
from spur_sinks.url import StoreURL, StoreURLError
from spur_sinks.url import parse_store_url as parse_url


class SettingsError(InputError, ValueError):
    """A setting has a value spur refuses; the message names the variable."""


def parse_store_url(url: str) -> StoreURL:
    """Parse a storage URL (spur_sinks.url); raise :class:`SettingsError` naming what is wrong."""
    try:
        return parse_url(url)
    except StoreURLError as exc:
        raise SettingsError(str(exc)) from None


class Group(BaseModel):
    """One group of settings (spur.settings.Settings holds one of each).

    A field's variable is ``SPUR_`` and its alias, or its name when it has
    none: the alias keeps the variable's full name (``SPUR_KAFKA_BOOTSTRAP``)
    where the group already says what the prefix said (``broker.bootstrap``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


def days_at_most(days: int, limit: int, *, kept: str, rule: str) -> int:
    """``days`` if within the privacy policy's ``limit``; else the ValueError that says so."""
    if days > limit:
        raise ValueError(f"{kept} at most {limit} days ({rule}); got {days}")
    return days
