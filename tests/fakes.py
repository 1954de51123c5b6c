"""In-memory fakes of the batch's interfaces (spur_streams.steps), for broker- and store-free tests.

:class:`MemoryStore` implements every store-side interface at once
(DedupIndex, WindowStore, CapacityStore, ConsentSource, RawEventsSink,
ErasureLog) the way the ClickHouse sinks do, and records the order of its
writes; tests/sinks/test_interfaces_contract.py proves it behaves like them.
:class:`RecordingMetrics` records every measurement.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from spur_schemas.events import Action, Consent, FormSubmission, WebRequest
from spur_schemas.located import Located
from spur_schemas.messages import CapacityMessage, DeadLetter
from spur_schemas.metrics import Metric
from spur_schemas.validate import TimeLimits
from spur_streams.batch import Batch
from spur_streams.dedup import UNKNOWN_HASH
from spur_streams.privacy import ConsentDecision, ConsentLedger, IpPolicy
from spur_streams.steps.erasure import SubjectKind, Tombstones, login_key
from spur_streams.usage import CapacityKey, UsageState, WindowKey
from spur_streams.wiring import Rules, wire_batch
from tests.window_keys import minute_of, window_of

ERASURE_KEY = b"fake erasure key"
R = TypeVar("R")
EMPTY = UsageState(0, 0, 0, 0, 0, 0)


def _ms(instant: dt.datetime) -> int:
    """Whole milliseconds, as the store's DateTime64(3) columns keep them."""
    return int(instant.timestamp()) * 1000 + instant.microsecond // 1000


def _quantile_exact(values: list[float], level: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(level * len(ordered)), len(ordered) - 1)]


@dataclass
class _Minute:
    actions: int = 0
    error_actions: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    durations: list[float] = field(default_factory=list)
    updates: int = 0


