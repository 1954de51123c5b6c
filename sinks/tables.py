"""Every table of spur's database, once: its name, its retention, how a subject is erased.

The DDL (``schemas/ddl``) creates the tables; this registry is what the code
knows about them, and the one place outside SQL that names them. It is read
by the migrations (the retention days compiled into the TTLs; a test checks
that the DDL creates exactly these tables), by ``spur retention`` (which
column ages, against which policy), by erasure (which rows reference a
subject) and by export (the same rows, so that erase and export never
disagree about what "all their data" is).

Pure data, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

# The customer an erased customer's kept action ids are unlinked to: no customer id is 0.
UNLINKED_CUSTOMER = 0

SubjectKind = Literal["customer", "login"]
# The read-only roles (deploy/clickhouse/users.d/spur.xml; the local store's users).
Reader = Literal["billing", "ops", "engineer"]
# Whose retention days a TTL uses; the DDL's variable is ``$<policy>_retention_days``.
Policy = Literal["actions", "web", "forms", "dead_letter", "capacity"]
POLICIES: tuple[Policy, ...] = ("actions", "web", "forms", "dead_letter", "capacity")


@dataclass(frozen=True)
class Retention:
    """Days per retention policy (the settings' ``SPUR_*_RETENTION_DAYS``)."""

    actions: int = 365
    web: int = 92
    forms: int = 92
    dead_letter: int = 14
    capacity: int = 730

    def days(self, policy: Policy) -> int:
        return int(getattr(self, policy))

    def template_values(self) -> dict[str, int]:
        """The DDL's ``$<policy>_retention_days`` variables."""
        return {f"{policy}_retention_days": self.days(policy) for policy in POLICIES}


@dataclass(frozen=True)
class Kept:
    """How long a table keeps its rows: ``column``'s age against ``policy``'s days.

    ``policy`` None: no TTL, rows are kept until an erasure (``why`` says why).
    """

    column: str
    policy: Policy | None
    why: str


# The condition selecting a subject's rows of a table: `{v}` is the SQL value.
_CUSTOMER = "customer_id = {v}"
_LOGIN = "login = {v}"


@dataclass(frozen=True)
class Table:
    name: str
    # None: nothing of its own to age (views, an engine that stores nothing, bookkeeping).
    kept: Kept | None = None
    # Per subject kind, the rows that reference the subject; absent: none do.
    subject_rows: Mapping[SubjectKind, str] = field(default_factory=dict)
    # Per subject kind, the assignment that unlinks a row from the subject: an
    # erasure keeps such rows, without the reference, instead of deleting them.
    unlinked_by: Mapping[SubjectKind, str] = field(default_factory=dict)
    # Plain MergeTree (append-only, every row distinct): FINAL is refused on it.
    append_only: bool = False
    # The read-only roles granted SELECT on it (least privilege).
    readers: frozenset[Reader] = frozenset()
    # Columns that hold a stored form of another, computed one (actions'
    # action_id halves): left out where rows are shown, e.g. in exports.
    stored_forms: tuple[str, ...] = ()


_THE_YEAR = "clause 3.4"
_ALL_READERS: frozenset[Reader] = frozenset({"billing", "ops", "engineer"})

# In the order `spur retention` lists them.
TABLES: tuple[Table, ...] = (
    Table(
        "actions",
        Kept("started_at", "actions", _THE_YEAR),
        {"customer": _CUSTOMER, "login": _LOGIN},
        readers=frozenset({"engineer"}),
        stored_forms=("action_id_high", "action_id_low"),
    ),
    Table(
        "usage_hourly",
        Kept("hour", "actions", _THE_YEAR),
        {"customer": _CUSTOMER},
        readers=_ALL_READERS,
    ),
    # Closed invoice totals: immutable for spur's commands, not for the subject.
    Table(
        "billing_periods",
        Kept("period_start", "actions", _THE_YEAR),
        {"customer": _CUSTOMER},
        append_only=True,
        readers=frozenset({"billing"}),
    ),
    # An erasure keeps the action ids (random, no personal data once the raw
    # rows are gone): a re-sent copy of an erased action is then a duplicate,
    # and `spur reconcile` can tell the aggregates' erased actions (which keep
    # counting: billing, capacity) from lost ones. A customer's erasure unlinks
    # them from the customer (customer 0, which no customer id can be).
    Table(
        "action_ids",
        Kept("started_at", "actions", _THE_YEAR),
        {"customer": _CUSTOMER},
        unlinked_by={"customer": f"customer_id = {UNLINKED_CUSTOMER}"},
    ),
    Table("usage_sums", Kept("hour", "actions", _THE_YEAR), {"customer": _CUSTOMER}),
    # Billing sums a month's edge quarter hours from here (zones like Asia/Kolkata).
    Table(
        "usage_quarters",
        Kept("quarter", "actions", _THE_YEAR),
        {"customer": _CUSTOMER},
        readers=frozenset({"billing"}),
    ),
    Table(
        "erased_subjects",
        Kept(
            "erased_at", "actions", "erasure tombstones, as long as earlier data could be accepted"
        ),
    ),
    Table("web_requests", Kept("ts", "web", "clause 3.1"), readers=frozenset({"engineer"})),
    Table("form_submissions", Kept("ts", "forms", "clause 3.3"), readers=frozenset({"engineer"})),
    # Dead letters hold raw (redacted) originals, so the subject is found in them.
    Table(
        "dead_letters",
        Kept("at", "dead_letter", "debugging"),
        {
            "customer": "JSONExtractUInt(original, 'customer_id') = {v}",
            "login": "JSONExtractString(original, 'login') = {v}",
        },
        readers=frozenset({"ops", "engineer"}),
    ),
    Table(
        "capacity_minutely",
        Kept("minute", "capacity", "no personal data"),
        readers=frozenset({"ops", "engineer"}),
    ),
    Table("capacity_states", Kept("minute", "capacity", "no personal data")),
    Table(
        "consent_log",
        Kept("ts", None, "proof of consent (clause 3.6), until erasure"),
        {"customer": _CUSTOMER, "login": _LOGIN},
    ),
    Table(
        "erasure_log",
        Kept("erased_at", None, "audit of erasures, salted hashes only"),
        append_only=True,
    ),
    # Folds pass through (ENGINE = Null) into the views below; nothing is stored.
    Table("action_folds"),
    Table("action_folds_to_ids"),
    Table("action_folds_to_usage"),
    Table("action_folds_to_capacity"),
    Table("action_folds_to_quarters"),
    # The key of login tombstones (one row, made by migration 0007).
    Table("erasure_keys", append_only=True),
    # Which migrations are applied (created by spur_sinks.migrate itself).
    Table("schema_migrations"),
)

BY_NAME: Mapping[str, Table] = {table.name: table for table in TABLES}


def table(name: str) -> Table:
    """The registry's entry; KeyError for a name the registry does not know."""
    return BY_NAME[name]


def kept_tables() -> list[Table]:
    """The tables whose rows age (``spur retention``), in the registry's order."""
    return [t for t in TABLES if t.kept is not None]


def readable_by(reader: Reader) -> tuple[str, ...]:
    """The tables the read-only role ``reader`` may SELECT from."""
    return tuple(t.name for t in TABLES if reader in t.readers)


def subject_tables(kind: SubjectKind) -> list[Table]:
    """The tables with rows that reference a subject of ``kind``."""
    return [t for t in TABLES if kind in t.subject_rows]
