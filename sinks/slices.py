"""A batch's rows a slice at a time: built per slice, merged for one insert (pure).

Why: the objects of 40,000 actions (tens of MB) do not fit the CPU's caches.
A pass per column over the whole batch (a column list built, then encoded)
misses them on every value, once per column; taken :data:`ROW_SLICE` rows
at a time, only a slice's first column does, its next ones find the rows
cached. Measured 2026-12-07 (bench.steps): the batch step's Python per
action at 2,000-action batches was about half its cost at 40,000. The batch
step builds its rows per slice (spur_streams.steps.decide); json_columns
encodes a slice of rows at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ColumnLists = dict[str, list[Any]]  # a sink's rows: column name -> values

ROW_SLICE = 2000


def merged(parts: Sequence[ColumnLists]) -> ColumnLists:
    """The parts' columns, each part's rows after the previous part's ({} for no part).

    The first part's lists are extended in place, not copied (a batch's
    column lists are ~10 MB): the parts are given away.
    """
    if not parts:
        return {}
    columns = parts[0]
    for part in parts[1:]:
        for name, values in part.items():
            columns[name].extend(values)
    return columns