class MemoryStore:
    """Every store-side interface of the batch, in memory."""

    def __init__(self) -> None:
        self.index: dict[uuid.UUID, int] = {}
        self.sums: dict[WindowKey, UsageState] = {}
        self.usage_hourly: dict[WindowKey, UsageState] = {}
        self.minutes: dict[CapacityKey, _Minute] = {}
        self.capacity_minutely: dict[CapacityKey, CapacityMessage] = {}
        self.actions: list[Located[Action]] = []
        self.web: list[WebRequest] = []
        self.forms: list[FormSubmission] = []
        self.consent: list[Consent] = []
        self.dead_letters: list[DeadLetter] = []
        self.tombstones: list[tuple[str, SubjectKind, str, dt.datetime]] = []
        self.deleted_again: list[tuple[SubjectKind, str]] = []
        self.writes: list[str] = []  # the order of the writes, by interface method
        self.on_read_tombstones: list[Tombstones] = []  # what each read returned
        self.after_fold: Callable[[], None] | None = None  # e.g. an erasure racing the batch

    # -- DedupIndex -----------------------------------------------------------------

    def counted(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        return {i: self.index[i] for i in ids if i in self.index}

    # -- WindowStore ----------------------------------------------------------------

    def fold_rows(
        self, new: Sequence[Located[Action]], hashes: Sequence[int]
    ) -> list[tuple[Located[Action], int]]:
        return list(zip(new, hashes, strict=True))

    def fold(self, rows: Sequence[list[tuple[Located[Action], int]]]) -> None:
        folded = [pair for part in rows for pair in part]
        if not folded:
            return
        new, hashes = [item for item, _ in folded], [digest for _, digest in folded]
        self.writes.append("fold")
        hours: set[WindowKey] = set()
        minutes: set[CapacityKey] = set()
        for item, digest in zip(new, hashes, strict=True):
            action = item.event
            if self.index.get(action.action_id) != UNKNOWN_HASH:
                self.index[action.action_id] = digest
            hour = window_of(item)
            old = self.sums.get(hour, EMPTY)
            duration = max(0, _ms(action.ended_at) - _ms(action.started_at))
            self.sums[hour] = UsageState(
                bytes_in=old.bytes_in + action.bytes_in,
                bytes_out=old.bytes_out + action.bytes_out,
                actions=old.actions + 1,
                error_actions=old.error_actions + (action.status == "error"),
                duration_ms=old.duration_ms + duration,
                version=old.version,
            )
            hours.add(hour)
            key = CapacityKey(action.action, minute_of(action.started_at))
            minute = self.minutes.setdefault(key, _Minute())
            minute.actions += 1
            minute.error_actions += action.status == "error"
            minute.bytes_in += action.bytes_in
            minute.bytes_out += action.bytes_out
            minute.durations.append(float(_ms(action.ended_at) - _ms(action.started_at)))
            minutes.add(key)
        for hour in hours:  # one insert: one more update of each window it touches
            state = self.sums[hour]
            self.sums[hour] = UsageState(**{**_fields(state), "version": state.version + 1})
        for key in minutes:
            self.minutes[key].updates += 1
        if self.after_fold is not None:
            self.after_fold()

    def states(self, windows: set[WindowKey]) -> dict[WindowKey, UsageState]:
        return {w: self.sums[w] for w in windows if w in self.sums}

    def grown_hours(self, published: Mapping[WindowKey, int]) -> dict[WindowKey, UsageState]:
        sums = self.sums
        return {w: sums[w] for w, v in published.items() if w in sums and sums[w].version > v}

    def write(self, states: dict[WindowKey, UsageState], now: dt.datetime) -> None:
        if states:
            self.writes.append("write")
        for key, state in states.items():
            kept = self.usage_hourly.get(key)
            if kept is None or kept.version <= state.version:
                self.usage_hourly[key] = state

    # -- CapacityStore --------------------------------------------------------------

    def refresh(self, keys: Iterable[CapacityKey]) -> list[CapacityMessage]:
        found = self.current(keys)
        for message in found:
            self.capacity_minutely[CapacityKey(message.action, message.minute)] = message
        if found:
            self.writes.append("refresh")
        return found

    def grown_minutes(self, published: Mapping[CapacityKey, int]) -> list[CapacityKey]:
        minutes = self.minutes
        return [k for k, v in published.items() if k in minutes and minutes[k].updates > v]

    def current(self, keys: Iterable[CapacityKey]) -> list[CapacityMessage]:
        found = []
        for key in sorted(set(keys)):
            minute = self.minutes.get(key)
            if minute is None:
                continue
            message = CapacityMessage(
                action=key.action,
                minute=key.minute,
                actions=minute.actions,
                error_actions=minute.error_actions,
                bytes_in=minute.bytes_in,
                bytes_out=minute.bytes_out,
                duration_p50_ms=_quantile_exact(minute.durations, 0.5),
                duration_p95_ms=_quantile_exact(minute.durations, 0.95),
                duration_p99_ms=_quantile_exact(minute.durations, 0.99),
                version=minute.updates,
            )
            found.append(message)
        return found

    # -- ConsentSource --------------------------------------------------------------

    def ledger(self, logins: Collection[str]) -> ConsentLedger:
        decisions: dict[str, list[ConsentDecision]] = {}
        latest = {(c.login, c.consent_id): c for c in self.consent}  # a replay collapses
        for entry in latest.values():
            if entry.login in logins and entry.purpose == "extended_processing":
                decisions.setdefault(entry.login, []).append(
                    ConsentDecision(entry.ts.astimezone(dt.UTC), entry.granted)
                )
        return ConsentLedger(decisions)

    # -- RawEventsSink --------------------------------------------------------------

    def _stored(self, what: str, rows: Sequence[R], into: list[R]) -> None:
        if rows:
            self.writes.append(what)
            into.extend(rows)

    def action_rows(self, items: Sequence[Located[Action]]) -> list[Located[Action]]:
        return list(items)

    def store_actions(self, rows: Sequence[list[Located[Action]]]) -> None:
        self._stored("actions", [item for part in rows for item in part], self.actions)

    def store_web(self, events: Sequence[WebRequest]) -> None:
        self._stored("web", events, self.web)

    def store_forms(self, events: Sequence[FormSubmission]) -> None:
        self._stored("forms", events, self.forms)

    def store_consent(self, events: Sequence[Consent]) -> None:
        self._stored("consent", events, self.consent)

    def store_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        self._stored("dead_letters", letters, self.dead_letters)

    # -- ErasureLog -----------------------------------------------------------------

    def erase(self, kind: SubjectKind, value: str, at: dt.datetime) -> None:
        """What ``spur erase`` records first: a tombstone."""
        self.tombstones.append((str(uuid.uuid4()), kind, value, at))

    def read(self) -> Tombstones:
        customers: dict[int, dt.datetime] = {}
        logins: dict[str, dt.datetime] = {}
        for _, kind, value, at in self.tombstones:
            if kind == "customer":
                customers[int(value)] = max(at, customers.get(int(value), at))
            else:
                key = login_key(ERASURE_KEY, value)
                logins[key] = max(at, logins.get(key, at))
        found = Tombstones(
            customers,
            logins,
            ERASURE_KEY if logins else b"",
            frozenset(t[0] for t in self.tombstones),
        )
        self.on_read_tombstones.append(found)
        return found

    def delete_again(self, kind: SubjectKind, value: str) -> None:
        self.deleted_again.append((kind, value))


def _fields(state: UsageState) -> dict[str, int]:
    return {name: getattr(state, name) for name in UsageState.__struct_fields__}


class RecordingMetrics:
    """A :class:`spur_schemas.metrics.Metrics` that keeps every measurement."""

    def __init__(self) -> None:
        self.counts: defaultdict[tuple[str, frozenset[tuple[str, str]]], float] = defaultdict(float)
        self.gauges: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        self.observed: list[tuple[str, float, Mapping[str, str]]] = []

    def inc(self, metric: Metric, amount: float = 1, **labels: str) -> None:
        self.counts[(metric.name, frozenset(labels.items()))] += amount

    def set(self, metric: Metric, value: float, **labels: str) -> None:
        self.gauges[(metric.name, frozenset(labels.items()))] = value

    def observe(self, metric: Metric, value: float, **labels: str) -> None:
        self.observed.append((metric.name, value, labels))

    def declare(self, metrics: tuple[Metric, ...]) -> None:
        pass

    def count(self, metric: Metric, **labels: str) -> float:
        return self.counts.get((metric.name, frozenset(labels.items())), 0.0)

    def gauge(self, metric: Metric, **labels: str) -> float | None:
        return self.gauges.get((metric.name, frozenset(labels.items())))


LIMITS = TimeLimits(clock_skew=dt.timedelta(minutes=5), retention=dt.timedelta(days=365))
CONSENT_LIMITS = TimeLimits(clock_skew=dt.timedelta(minutes=5), retention=None)


def memory_batch(
    store: MemoryStore,
    metrics: RecordingMetrics,
    *,
    actions_ip_policy: IpPolicy = "full",
    web_ip_policy: IpPolicy = "truncate",
    forms_ip_policy: IpPolicy = "truncate",
    allowed_lateness: dt.timedelta = dt.timedelta(hours=48),
    partitions: int | None = None,
) -> Batch:
    """The worker's batch over ``store``, wired as spur.worker.batch wires ClickHouse."""
    limits: dict[type, TimeLimits] = {
        Action: LIMITS,
        WebRequest: LIMITS,
        FormSubmission: LIMITS,
        Consent: CONSENT_LIMITS,
    }
    return wire_batch(
        rules=Rules(
            limits=limits,
            actions_ip_policy=actions_ip_policy,
            web_ip_policy=web_ip_policy,
            forms_ip_policy=forms_ip_policy,
            allowed_lateness=allowed_lateness,
        ),
        erasure=store,
        index=store,
        consent=store,
        sink=store,
        windows=store,
        capacity=store,
        metrics=metrics,
        partitions=partitions,
        stopping=threading.Event(),
    )
