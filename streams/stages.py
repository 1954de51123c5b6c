"""What a batch of actions is between its steps (spur_streams.batch.ActionsBatch).

:class:`Prepared` after validation, :class:`Recorded` once its new actions
are stored and folded, :class:`ActionsOutcome` once finished: what the
worker's tail refreshes, publishes and commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from spur_schemas.events import Action
from spur_schemas.messages import DeadLetter, UsageMessage
from spur_streams.steps.erasure import NO_TOMBSTONES, Subjects, Tombstones
from spur_streams.steps.route import Detour
from spur_streams.steps.validate import Message, Split
from spur_streams.usage import CapacityKey, WindowKey


@dataclass
class ActionsOutcome:
    usage: list[UsageMessage] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    # The (action, minute) capacity windows the batch touched, to refresh.
    capacity: set[CapacityKey] = field(default_factory=set)
    # Actions read on another partition than their id's, to re-publish there.
    detours: list[Detour] = field(default_factory=list)
    # The erasures the batch was decided by (its detours are judged again if
    # more were recorded before they are published).
    erased: Tombstones = NO_TOMBSTONES


@dataclass(frozen=True)
class Prepared:
    """A batch of actions decoded and validated (step 1), nothing stored yet."""

    messages: Sequence[Message]
    now: dt.datetime  # the batch's arrival
    valid: Split[Action]
    seconds: float  # that step took


@dataclass(frozen=True)
class Recorded:
    """A batch whose new actions are stored and folded (steps 1-7's fold); not finished."""

    now: dt.datetime
    erased: Tombstones
    # The windows and subjects of its accepted actions (new and duplicates): the
    # hours to rewrite, the minutes to refresh, whom a racing erasure concerns.
    # Not the actions themselves: the tail runs beside the next batch, which
    # then need not share the memory with this one's events.
    hours: set[WindowKey]
    minutes: set[CapacityKey]
    subjects: Subjects
    rejected: list[DeadLetter]  # invalid and conflicting, erased subjects' not yet dropped
    detours: list[Detour]
    messages: int
    seconds: float  # the steps so far took
