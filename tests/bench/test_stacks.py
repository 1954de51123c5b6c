"""bench.stacks reads py-spy's raw collapsed stacks into the shares the README explains."""

from __future__ import annotations

from bench.stacks import inclusive, is_project, leaves, parse, summary

# Ten samples: six in the worker's fold (four of them in a C call made from
# its line 12 or 13), three in aiokafka, one torn stack without a count.
RAW = """\
main (spur/cli.py:3);run (streams/app.py:40);fold (streams/fold.py:12);loads (json/decoder.py:5) 3
main (spur/cli.py:3);run (streams/app.py:40);fold (streams/fold.py:13);loads (json/decoder.py:5) 1
main (spur/cli.py:3);run (streams/app.py:41);fold (streams/fold.py:14) 2
main (spur/cli.py:3);run (streams/app.py:40);fold (streams/fold.py:12);run (streams/app.py:9) 1
main (spur/cli.py:3);getmany (aiokafka/consumer.py:80) 3
__file__ (__spec__:1948629986);broken
"""


def test_lines_are_dropped_and_torn_stacks_skipped() -> None:
    stacks = parse(RAW)
    assert [samples for _, samples in stacks] == [3, 1, 2, 1, 3]
    assert stacks[0][0][-1] == "loads (json/decoder.py)"


def test_a_recursive_function_counts_once_per_stack() -> None:
    counts = inclusive(parse(RAW))
    assert counts["run (streams/app.py)"] == 7
    assert counts["fold (streams/fold.py)"] == 7
    assert counts["main (spur/cli.py)"] == 10


def test_a_leaf_counts_where_it_was_running() -> None:
    assert leaves(parse(RAW)).most_common(3) == [
        ("loads (json/decoder.py)", 4),
        ("getmany (aiokafka/consumer.py)", 3),
        ("fold (streams/fold.py)", 2),
    ]


def test_project_frames_are_those_of_spurs_packages() -> None:
    assert is_project("fold (streams/fold.py)")
    assert is_project("query (sinks/store.py)")
    # As an installed worker's frames read (the packages' installed names).
    assert is_project("process (spur_streams/batch.py)")
    assert is_project("query (spur_sinks/store.py)")
    assert is_project("decode (spur_schemas/validate.py)")
    assert not is_project("getmany (aiokafka/consumer.py)")
    assert not is_project("validate (jsonschema/schemas/x.py)")


def test_the_summary_lists_project_functions_then_leaves() -> None:
    lines = summary(RAW, project_top=3, leaf_top=1).splitlines()
    assert lines == [
        "10 samples",
        "project functions, inclusive share:",
        " 100.0%  main (spur/cli.py)",
        "  70.0%  fold (streams/fold.py)",  # a tie: by name
        "  70.0%  run (streams/app.py)",
        "leaf functions, self share:",
        "  40.0%  loads (json/decoder.py)",
    ]


def test_an_empty_profile_says_so() -> None:
    assert summary("") == "no samples"
