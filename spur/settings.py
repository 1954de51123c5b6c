"""The one typed settings object of a spur process.

Every knob comes from an environment variable with the prefix ``SPUR_`` (or
the constructor, in tests); nothing else in spur reads ``os.environ``.
Settings are frozen: a process reads them once at start.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from spur_schemas.errors import InputError
from spur_schemas.events import Action, Event, FormSubmission, WebRequest
from spur_schemas.validate import TimeLimits
from spur_sinks.tables import Retention
from spur_sinks.url import ReadLimits, StoreURL, StoreURLError
from spur_sinks.url import parse_store_url as parse_url

# Kafka holds the same personal data as the store while it retains messages
# (docs/topics.md, "Retention"), so its retention is bounded like the store's.
MAX_INPUT_RETENTION_DAYS = 30

# Clause 3.4: actions are kept at most one year, then deleted automatically.
MAX_CUSTOMER_DATA_DAYS = 365
# Clause 3.1: web access logs are deleted after three months (92 days covers
# any three calendar months).
MAX_WEB_LOG_DAYS = 92

DEFAULT_STATE_DIR = Path(".spur")

# The worker's /metrics port: the same after every restart, so Prometheus
# finds a restarted worker where it was (deploy/prometheus/prometheus.yml).
DEFAULT_METRICS_PORT = 9464


class SettingsError(InputError, ValueError):
    """A setting has a value spur refuses; the message names the variable."""


def parse_store_url(url: str) -> StoreURL:
    """Parse a storage URL (spur_sinks.url); raise :class:`SettingsError` naming what is wrong."""
    try:
        return parse_url(url)
    except StoreURLError as exc:
        raise SettingsError(str(exc)) from None


class Settings(BaseSettings):
    """Everything a spur process can be told, with the contract's defaults."""

    model_config = SettingsConfigDict(env_prefix="SPUR_", frozen=True, extra="forbid")

    # Kafka. Unset means: the broker of `spur dev up` in this directory.
    kafka_bootstrap: str | None = None
    consumer_group: str = Field(default="spur", min_length=1)
    topic_partitions: int = Field(default=4, ge=1, le=1024)
    topic_replication: int = Field(default=1, ge=1, le=16)
    input_retention_days: int = Field(default=7, ge=1)
    kafka_version: str = "3.9.2"
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None  # the CA that signed the brokers' certificates

    # Storage, and how long it keeps customer data (privacy policy 3.4).
    # Unset: the local store (`spur dev up` / `spur store`) in state_dir/store.
    # Secret: the URLs carry passwords; a repr of the settings shows '**********'.
    clickhouse_url: SecretStr | None = None
    # Reads (billing, query, trace, export, ...) as a read-only user; unset:
    # clickhouse_url with writes refused, or the local store's read-only users.
    clickhouse_read_url: SecretStr | None = None
    # A ClickHouse cluster name: DDL gets ON CLUSTER and Replicated engines.
    clickhouse_cluster: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]+$")
    actions_retention_days: int = Field(default=365, ge=1)
    web_retention_days: int = Field(default=92, ge=1)  # three months (clause 3.1)
    forms_retention_days: int = Field(default=92, ge=1)  # configurable (clause 3.3)
    dead_letter_retention_days: int = Field(default=14, ge=1)
    capacity_retention_days: int = Field(default=730, ge=1)  # no customer data

    # Local state: dev broker, Faust data, client spool; and the download
    # cache of the broker's jars, shared by every checkout on the machine.
    state_dir: Path = DEFAULT_STATE_DIR
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "spur")

    # Pipeline tuning.
    # Actions: a batch is what has been fetched, at most batch_size, waiting at
    # most batch_seconds when nothing has (spur/worker/consume.py). 40k, not 20k:
    # 1.23x the rate (fewer parts), 241 MB peak anonymous RSS (bench/README.md).
    batch_size: int = Field(default=40_000, ge=1)
    # Web, forms and consent agents: a batch closes at batch_size or after batch_seconds.
    batch_seconds: float = Field(default=0.2, gt=0)
    stream_buffer_maxsize: int = Field(default=131_072, ge=1)
    commit_interval_seconds: float = Field(default=1.0, gt=0)
    # How long the group waits for a silent worker before giving its
    # partitions to another; short, so a crashed worker's partitions move on.
    session_timeout_seconds: float = Field(default=10.0, ge=6, le=300)

    # Stream semantics.
    # Event-time lateness beyond which an action is counted as late (a metric
    # and an alert); every action is folded whatever its lateness.
    allowed_lateness_hours: float = Field(default=48.0, ge=0)
    # How far ahead of its arrival an event time may be (a producer's clock
    # running fast); beyond it: future_timestamp. A day is a broken clock, not skew.
    allowed_clock_skew_seconds: float = Field(default=300.0, ge=0, le=86_400)
    actions_ip_policy: Literal["full", "truncate", "drop"] = "full"  # misuse investigation
    web_ip_policy: Literal["full", "truncate", "drop"] = "truncate"
    forms_ip_policy: Literal["full", "truncate", "drop"] = "truncate"
    # A second worker on the same host needs a port of its own (and a scrape
    # target); 0: a free port, logged and in <state_dir>/worker.json.
    metrics_port: int = Field(default=DEFAULT_METRICS_PORT, ge=0, le=65535)
    # Loopback unless a scraper on another host needs /metrics (compose).
    worker_api_host: str = "127.0.0.1"
    # Retention gauges; consumer lag is measured at each scrape of /metrics.
    observe_interval_seconds: float = Field(default=30.0, gt=0)

    # Store writes.
    insert_timeout_seconds: float = Field(default=30.0, gt=0)
    insert_retry_max_seconds: float = Field(default=10.0, gt=0)

    # Fault injection for outage tests: the store fails while this file exists.
    store_fault_file: Path | None = None

    # Erasure audit: the subject is logged as HMAC(salt, subject). Unset: a
    # random salt is made once and kept in the state directory (mode 0600).
    erasure_salt: SecretStr | None = None

    # Billing.
    billing_timezone: str = "UTC"

    # What one read (spur query, billing, trace, ...) may take, so that no
    # query starves the pipeline: the local store's read-only profile is
    # generated with these at `spur store` start; reads as the writer's
    # account (SPUR_CLICKHOUSE_URL without SPUR_CLICKHOUSE_READ_URL) send
    # them with each query.
    query_max_memory_bytes: int = Field(default=1024**3, ge=16 * 1024**2)
    query_max_seconds: int = Field(default=60, ge=1, le=3600)
    # At least 1,000: the guard reads a query's parse (one row a node) within it.
    query_max_rows: int = Field(default=1_000_000, ge=1_000)

    @model_validator(mode="after")
    def _credentials_with_sasl(self) -> Settings:
        if self.kafka_security_protocol != "PLAINTEXT" and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"SPUR_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "SPUR_KAFKA_SASL_USERNAME and SPUR_KAFKA_SASL_PASSWORD"
            )
        return self

    @field_validator("input_retention_days")
    @classmethod
    def _retention_bounded(cls, days: int) -> int:
        if days > MAX_INPUT_RETENTION_DAYS:
            raise ValueError(
                f"input topics may keep personal data at most {MAX_INPUT_RETENTION_DAYS} days "
                f"(privacy policy); got {days}"
            )
        return days

    @field_validator("actions_retention_days", "forms_retention_days", "dead_letter_retention_days")
    @classmethod
    def _customer_data_at_most_a_year(cls, days: int) -> int:
        if days > MAX_CUSTOMER_DATA_DAYS:
            raise ValueError(
                f"customer data may be kept at most {MAX_CUSTOMER_DATA_DAYS} days "
                f"(privacy policy 3.4); got {days}"
            )
        return days

    @field_validator("web_retention_days")
    @classmethod
    def _web_log_at_most_three_months(cls, days: int) -> int:
        if days > MAX_WEB_LOG_DAYS:
            raise ValueError(
                f"web access logs may be kept at most {MAX_WEB_LOG_DAYS} days "
                f"(three months, privacy policy 3.1); got {days}"
            )
        return days

    @field_validator("clickhouse_url", "clickhouse_read_url")
    @classmethod
    def _store_url_parses(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None:
            parse_store_url(url.get_secret_value())
        return url

    @property
    def local_store_dir(self) -> Path:
        return self.state_dir / "store"

    def time_limits(self, kind: type[Event]) -> TimeLimits:
        """The time guards of an event type (docs/events.md): clock skew, its table's retention.

        Consent has no retention limit: the ledger keeps every decision until
        erasure (no TTL), and refusing an old revocation would let an older
        grant stand as the login's latest decision.
        """
        days = {
            Action: self.actions_retention_days,
            WebRequest: self.web_retention_days,
            FormSubmission: self.forms_retention_days,
        }.get(kind)
        return TimeLimits(
            clock_skew=dt.timedelta(seconds=self.allowed_clock_skew_seconds),
            retention=dt.timedelta(days=days) if days is not None else None,
        )

    @property
    def retention(self) -> Retention:
        """The retention days of the store's tables (compiled into their TTLs)."""
        return Retention(
            actions=self.actions_retention_days,
            web=self.web_retention_days,
            forms=self.forms_retention_days,
            dead_letter=self.dead_letter_retention_days,
            capacity=self.capacity_retention_days,
        )

    @property
    def read_limits(self) -> ReadLimits:
        return ReadLimits(self.query_max_memory_bytes, self.query_max_seconds, self.query_max_rows)

    @property
    def faust_dir(self) -> Path:
        return self.state_dir / "faust"

    @property
    def dev_broker_dir(self) -> Path:
        return self.state_dir / "dev-broker"


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

    valid = [f"SPUR_{name.upper()}" for name in Settings.model_fields]
    unknown: dict[str, str | None] = {}
    for name in sorted(environ):
        if not name.startswith("SPUR_") or name in valid or name in RETIRED:
            continue
        if name.startswith(_NOT_SETTINGS_PREFIX):
            continue
        close = difflib.get_close_matches(name, valid, n=1, cutoff=0.8)
        unknown[name] = close[0] if close else None
    return unknown


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise :class:`SettingsError` on bad values."""
    from pydantic import ValidationError

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
        return Settings(**overrides)  # type: ignore[arg-type]  # pydantic validates the types
    except ValidationError as exc:
        problems = "; ".join(
            f"SPUR_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(problems) from exc
