"""Where a store is and what one read may take: plain types every store client shares.

``clickhouse://user:pw@host:9000/db`` names a server over the native
protocol, ``clickhouses://`` the same over TLS. spur's settings read these
from ``SPUR_CLICKHOUSE_URL`` and ``SPUR_QUERY_*``; nothing here reads the
environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from spur_schemas.errors import InputError


class StoreURLError(InputError, ValueError):
    """A store URL spur cannot use; the message names the variable, never the password."""


@dataclass(frozen=True)
class StoreURL:
    """A parsed ``SPUR_CLICKHOUSE_URL``.

    ``clickhouse://user:pw@host:9000/db`` is a server over the native
    protocol, ``clickhouses://`` the same over TLS.
    """

    scheme: Literal["clickhouse", "clickhouses"]
    host: str = "localhost"
    port: int = 9000
    user: str = "default"
    password: SecretStr = field(default_factory=lambda: SecretStr(""))
    database: str = "spur"

    @property
    def secure(self) -> bool:
        return self.scheme == "clickhouses"

    def redacted(self) -> str:
        """The URL for logs and messages: never the password."""
        return f"{self.scheme}://{self.user}@{self.host}:{self.port}/{self.database}"


def parse_store_url(url: str) -> StoreURL:
    """Parse a storage URL; raise :class:`StoreURLError` naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme == "chdb":
        raise StoreURLError(
            "SPUR_CLICKHOUSE_URL: chdb:// (the in-process store) is gone; leave the variable "
            "unset for the local store of `spur dev up` / `spur store`, or name a server "
            "(clickhouse://user:pw@host:9000/db)"
        )
    if parts.scheme in ("clickhouse", "clickhouses"):
        if not parts.hostname:
            raise StoreURLError(f"SPUR_CLICKHOUSE_URL: {parts.scheme}:// needs a host")
        try:
            port = parts.port
        except ValueError:
            # urllib's message would quote the text after ':', often the password.
            raise StoreURLError(
                "SPUR_CLICKHOUSE_URL: the port is not a number (a password with '/', '?' "
                "or '#' must be percent-encoded: %2F, %3F, %23)"
            ) from None
        database = parts.path.strip("/") or "spur"
        return StoreURL(
            scheme=parts.scheme,  # type: ignore[arg-type]  # narrowed by the `in` above
            host=parts.hostname,
            port=port or (9440 if parts.scheme == "clickhouses" else 9000),
            user=unquote(parts.username or "default"),
            password=SecretStr(unquote(parts.password or "")),
            database=database,
        )
    raise StoreURLError(
        f"SPUR_CLICKHOUSE_URL: unknown scheme {parts.scheme!r}; "
        "use clickhouse://user:pw@host:9000/db or clickhouses://... (TLS), or leave it "
        "unset for the local store"
    )


PARSER_DEPTH = 300
PARSER_BACKTRACKS = 50_000


@dataclass(frozen=True)
class ReadLimits:
    """What one read-only query may take, so that no query starves the pipeline."""

    max_memory_bytes: int = 1024**3
    max_execution_seconds: int = 60
    max_result_rows: int = 1_000_000
    # What one read may send back: the CLI holds a table's rows to print them.
    max_result_bytes: int = 256 * 1024**2

    def as_query_settings(self) -> dict[str, int | str]:
        """The limits as ClickHouse settings (a profile's or a query's)."""
        return {
            "max_memory_usage": self.max_memory_bytes,
            # All of one account's queries together, and how many at once: a
            # few concurrent queries must not add up to starving the pipeline.
            "max_memory_usage_for_user": 2 * self.max_memory_bytes,
            "max_concurrent_queries_for_user": 4,
            "max_execution_time": self.max_execution_seconds,
            "max_result_rows": self.max_result_rows,
            "max_result_bytes": self.max_result_bytes,
            "result_overflow_mode": "throw",
            # Parsing comes before every other limit and is counted by none of
            # them: a 64 KB query of nested tuples took 5 s of the engine's CPU
            # (250 KB: 20 s) unseen by system.processes. With these, the worst
            # found took 0.5 s at any size; spur's saved queries need depth 27
            # and 74 backtracks, a 200-column SELECT 3,202 (measured 2026-12-06).
            "max_parser_depth": PARSER_DEPTH,
            "max_parser_backtracks": PARSER_BACKTRACKS,
        }
