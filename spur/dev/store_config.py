"""What the local store's server is told: config.xml, users.xml, its own queries.

Pure text, kept apart from running the server (spur.dev.store_server), so
that the store's access rules read in one place.

Users (their names in spur.local_state), mirroring deploy/clickhouse:
``spur_writer`` (workers and commands that change data), ``billing`` /
``ops`` / ``engineer`` (read-only, with the grants of
deploy/clickhouse/users.d), ``spur_admin`` (used only by the server itself
to end its serving query). The engine's own serving call runs
as the password-less ``default``: it is reachable on loopback, so it is
granted nothing but starting listeners, under a memory limit it cannot
change (profile ``listener``). What this leaves open (``SYSTEM STOP
LISTEN``, no time limit) is in docs/security.md.

Blocking: nothing. Raises nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from xml.sax.saxutils import escape

from spur.local_state import ADMIN, READERS, WRITER, Credentials
from spur_sinks.tables import readable_by
from spur_sinks.url import ReadLimits

# Grants of the read-only users: the registry's, as in deploy/clickhouse/users.d's roles.
_READ_GRANTS: dict[str, tuple[str, ...]] = {reader: readable_by(reader) for reader in READERS}

# What `spur status`, retention and the benchmarks read about spur's tables
# (ClickHouse shows each user only the rows of tables it may read).
_METADATA_GRANTS = tuple(
    f"GRANT SELECT ON system.{table}" for table in ("parts", "tables", "columns")
)

# The query that keeps the listeners open: a row every 0.2 s (so that it ends
# within 0.2 s of being killed: a store stops within 2 s), forever,
# discarded (without FORMAT Null the planner drops the sleep and spins).
SERVING_QUERY = (
    "SYSTEM START LISTEN TCP; "
    "SELECT sleepEachRow(0.2) FROM numbers(1000000000000000) "
    "SETTINGS max_block_size = 1 FORMAT Null"
)

# A reader's send that waits this long for its client to take the data fails,
# ending the read: a client that stopped reading (a pager left open) would
# otherwise hold its read past the limit until the read watch ends the
# engine (spur.dev.read_watch, 10 s past the limit: this must be less).
STALLED_SEND_SECONDS = 8

# Answered once the listeners are open.
READY_QUERY = "SELECT 1"

# Ends the serving query, and with it the listeners; the serving call runs
# with an empty user name (measured).
END_SERVING_QUERY = "KILL QUERY WHERE user = '' AND query LIKE '%sleepEachRow%' SYNC"


def _user(name: str, password: str, profile: str, grants: list[str]) -> str:
    digest = hashlib.sha256(password.encode()).hexdigest()
    grant_xml = "".join(f"<query>{escape(g)}</query>" for g in grants)
    return (
        f"<{name}><password_sha256_hex>{digest}</password_sha256_hex>"
        "<networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
        f"<profile>{profile}</profile><quota>default</quota>"
        f"<grants>{grant_xml}</grants></{name}>"
    )


def users_xml(creds: Credentials, limits: ReadLimits, databases: Sequence[str]) -> str:
    """Users, profiles and grants of the local store (see the module docstring).

    ClickHouse's wildcard grants cover whole databases only, so the readers'
    table grants name each database they may read (``databases``).
    """
    readers = [
        _user(
            name,
            creds.passwords[name],
            "readonly",
            [
                *(f"GRANT SELECT ON {db}.{table}" for db in databases for table in tables),
                *_METADATA_GRANTS,
            ],
        )
        for name, tables in _READ_GRANTS.items()
    ]
    users = [
        # The engine's own serving call; nothing else may be done as it.
        "<default><password></password><networks><ip>127.0.0.1</ip></networks>"
        "<profile>listener</profile><quota>default</quota><grants>"
        "<query>GRANT SYSTEM LISTEN ON *.*</query>"
        "<query>GRANT CREATE TEMPORARY TABLE ON *.*</query></grants></default>",
        _user(ADMIN, creds.passwords[ADMIN], "default", ["GRANT ALL ON *.* WITH GRANT OPTION"]),
        _user(
            WRITER,
            creds.passwords[WRITER],
            "default",
            # External tables (key lookups) need temporary tables.
            [
                *(f"GRANT ALL ON {db}.*" for db in databases),
                "GRANT CREATE TEMPORARY TABLE, TABLE ENGINE ON *.*",
                *_METADATA_GRANTS,
            ],
        ),
        *readers,
    ]
    # readonly=1: a reader can change no setting, so the limits of the profile
    # are final (readonly=2 would let a query loosen them). One exception, as
    # in deploy/clickhouse: max_execution_time may be lowered, never raised,
    # because the Grafana ClickHouse plugin sends it with every query.
    limit_xml = "".join(f"<{k}>{v}</{k}>" for k, v in limits.as_query_settings().items())
    constraints = (
        "<constraints><max_execution_time><min>1</min>"
        f"<max>{limits.max_execution_seconds}</max><changeable_in_readonly/>"
        "</max_execution_time></constraints>"
    )
    return (
        f"<clickhouse><profiles><default/>{_listener_profile(limits)}"
        # Computed columns (actions.ended_at) are in a reader's SELECT *.
        # Introspection (symbols and addresses of the server's code) is refused
        # by the guard; off here too (the engine's default has it on).
        "<readonly><readonly>1</readonly>"
        "<allow_introspection_functions>0</allow_introspection_functions>"
        f"<asterisk_include_alias_columns>1</asterisk_include_alias_columns>{limit_xml}"
        f"<send_timeout>{STALLED_SEND_SECONDS}</send_timeout>"
        f"{constraints}</readonly></profiles>"
        f"<users>{''.join(users)}</users><quotas><default/></quotas></clickhouse>"
    )


def _listener_profile(limits: ReadLimits) -> str:
    """The password-less account's: the readers' memory and concurrency limits, fixed.

    No time limit and no readonly: the engine's serving call takes this
    profile, runs forever and starts the listener (measured: with
    max_execution_time it ends, and the listener with it, when the time is
    up; readonly refuses SYSTEM START LISTEN).
    """
    settings = limits.as_query_settings()
    fixed = (
        "max_memory_usage", "max_memory_usage_for_user", "max_concurrent_queries_for_user",
        "max_parser_depth", "max_parser_backtracks",
    )  # fmt: skip
    return (
        "<listener>"
        + "".join(f"<{name}>{settings[name]}</{name}>" for name in fixed)
        + "<constraints>"
        + "".join(f"<{name}><readonly/></{name}>" for name in fixed)
        + "</constraints></listener>"
    )


PACKED_PART_BYTES = 16 * 1024 * 1024


def config_xml(port: int) -> str:
    return (
        "<clickhouse><listen_host>127.0.0.1</listen_host>"
        f"<tcp_port>{port}</tcp_port><users_config>users.xml</users_config>"
        "<logger><level>warning</level><console>1</console></logger>"
        # Needed by the readers' changeable_in_readonly constraint (users.xml).
        "<access_control_improvements><settings_constraints_replace_previous>true"
        "</settings_constraints_replace_previous></access_control_improvements>"
        # Parts under 16 MiB (uncompressed) are written as one file, not ten
        # (ClickHouse's packed part storage). Why: ext4 spends its time finding
        # a free inode for each new file (recently_deleted, with the files of
        # merged-away parts); measured with perf on the engine, file creation
        # was 40% of its CPU at 5,000 actions/s. With one file per part the
        # store's CPU per action fell from ~340 to ~210 µs at 500-action
        # batches (bench/README.md); at 20,000-action batches nothing changed.
        f"<merge_tree><min_bytes_for_full_part_storage>{PACKED_PART_BYTES}"
        "</min_bytes_for_full_part_storage></merge_tree>"
        "</clickhouse>"
    )
