"""ClickHouse: the accounts spur writes and reads as, its store calls, what one read may take."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from spur.settings.base import Group, parse_store_url
from spur_sinks.url import ReadLimits


class StoreSettings(Group):
    """``SPUR_CLICKHOUSE_*``, ``SPUR_INSERT_*`` and ``SPUR_QUERY_MAX_*``."""

    # The writer's account. Unset: the local store (`spur dev up` / `spur store`)
    # in the state directory. Secret: the URLs carry passwords; a repr of the
    # settings shows '**********'.
    url: SecretStr | None = Field(default=None, alias="clickhouse_url")
    # Reads (billing, query, trace, export, ...) as a read-only user; unset:
    # the writer's URL with writes refused, or the local store's read-only users.
    read_url: SecretStr | None = Field(default=None, alias="clickhouse_read_url")
    # A ClickHouse cluster name: DDL gets ON CLUSTER and Replicated engines.
    cluster: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_]+$", alias="clickhouse_cluster"
    )

    # Store calls.
    insert_timeout_seconds: float = Field(default=30.0, gt=0)
    insert_retry_max_seconds: float = Field(default=10.0, gt=0)

    # What one read (spur query, billing, trace, ...) may take, so that no
    # query starves the pipeline: the local store's read-only profile is
    # generated with these at `spur store` start; reads as the writer's
    # account (SPUR_CLICKHOUSE_URL without SPUR_CLICKHOUSE_READ_URL) send
    # them with each query.
    query_max_memory_bytes: int = Field(default=1024**3, ge=16 * 1024**2)
    query_max_seconds: int = Field(default=60, ge=1, le=3600)
    # At least 1,000: the guard reads a query's parse (one row a node) within it.
    query_max_rows: int = Field(default=1_000_000, ge=1_000)

    @field_validator("url", "read_url")
    @classmethod
    def _store_url_parses(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None:
            parse_store_url(url.get_secret_value())
        return url

    @property
    def read_limits(self) -> ReadLimits:
        return ReadLimits(self.query_max_memory_bytes, self.query_max_seconds, self.query_max_rows)
