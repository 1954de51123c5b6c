"""A batch's messages by their Kafka position, indexed once, when first needed.

The batch's decisions run over slices of its actions (spur_streams.steps.decide);
a slice that needs the message an action came from (a detour, a conflict's
dead letter) or the positions re-routed here looks it up here instead of a
pass over every message of the batch per slice.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

from spur_streams.steps.validate import Message

Position = tuple[int, int]  # (partition, offset)


class Positions:
    def __init__(self, messages: Sequence[Message]) -> None:
        self.messages = messages

    @cached_property
    def _by_position(self) -> dict[Position, Message]:
        return {(m.partition, m.offset): m for m in self.messages}

    def __getitem__(self, position: Position) -> Message:
        return self._by_position[position]

    @cached_property
    def rerouted(self) -> frozenset[Position]:
        """Positions of copies a worker re-routed here (their lateness was measured)."""
        return frozenset((m.partition, m.offset) for m in self.messages if m.detoured)

    @cached_property
    def erased_hashes(self) -> dict[Position, bytes]:
        """Each erased login's detour's sealed hash header (spur_streams.steps.erased_detours)."""
        return {
            (m.partition, m.offset): m.erased_hash
            for m in self.messages
            if m.erased_hash is not None
        }
