"""The one typed settings object of a spur process, in groups.

Every knob comes from an environment variable with the prefix ``SPUR_`` (or
the constructor, in tests); nothing else in spur reads ``os.environ``.
Settings are frozen: a process reads them once at start.

A setting is declared once, in its group's module (spur.settings.broker,
spur.settings.store, spur.settings.worker, spur.settings.retention,
spur.settings.privacy, spur.settings.local, spur.settings.billing): its type,
default, bounds, comment and variable. Code reads a group's field
(``settings.worker.batch_size``); an operator and a test name the setting
flat, as its variable does (``SPUR_BATCH_SIZE``, ``Settings(batch_size=5)``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from spur.settings.base import Group, SettingsError, parse_store_url
from spur.settings.billing import BillingSettings
from spur.settings.broker import BrokerSettings
from spur.settings.local import LocalSettings
from spur.settings.privacy import PrivacySettings
from spur.settings.retention import RetentionSettings
from spur.settings.store import StoreSettings
from spur.settings.worker import WorkerSettings
from spur_schemas.events import Action, Event, FormSubmission, WebRequest
from spur_schemas.validate import TimeLimits

__all__ = [
    "GROUP_OF",
    "RETIRED",
    "Settings",
    "SettingsError",
    "load_settings",
    "parse_store_url",
    "unknown_variables",
]


class Settings(BaseModel):
    """Everything a spur process can be told, with the contract's defaults, one group each."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    local: LocalSettings = Field(default_factory=LocalSettings)
    billing: BillingSettings = Field(default_factory=BillingSettings)

    def __init__(self, **settings: Any) -> None:
        """The ``SPUR_*`` variables, and ``settings`` by flat name over them (``batch_size=5``)."""
        super().__init__(**{**variables(os.environ), **settings})

    @model_validator(mode="before")
    @classmethod
    def _grouped(cls, values: Any) -> Any:
        """Flat names into their groups; any other name is left for extra="forbid" to refuse."""
        if not isinstance(values, dict):
            return values
        grouped = {name: value for name, value in values.items() if name not in GROUP_OF}
        for name, value in values.items():
            if name in GROUP_OF:
                members = grouped.setdefault(GROUP_OF[name], {})
                if not isinstance(members, dict):
                    raise ValueError(f"{name} and {GROUP_OF[name]}= both given; give one")
                members[name] = value
        return grouped

    def time_limits(self, kind: type[Event]) -> TimeLimits:
        """The time guards of an event type (docs/events.md): clock skew, its table's retention.

        Consent has no retention limit: the ledger keeps every decision until
        erasure (no TTL), and refusing an old revocation would let an older
        grant stand as the login's latest decision.
        """
        days = {
            Action: self.retention.actions_days,
            WebRequest: self.retention.web_days,
            FormSubmission: self.retention.forms_days,
        }.get(kind)
        return TimeLimits(
            clock_skew=dt.timedelta(seconds=self.worker.allowed_clock_skew_seconds),
            retention=dt.timedelta(days=days) if days is not None else None,
        )


def _group_of() -> dict[str, str]:
    """Each setting's flat name (its variable without ``SPUR_``, in lower case) and its group."""
    found: dict[str, str] = {}
    for group, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type)
        assert issubclass(model, Group)
        for name, member in model.model_fields.items():
            found[member.alias or name] = group
    return found


GROUP_OF = _group_of()


def variables(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings ``environ`` sets, by flat name (``SPUR_BATCH_SIZE``: ``batch_size``).

    A variable's case does not matter (``spur_batch_size`` is read too), as it never did.
    """
    found = {}
    for variable, value in environ.items():
        name = variable.upper().removeprefix("SPUR_").lower()
        if variable.upper().startswith("SPUR_") and name in GROUP_OF:
            found[name] = value
    return found


# Variables that meant something once; set, they would silently do nothing.
RETIRED = {
    "SPUR_DEDUP_HORIZON_DAYS": "an action id is remembered for as long as its action is "
    "retained (SPUR_ACTIONS_RETENTION_DAYS)",
    "SPUR_WINDOW_CACHE_SIZE": "window states are read from the store by exact key",
}


# SPUR_CH_*: the deployment's ClickHouse passwords (deploy/), read by the
# ClickHouse server and Grafana, not by spur; an operator's shell may hold them.
_NOT_SETTINGS_PREFIX = "SPUR_CH_"


def unknown_variables(environ: Mapping[str, str]) -> dict[str, str | None]:
    """Each ``SPUR_*`` variable that names no setting, with the closest valid name (if any).

    A misspelt variable (SPUR_CLICKHOUSE_ULR) would otherwise be silently
    ignored and its default used.
    """
    import difflib

    valid = [f"SPUR_{name.upper()}" for name in GROUP_OF]
    unknown: dict[str, str | None] = {}
    for name in sorted(environ):
        if not name.startswith("SPUR_") or name in valid or name in RETIRED:
            continue
        if name.startswith(_NOT_SETTINGS_PREFIX):
            continue
        close = difflib.get_close_matches(name, valid, n=1, cutoff=0.8)
        unknown[name] = close[0] if close else None
    return unknown


def _problem(error: ErrorDetails) -> str:
    """``SPUR_<NAME>: <message>``; the message alone when no setting is at fault alone
    (a group's rule, such as SASL needing credentials, names its variables itself)."""
    names = [p for p in error["loc"] if isinstance(p, str) and p not in Settings.model_fields]
    return f"SPUR_{names[0].upper()}: {error['msg']}" if names else error["msg"]


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise :class:`SettingsError` on bad values."""
    retired = sorted(name for name in RETIRED if name in os.environ)
    if retired:
        raise SettingsError(
            "; ".join(f"{name} is no longer used: {RETIRED[name]}; unset it" for name in retired)
        )
    unknown = unknown_variables(os.environ)
    if unknown:
        raise SettingsError(
            "; ".join(f"{name} is not a spur setting" for name in unknown),
            hint="; ".join(
                f"did you mean {close}?" if close else f"unset {name}"
                for name, close in unknown.items()
            )
            + " (docs/cli.md#environment-variables lists them all)",
        )
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError("; ".join(_problem(err) for err in exc.errors())) from exc
