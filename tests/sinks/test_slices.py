"""Rows built and encoded a slice at a time are the rows of one pass (pure)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from spur_sinks.json_columns import encoded, json_columns
from spur_sinks.slices import joined
from spur_streams.steps.decide import SLICE

values = st.one_of(
    st.integers(-(2**63), 2**64 - 1),
    st.text(max_size=5),
    st.none(),
    st.uuids(),
    st.datetimes(timezones=st.just(dt.UTC)),
)
# Around the slice's edges: one slice, exactly two, a partial third.
lengths = st.sampled_from([0, 1, SLICE - 1, SLICE, SLICE + 1, 2 * SLICE + 7])


@settings(max_examples=30, deadline=None)
@given(lengths, st.lists(values, min_size=1, max_size=3), st.integers(1, 3))
def test_json_columns_in_slices_is_one_documents_encoding(
    rows: int, pool: list[Any], columns: int
) -> None:
    table = {f"c{c}": [pool[(n + c) % len(pool)] for n in range(rows)] for c in range(columns)}
    whole = msgspec.json.encode(list(table.values())).decode()
    assert json_columns(table) == whole


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(0, SLICE + 3), max_size=4),
    st.lists(values, min_size=1, max_size=3),
    st.integers(1, 3),
)
def test_slices_encoded_apart_and_joined_are_one_documents_encoding(
    sizes: list[int], pool: list[Any], columns: int
) -> None:
    rows = sum(sizes)
    table = {f"c{c}": [pool[(n + c) % len(pool)] for n in range(rows)] for c in range(columns)}
    starts = [sum(sizes[:k]) for k in range(len(sizes))]
    parts = [
        encoded({name: values[start : start + size] for name, values in table.items()})
        for start, size in zip(starts, sizes, strict=True)
    ]
    together = joined(parts)
    assert together.rows == rows
    if rows:  # a batch without rows inserts nothing (spur_sinks.writer)
        assert json_columns(together) == msgspec.json.encode(list(table.values())).decode()
        # The fold's token hashes its ids' JSON array: the same bytes as one encoding.
        first = b"[" + b",".join(together.pieces["c0"]) + b"]"
        assert first == msgspec.json.encode(table["c0"])
