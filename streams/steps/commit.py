"""Step ``commit``: a batch's offsets, committed last.

Input: the next offset of every partition the batch read, and the batch's
``complete`` (its outputs being published); a :class:`Committer`.
Output: the offsets committed to the consumer group.
Guarantees: offsets are committed only after the store write succeeded and
the outputs were acknowledged (docs/design.md#the-store-protocol):
:func:`complete_then_commit` awaits ``complete`` first and commits nothing if
it raised. A crash before the commit replays the batch, which every earlier
step tolerates. Offsets never decide identity (step dedup).
Failure: ``complete`` raising is passed on (nothing committed); a commit the
committer could not make is its own to report (the batch is then replayed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Protocol, TypeVar

P = TypeVar("P")


class Committer(Protocol[P]):
    async def commit(self, offsets: Mapping[P, int]) -> None:
        """Commit ``offsets`` (partition -> next offset to read)."""


async def complete_then_commit(
    complete: Awaitable[None], committer: Committer[P], offsets: Mapping[P, int]
) -> None:
    await complete
    await committer.commit(offsets)
