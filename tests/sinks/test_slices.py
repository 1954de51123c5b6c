"""Rows built and encoded a slice at a time are the rows of one pass (pure)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from spur_sinks.json_columns import json_columns
from spur_sinks.slices import ROW_SLICE, merged

values = st.one_of(
    st.integers(-(2**63), 2**64 - 1),
    st.text(max_size=5),
    st.none(),
    st.uuids(),
    st.datetimes(timezones=st.just(dt.UTC)),
)
# Around the slice's edges: one slice, exactly two, a partial third.
lengths = st.sampled_from([0, 1, ROW_SLICE - 1, ROW_SLICE, ROW_SLICE + 1, 2 * ROW_SLICE + 7])


@settings(max_examples=30, deadline=None)
@given(lengths, st.lists(values, min_size=1, max_size=3), st.integers(1, 3))
def test_json_columns_in_slices_is_one_documents_encoding(
    rows: int, pool: list[Any], columns: int
) -> None:
    table = {f"c{c}": [pool[(n + c) % len(pool)] for n in range(rows)] for c in range(columns)}
    whole = msgspec.json.encode(list(table.values())).decode()
    assert json_columns(table) == whole


def test_merged_parts_keep_their_order() -> None:
    first: dict[str, list[Any]] = {"a": [1, 2], "b": ["x", "y"]}
    second: dict[str, list[Any]] = {"a": [3], "b": ["z"]}
    assert merged([first, second]) == {"a": [1, 2, 3], "b": ["x", "y", "z"]}
    assert merged([]) == {}
