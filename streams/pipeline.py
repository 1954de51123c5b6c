"""One batch of an input topic, from raw messages to stored rows and window states.

For actions, in this order (each step idempotent, so a crash anywhere and the
replay of the batch give the same end state):

1. validate (rejects become dead letters);
2. classify against the dedup index: new, replayed, duplicate, conflicting;
3. apply privacy rules (IP policy, consent for profiles) to the new ones;
4. insert the new actions, then record their ids in the dedup index (in this
   order: an id is never indexed before its row is stored);
5. fold new and replayed on-time actions into their hourly windows, reading
   the windows' current states from ``usage_hourly`` and writing one new
   state per window (``version`` = highest source offset folded);
6. return the window states to publish and the dead letters to send.

Blocking: every method blocks on the store; the worker calls them in a
thread (streams.consume for actions, the Faust agents for the rest). Store
failures are retried inside (sinks.writer semantics) and never skip a step.
Raises nothing for bad input.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from schemas.events import Action, Consent, FormSubmission, WebRequest
from schemas.located import Located
from schemas.validate import Rejection
from sinks.actions import action_columns
from sinks.columns import consent_columns, dead_letter_columns, form_columns, web_columns
from sinks.store import PROBE, Columns, Store, sql_string
from sinks.writer import retrying
from spur import metrics
from spur.settings import Settings
from spur.topics import Topic
from streams.batch import Message, reject, split
from streams.deadletter import DeadLetter
from streams.dedup import DedupResult, Seen, classify
from streams.privacy import ConsentDecision, ConsentLedger, apply_ip_policy, strip_query
from streams.usage import UsageState, WindowKey, fold_usage, minute_of, window_of

# A batch's windows are listed in the SQL text (its ids travel as a probe
# table); a long list exceeds ClickHouse's default 256 KiB query size.
LARGE_QUERY = " SETTINGS max_query_size = 67108864"


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
    minutes: set[dt.datetime] = field(default_factory=set)  # for capacity windows


class Pipeline:
    """The stateful parts of processing: the store, and each partition's watermark."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        # partition -> (last offset seen, newest started_at up to it)
        self._watermarks: dict[int, tuple[int, dt.datetime | None]] = {}
        self._lateness = dt.timedelta(hours=settings.allowed_lateness_hours)
        # The current state of recently changed windows, by (partition, window).
        # Valid while this worker owns the partition: nobody else writes its
        # windows then. Dropped when a partition is (re)assigned.
        self._windows: OrderedDict[tuple[int, WindowKey], UsageState] = OrderedDict()
        self._lock = threading.Lock()
        # Set when the worker stops: store retries give up (the batch stays unacknowledged).
        self.stopping = threading.Event()

    def forget_partitions(self, partitions: Iterable[int]) -> None:
        """Drop cached state of partitions that another worker may have written."""
        dropped = set(partitions)
        with self._lock:
            for cached in [key for key in self._windows if key[0] in dropped]:
                del self._windows[cached]
            for partition in dropped:
                self._watermarks.pop(partition, None)

    # -- store access (retried) ---------------------------------------------------

    def _query(self, sql: str, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = retrying(
            self.store.query,
            sql,
            keys,
            max_backoff=self.settings.insert_retry_max_seconds,
            stop=self.stopping,
        )
        return rows

    def _insert(self, table: str, columns: Columns) -> None:
        if any(len(values) for values in columns.values()):
            retrying(
                self.store.insert, table, columns,
                max_backoff=self.settings.insert_retry_max_seconds, stop=self.stopping,
            )  # fmt: skip

    def store_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            metrics.REJECTED.labels(letter.topic, letter.reason).inc()
        self._insert("dead_letters", dead_letter_columns(letters))

    # -- actions --------------------------------------------------------------------

    def process_actions(self, messages: Sequence[Message], now: dt.datetime) -> ActionsOutcome:
        started = time.perf_counter()
        outcome = ActionsOutcome()
        valid = split(messages, Action, now, self.settings.time_limits(Action))
        outcome.dead_letters.extend(valid.rejected)
        dedup = classify(valid.accepted, self._dedup_index(valid.accepted))
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
        metrics.DUPLICATES.inc(len(dedup.duplicates))

        on_time = self._on_time(dedup)
        new = self._with_privacy(dedup.new)
        rows = action_columns(new)
        self._insert("actions", rows)
        self._insert(
            "action_ids", _id_columns(rows, [dedup.hashes[i.event.action_id] for i in new])
        )

        keys = [window_of(item) for item in on_time]
        windows = {(item.partition, key) for item, key in zip(on_time, keys, strict=True)}
        states = self._window_states(windows)
        changed = fold_usage(states, on_time, keys)
        self._insert("usage_hourly", _usage_columns(changed, now))
        self._remember(windows, changed)
        # Every window the batch touched is published, changed or not: a replay
        # after a crash finds its windows folded already, but their states may
        # never have reached the topic before the crash.
        current = {**states, **changed}
        touched = sorted({key for _partition, key in windows if key in current})
        outcome.usage = [_usage_message(key, current[key]) for key in touched]
        outcome.minutes = {minute_of(item.event.started_at) for item in on_time}
        self.store_dead_letters(outcome.dead_letters)

        metrics.EVENTS_IN.labels(Topic.ACTIONS).inc(len(messages))
        metrics.WINDOW_UPDATES.inc(len(changed))
        metrics.BATCH_SECONDS.labels(Topic.ACTIONS).observe(time.perf_counter() - started)
        return outcome

    def _dedup_index(self, items: Sequence[Located[Action]]) -> dict[uuid.UUID, Seen]:
        if not items:
            return {}
        rows = self._query(
            f"SELECT action_id, content_hash, partition, offset "
            f"FROM {self.store.database}.action_ids "
            f"WHERE action_id IN (SELECT toUUID(key) FROM {PROBE})",
            [str(item.event.action_id) for item in items],
        )
        # Without FINAL (a tenth of the cost): an id can be indexed twice only
        # at the same position (a replay), so any of its rows says the same;
        # the earliest position is taken to be deterministic regardless.
        index: dict[uuid.UUID, Seen] = {}
        for row in sorted(rows, key=lambda r: (int(r["partition"]), int(r["offset"]))):
            index.setdefault(
                uuid.UUID(str(row["action_id"])),
                Seen(int(row["content_hash"]), int(row["partition"]), int(row["offset"])),
            )
        return index

    def _on_time(self, dedup: DedupResult) -> list[Located[Action]]:
        """New and replayed actions within the allowed lateness; the rest only counted.

        Lateness is event time: behind the newest ``started_at`` seen on the
        partition by more than the allowed lateness.
        """
        on_time = []
        late = 0
        for item in sorted(dedup.to_fold, key=lambda i: (i.partition, i.offset)):
            mark = self._watermark(item.partition, item.offset)
            started = item.event.started_at
            is_late = mark is not None and started < mark - self._lateness
            if mark is None or started > mark:
                mark = started
            self._watermarks[item.partition] = (item.offset, mark)
            if is_late:
                late += 1
            else:
                on_time.append(item)
        metrics.LATE_EVENTS.inc(late)
        for partition, (_offset, newest) in list(self._watermarks.items()):
            if newest is not None:
                metrics.EVENT_TIME_LAG.labels(str(partition)).set(
                    (dt.datetime.now(dt.UTC) - newest).total_seconds()
                )
        return on_time

    def _watermark(self, partition: int, offset: int) -> dt.datetime | None:
        """The newest ``started_at`` among the partition's actions before ``offset``.

        Kept in memory while offsets advance. At a start, or when the consumer
        rewinds (a replay), it is read from the stored actions *before that
        offset*, so a replayed action is judged exactly as the first time.
        """
        last = self._watermarks.get(partition)
        if last is not None and offset > last[0]:
            return last[1]
        rows = self._query(
            f"SELECT max(started_at) AS newest, count() AS n "
            f"FROM {self.store.database}.actions "
            f"WHERE kafka_partition = {int(partition)} AND kafka_offset < {int(offset)}"
        )
        return _parse_ts(rows[0]["newest"]) if rows and int(rows[0]["n"]) > 0 else None

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
        metrics.DROPPED_PROFILES.inc(dropped_profiles)
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
                ConsentDecision(_parse_ts(row["ts"]), bool(row["granted"]))
            )
        return ConsentLedger(decisions)

    def _window_states(self, windows: set[tuple[int, WindowKey]]) -> dict[WindowKey, UsageState]:
        """Current states of ``windows``: from the cache, else from ``usage_hourly``."""
        states: dict[WindowKey, UsageState] = {}
        missing: set[WindowKey] = set()
        with self._lock:
            for cached in windows:
                state = self._windows.get(cached)
                if state is None:
                    missing.add(cached[1])
                else:
                    states[cached[1]] = state
        if missing:
            states.update(self._stored_states(missing))
        return states

    def _remember(
        self, windows: set[tuple[int, WindowKey]], changed: dict[WindowKey, UsageState]
    ) -> None:
        with self._lock:
            for partition, key in windows:
                if key in changed:
                    self._windows[(partition, key)] = changed[key]
                    self._windows.move_to_end((partition, key))
            while len(self._windows) > self.settings.window_cache_size:
                self._windows.popitem(last=False)

    def _stored_states(self, windows: set[WindowKey]) -> dict[WindowKey, UsageState]:
        customers = ",".join(str(c) for c in sorted({w.customer_id for w in windows}))
        first, last = min(w.hour for w in windows), max(w.hour for w in windows)
        rows = self._query(
            f"SELECT customer_id, toUnixTimestamp(hour) AS hour, bytes_in, bytes_out, actions, "
            f"error_actions, duration_ms, version "
            f"FROM {self.store.database}.usage_hourly FINAL "
            f"WHERE customer_id IN ({customers}) "
            f"AND hour >= {_sql_time(first)} AND hour <= {_sql_time(last)}{LARGE_QUERY}"
        )
        found = {}
        for r in rows:
            key = WindowKey(
                int(r["customer_id"]), dt.datetime.fromtimestamp(int(r["hour"]), dt.UTC)
            )
            if key in windows:
                found[key] = UsageState(
                    bytes_in=int(r["bytes_in"]),
                    bytes_out=int(r["bytes_out"]),
                    actions=int(r["actions"]),
                    error_actions=int(r["error_actions"]),
                    duration_ms=int(r["duration_ms"]),
                    version=int(r["version"]),
                )
        return found

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
        metrics.EVENTS_IN.labels(Topic.WEB).inc(len(messages))
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
        metrics.EVENTS_IN.labels(Topic.FORMS).inc(len(messages))
        return valid.rejected

    def process_consent(self, messages: Sequence[Message], now: dt.datetime) -> list[DeadLetter]:
        valid = split(messages, Consent, now, self.settings.time_limits(Consent))
        self._insert("consent_log", consent_columns([item.event for item in valid.accepted]))
        self.store_dead_letters(valid.rejected)
        metrics.EVENTS_IN.labels(Topic.CONSENT).inc(len(messages))
        return valid.rejected


def _parse_ts(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC)


def _sql_time(instant: dt.datetime) -> str:
    return f"toDateTime({int(instant.timestamp())}, 'UTC')"


def _id_columns(actions: Columns, hashes: list[int]) -> dict[str, Sequence[Any]]:
    """The dedup index rows of the stored ``actions`` columns (ids already as text)."""
    return {
        "action_id": actions["action_id"],
        "content_hash": hashes,
        "partition": actions["kafka_partition"],
        "offset": actions["kafka_offset"],
        "customer_id": actions["customer_id"],
    }


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
