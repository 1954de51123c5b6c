"""A batch's rows a slice at a time: built per slice, merged for one insert (pure).

Why: the objects of 40,000 actions (tens of MB) do not fit the CPU's caches.
A pass per column over the whole batch (a column list built, then encoded)
misses them on every value, once per column; taken a slice of rows at a
time (spur_streams.steps.decide.SLICE), only a slice's first column does,
its next ones find the rows
cached. Measured 2026-12-07 (bench.steps): the batch step's Python per
action at 2,000-action batches was about half its cost at 40,000. The batch
step builds its rows per slice (spur_streams.steps.decide) and encodes
them there too (spur_sinks.json_columns.encoded: :class:`EncodedColumns`);
json_columns encodes other long column lists a slice of rows at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class EncodedColumns:
    """Rows whose columns are JSON text already: per column, the text of its
    values as a JSON array's elements (no brackets), one piece per slice."""

    pieces: dict[str, list[bytes]]
    rows: int


def joined(parts: Sequence[EncodedColumns]) -> EncodedColumns:
    """The parts' rows, each part's after the previous part's; parts without rows left out."""
    filled = [part for part in parts if part.rows]
    if not filled:
        return EncodedColumns({}, 0)
    pieces = {name: [p for part in filled for p in part.pieces[name]] for name in filled[0].pieces}
    return EncodedColumns(pieces, sum(part.rows for part in filled))
