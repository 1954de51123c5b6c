"""One batch of an input topic, from raw messages to stored rows and window states.

For actions, in this order:

1. validate (rejects become dead letters);
2. classify against the dedup index, by action id and content hash (never
   by Kafka offset): new, duplicate (counted already), conflicting;
3. apply privacy rules (IP policy, consent for profiles) to the new ones;
4. insert the new actions' raw rows into ``actions``;
5. fold: ONE insert of the new actions into ``action_folds`` (a Null table),
   whose materialized views write the dedup index ``action_ids``, the hourly
   sums ``usage_sums`` and the per-minute capacity states from that same
   block, with a deterministic insert deduplication token;
6. read the states of every window the batch's accepted actions (new and
   duplicates) touch, by exact key, from ``usage_sums``; write them to
   ``usage_hourly`` (``version`` = inserts folded into the window);
7. return those window states and the touched capacity minutes to publish,
   and the dead letters to send.

Why exactly once, whatever the order, lateness, crash or replay point: an
action is counted iff its id is in the index, and the index row and the
action's contributions to its hour and its minute are written by one
statement (step 5). A crash before it leaves the action uncounted, and the
replay finds its id missing and folds it (its raw row, possibly written
twice, collapses in the ReplacingMergeTree). A crash after it leaves the
action counted: the replay finds the id, classifies it as a duplicate and
folds nothing, but still rewrites and republishes its window (steps 6-7),
in case the crash came before those. A retry of step 5 itself (a store
error after the server applied it) carries the same token, derived from
the new ids alone, and lands once in every target. Nothing depends on
offsets, on arrival order or on how the replay cuts its batches, so a
recreated topic's actions at reused offsets are simply new. Lateness (event
time behind the partition's newest) is only measured. Residual risk: a
server failing *between* the views of one statement, followed by a worker
crash before the statement is retried; ``spur reconcile`` reports such a
window and ``--repair`` rebuilds it from the raw actions.

Blocking: every method blocks on the store; the worker calls them in a
thread (spur.worker.consume for actions, the Faust agents for the rest). Store
failures are retried inside (sinks.writer semantics) and never skip a step.
Raises nothing for bad input.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import xxhash

from schemas.events import Action, Consent, FormSubmission, WebRequest
from schemas.located import Located
from schemas.metrics import (
    BATCH_SECONDS,
    DROPPED_PROFILES,
    DUPLICATES,
    ERASED_DROPPED,
    EVENT_TIME_LAG,
    EVENTS_IN,
    LATE_EVENTS,
    NO_METRICS,
    REJECTED,
    WINDOW_UPDATES,
    Metrics,
)
from schemas.topics import Topic
from schemas.validate import Rejection
from sinks import erasure
from sinks.actions import action_columns
from sinks.columns import consent_columns, dead_letter_columns, form_columns, web_columns
from sinks.erasure import Tombstones, login_key, read_tombstones
from sinks.store import PROBE, Columns, Store, as_utc, sql_string
from sinks.writer import retrying
from spur.settings import Settings
from streams.batch import Message, reject, split
from streams.capacity import CapacityKey
from streams.deadletter import DeadLetter
from streams.dedup import UNKNOWN_HASH, classify
from streams.privacy import ConsentDecision, ConsentLedger, apply_ip_policy, strip_query
from streams.usage import UsageState, WindowKey, minute_of, window_of


class UsageMessage(msgspec.Struct, frozen=True):
    """A window state on ``spur.usage.v1`` (key ``customer_id:hour``)."""

    customer_id: int
    hour: dt.datetime
    bytes_in: int
    bytes_out: int
    actions: int
    error_actions: int
    duration_ms: int
    version: int

    @property
    def key(self) -> bytes:
        return f"{self.customer_id}:{self.hour.isoformat()}".encode()


@dataclass
class ActionsOutcome:
    usage: list[UsageMessage] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    # The (action, minute) capacity windows the batch touched, to refresh.
    capacity: set[CapacityKey] = field(default_factory=set)


class Pipeline:
    """The stateful parts of processing: the store, and each partition's newest event time."""

    def __init__(self, store: Store, settings: Settings, metrics: Metrics = NO_METRICS) -> None:
        self.store = store
        self.metrics = metrics
        self.settings = settings
        # partition -> newest started_at among its new actions: the lateness
        # metric only (never a reason to fold or not; kept in memory).
        self._newest: dict[int, dt.datetime] = {}
        self._lateness = dt.timedelta(hours=settings.allowed_lateness_hours)
        self._lock = threading.Lock()
        # Set when the worker stops: store retries give up (the batch stays unacknowledged).
        self.stopping = threading.Event()

    def forget_partitions(self, partitions: Iterable[int]) -> None:
        """Drop what this worker measured about partitions another worker may have read."""
        with self._lock:
            for partition in partitions:
                self._newest.pop(partition, None)

    # -- store access (retried) ---------------------------------------------------

    def _query(self, sql: str, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = retrying(
            self.store.query,
            sql,
            keys,
            max_backoff=self.settings.insert_retry_max_seconds,
            stop=self.stopping,
            metrics=self.metrics,
        )
        return rows

    def _insert(self, table: str, columns: Columns, dedup_token: str | None = None) -> None:
        if any(len(values) for values in columns.values()):
            insert = functools.partial(self.store.insert, dedup_token=dedup_token)
            retrying(
                insert, table, columns,
                max_backoff=self.settings.insert_retry_max_seconds, stop=self.stopping,
                metrics=self.metrics,
            )  # fmt: skip

    def store_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            self.metrics.inc(REJECTED, topic=letter.topic, reason=letter.reason)
        self._insert("dead_letters", dead_letter_columns(letters))

    # -- actions --------------------------------------------------------------------

    def process_actions(self, messages: Sequence[Message], now: dt.datetime) -> ActionsOutcome:
        started = time.perf_counter()
        outcome = ActionsOutcome()
        erased = self._tombstones()
        valid = split(messages, Action, now, self.settings.time_limits(Action))
        outcome.dead_letters.extend(valid.rejected)
        accepted = self._without_erased_customers(valid.accepted, erased)
        dedup = classify(accepted, self._dedup_index(accepted))
        by_position = {(m.partition, m.offset): m for m in messages}
        for item in dedup.conflicts:
            rejection = Rejection(
                "conflicting_duplicate",
                f"action_id {item.event.action_id} was seen before with different content; "
                "the first copy stands",
                "action_id",
            )
            message = by_position[(item.partition, item.offset)]
            outcome.dead_letters.append(reject(message, rejection, Action, now))
        self.metrics.inc(DUPLICATES, len(dedup.duplicates))
        self._measure_lateness(dedup.new)

        new = self._with_privacy(dedup.new)
        rows = action_columns(new)
        self._insert("actions", rows if not erased.logins else _raw_kept(new, erased))
        # The fold: after the raw rows (an id is never indexed before its row
        # is stored), one statement for index, hours and minutes.
        hashes = [dedup.hashes[item.event.action_id] for item in new]
        self._insert("action_folds", fold_columns(rows, hashes), fold_token(rows))

        # Every window the batch's accepted actions touch is rewritten and
        # published, changed or not: a replay after a crash finds its actions
        # counted already, but their states may never have reached
        # usage_hourly or the topic before the crash.
        accepted = dedup.accepted
        windows = {window_of(item) for item in accepted}
        states = self._window_states(windows)
        self._insert("usage_hourly", _usage_columns(states, now))
        outcome.usage = [_usage_message(key, states[key]) for key in sorted(states)]
        outcome.capacity = {
            CapacityKey(item.event.action, minute_of(item.event.started_at)) for item in accepted
        }
        outcome.dead_letters = self._without_erased_letters(outcome.dead_letters, erased)
        self.store_dead_letters(outcome.dead_letters)
        self._delete_what_raced_an_erasure(erased, accepted)

        self.metrics.inc(EVENTS_IN, len(messages), topic=Topic.ACTIONS)
        self.metrics.inc(WINDOW_UPDATES, len(states))
        self.metrics.observe(BATCH_SECONDS, time.perf_counter() - started, topic=Topic.ACTIONS)
        return outcome

    # -- erasure is final (sinks.erasure) ----------------------------------------------

    def _tombstones(self) -> Tombstones:
        return retrying(
            read_tombstones, self.store,
            max_backoff=self.settings.insert_retry_max_seconds, stop=self.stopping,
            metrics=self.metrics,
        )  # fmt: skip

    def _without_erased_customers(
        self, items: list[Located[Action]], erased: Tombstones
    ) -> list[Located[Action]]:
        """Drop (and count) actions of erased customers from before their erasure:
        a replay, a client's re-sent spool or a late arrival must not bring them back."""
        if not erased.customers:
            return items
        kept = [
            item
            for item in items
            if not erased.customer_erased_before(item.event.customer_id, item.event.started_at)
        ]
        self.metrics.inc(ERASED_DROPPED, len(items) - len(kept))
        return kept

    def _without_erased_letters(
        self, letters: list[DeadLetter], erased: Tombstones
    ) -> list[DeadLetter]:
        """Drop (and count) rejects of erased subjects: their originals hold the
        subject's data, which a replay or re-send must not bring back either."""
        if not (erased.customers or erased.logins) or not letters:
            return letters
        kept = [letter for letter in letters if not _of_erased_subject(letter, erased)]
        self.metrics.inc(ERASED_DROPPED, len(letters) - len(kept))
        return kept

    def _delete_what_raced_an_erasure(
        self, before: Tombstones, accepted: Sequence[Located[Action]]
    ) -> None:
        """Subjects erased while this batch ran: delete their rows once more."""
        after = self._tombstones()
        if after.ids <= before.ids:
            return
        customers = {item.event.customer_id for item in accepted}
        for customer, at in after.customers.items():
            if customer in customers and before.customers.get(customer) != at:
                retrying(erasure.delete_again, self.store, "customer", str(customer))
        fresh_keys = {key for key, at in after.logins.items() if before.logins.get(key) != at}
        for login in {item.event.login for item in accepted}:
            if fresh_keys and login_key(after.key, login) in fresh_keys:
                retrying(erasure.delete_again, self.store, "login", login)

    def _dedup_index(self, items: Sequence[Located[Action]]) -> dict[uuid.UUID, int]:
        """Content hash of every id of ``items`` already counted (a primary-key lookup)."""
        if not items:
            return {}
        rows = self._query(
            f"SELECT action_id, content_hash FROM {self.store.database}.action_ids "
            f"WHERE action_id IN (SELECT toUUID(key) FROM {PROBE})",
            [str(item.event.action_id) for item in items],
        )
        # Without FINAL (a tenth of the cost): an id is indexed more than once
        # only by a retried fold of the same content, or by the 0006 upgrade
        # (hash unknown); the unknown hash is taken if present, as it is the
        # one that accepts any repeat as a duplicate.
        index: dict[uuid.UUID, int] = {}
        for row in rows:
            action_id = uuid.UUID(str(row["action_id"]))
            digest = int(row["content_hash"])
            if index.get(action_id) != UNKNOWN_HASH:
                index[action_id] = digest
        return index

    def _measure_lateness(self, items: Sequence[Located[Action]]) -> None:
        """Count actions behind their partition's newest event time (a metric, no effect).

        Only new actions move the mark, and only in this worker's memory; an
        action from the future is a dead letter before it gets here.
        """
        late = 0
        with self._lock:
            for item in sorted(items, key=lambda i: (i.partition, i.offset)):
                newest = self._newest.get(item.partition)
                started = item.event.started_at
                if newest is not None and started < newest - self._lateness:
                    late += 1
                if newest is None or started > newest:
                    self._newest[item.partition] = started
            marks = list(self._newest.items())
        self.metrics.inc(LATE_EVENTS, late)
        wall = dt.datetime.now(dt.UTC)
        for partition, newest in marks:
            self.metrics.set(
                EVENT_TIME_LAG, (wall - newest).total_seconds(), partition=str(partition)
            )

    def _with_privacy(self, items: list[Located[Action]]) -> list[Located[Action]]:
        policy = self.settings.actions_ip_policy
        with_profile = [item for item in items if item.event.profile is not None]
        ledger = self._consent_ledger({item.event.login for item in with_profile})
        if policy == "full" and not with_profile:
            return items
        kept = []
        dropped_profiles = 0
        for item in items:
            event = item.event
            changes: dict[str, Any] = {}
            if policy != "full":
                changes["client_ip"] = apply_ip_policy(event.client_ip, policy)
            if event.profile is not None and not ledger.granted_at(event.login, event.started_at):
                changes["profile"] = None
                dropped_profiles += 1
            if changes:
                event = msgspec.structs.replace(event, **changes)
                kept.append(Located(event, item.partition, item.offset))
            else:
                kept.append(item)
        self.metrics.inc(DROPPED_PROFILES, dropped_profiles)
        return kept

    def _consent_ledger(self, logins: set[str]) -> ConsentLedger:
        if not logins:
            return ConsentLedger({})
        quoted = ",".join(sql_string(login) for login in sorted(logins))
        rows = self._query(
            f"SELECT login, ts, granted FROM {self.store.database}.consent_log FINAL "
            f"WHERE purpose = 'extended_processing' AND login IN ({quoted})"
        )
        decisions: dict[str, list[ConsentDecision]] = {}
        for row in rows:
            decisions.setdefault(row["login"], []).append(
                ConsentDecision(as_utc(row["ts"]), bool(row["granted"]))
            )
        return ConsentLedger(decisions)

    def _window_states(self, windows: set[WindowKey]) -> dict[WindowKey, UsageState]:
        """Current states of ``windows`` from ``usage_sums``, by exact key, in one query."""
        if not windows:
            return {}
        rows = self._query(
            f"SELECT customer_id, toUnixTimestamp(hour) AS hour, sum(bytes_in) AS bytes_in, "
            f"sum(bytes_out) AS bytes_out, sum(actions) AS actions, "
            f"sum(error_actions) AS error_actions, sum(duration_ms) AS duration_ms, "
            f"sum(updates) AS updates "
            f"FROM {self.store.database}.usage_sums "
            f"WHERE (customer_id, hour) IN (SELECT toUInt32(splitByChar(':', key)[1]), "
            f"toDateTime(toUInt32(splitByChar(':', key)[2]), 'UTC') FROM {PROBE}) "
            f"GROUP BY customer_id, hour",
            [f"{w.customer_id}:{int(w.hour.timestamp())}" for w in windows],
        )
        return {
            WindowKey(int(r["customer_id"]), dt.datetime.fromtimestamp(int(r["hour"]), dt.UTC)): (
                UsageState(
                    bytes_in=int(r["bytes_in"]),
                    bytes_out=int(r["bytes_out"]),
                    actions=int(r["actions"]),
                    error_actions=int(r["error_actions"]),
                    duration_ms=int(r["duration_ms"]),
                    version=int(r["updates"]),
                )
            )
            for r in rows
        }

    # -- web requests, forms, consent ---------------------------------------------

    def process_web(self, messages: Sequence[Message], now: dt.datetime) -> list[DeadLetter]:
        valid = split(messages, WebRequest, now, self.settings.time_limits(WebRequest))
        policy = self.settings.web_ip_policy
        events = [
            msgspec.structs.replace(
                item.event,
                path=strip_query(item.event.path),
                client_ip=apply_ip_policy(item.event.client_ip, policy),
            )
            for item in valid.accepted
        ]
        self._insert("web_requests", web_columns(events))
        self.store_dead_letters(valid.rejected)
        self.metrics.inc(EVENTS_IN, len(messages), topic=Topic.WEB)
        return valid.rejected

    def process_forms(self, messages: Sequence[Message], now: dt.datetime) -> list[DeadLetter]:
        valid = split(messages, FormSubmission, now, self.settings.time_limits(FormSubmission))
        policy = self.settings.forms_ip_policy
        events = [
            msgspec.structs.replace(
                item.event, client_ip=apply_ip_policy(item.event.client_ip, policy)
            )
            for item in valid.accepted
        ]
        self._insert("form_submissions", form_columns(events))
        self.store_dead_letters(valid.rejected)
        self.metrics.inc(EVENTS_IN, len(messages), topic=Topic.FORMS)
        return valid.rejected

    def process_consent(self, messages: Sequence[Message], now: dt.datetime) -> list[DeadLetter]:
        # An empty value is a tombstone of the compacted ledger (spur erase
        # writes them): the end of a login's entries, not a malformed event.
        events = [m for m in messages if m.value]
        erased = self._tombstones()
        valid = split(events, Consent, now, self.settings.time_limits(Consent))
        kept = [
            item.event
            for item in valid.accepted
            if not erased.customer_erased_before(item.event.customer_id, item.event.ts)
            and not erased.login_erased_before(item.event.login, item.event.ts)
        ]
        self._insert("consent_log", consent_columns(kept))
        letters = self._without_erased_letters(valid.rejected, erased)
        self.store_dead_letters(letters)
        self.metrics.inc(EVENTS_IN, len(messages), topic=Topic.CONSENT)
        return letters


def _of_erased_subject(letter: DeadLetter, erased: Tombstones) -> bool:
    """Whether a reject's original names an erased customer or login (from before
    the erasure, or of unknown time: an unparseable time cannot prove it later)."""
    try:
        original = msgspec.json.decode(base64.b64decode(letter.original_b64))
    except Exception:  # not JSON at all: it names no subject
        return False
    if not isinstance(original, dict):
        return False
    when = _event_time(original)
    customer = original.get("customer_id")
    if isinstance(customer, int) and customer in erased.customers:
        return when is None or when < erased.customers[customer]
    login = original.get("login")
    if isinstance(login, str) and erased.logins:
        at = erased.logins.get(login_key(erased.key, login))
        return at is not None and (when is None or when < at)
    return False


def _event_time(original: dict[str, Any]) -> dt.datetime | None:
    value = original.get("started_at", original.get("ts"))
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _raw_kept(new: Sequence[Located[Action]], erased: Tombstones) -> Columns:
    """Raw rows of the new actions, without those of logins erased after they started
    (they are still billed: a login's erasure leaves the customer's invoice alone)."""
    return action_columns(
        [i for i in new if not erased.login_erased_before(i.event.login, i.event.started_at)]
    )


_FOLDED = (
    "action_id", "customer_id", "started_at", "ended_at", "action", "bytes_in", "bytes_out",
    "status",
)  # fmt: skip


def fold_columns(actions: Columns, hashes: list[int]) -> dict[str, Sequence[Any]]:
    """The ``action_folds`` rows of the stored ``actions`` columns (same lists, no copy)."""
    return {
        **{name: actions[name] for name in _FOLDED},
        "content_hash": hashes,
        "partition": actions["kafka_partition"],
        "offset": actions["kafka_offset"],
    }


def fold_token(actions: Columns) -> str:
    """The fold's insert deduplication token: a function of its action ids alone.

    A retry of the same fold has the same new ids, so the same token; another
    fold has other ids (an id is folded once), so another token.
    """
    return "fold:" + xxhash.xxh3_128_hexdigest("\n".join(actions["action_id"]))


def _usage_columns(changed: dict[WindowKey, UsageState], now: dt.datetime) -> dict[str, list[Any]]:
    keys = sorted(changed)
    return {
        "customer_id": [k.customer_id for k in keys],
        "hour": [k.hour for k in keys],
        "bytes_in": [changed[k].bytes_in for k in keys],
        "bytes_out": [changed[k].bytes_out for k in keys],
        "actions": [changed[k].actions for k in keys],
        "error_actions": [changed[k].error_actions for k in keys],
        "duration_ms": [changed[k].duration_ms for k in keys],
        "version": [changed[k].version for k in keys],
        "updated_at": [now for _ in keys],
    }


def _usage_message(key: WindowKey, state: UsageState) -> UsageMessage:
    return UsageMessage(
        customer_id=key.customer_id,
        hour=key.hour,
        bytes_in=state.bytes_in,
        bytes_out=state.bytes_out,
        actions=state.actions,
        error_actions=state.error_actions,
        duration_ms=state.duration_ms,
        version=state.version,
    )
