"""A fold is written whole even when the worker that sent it is killed -9 meanwhile.

The fold is one insert whose materialized views write the dedup index, the
hourly and quarter-hour sums and the capacity states one after another. A
server that stops between two views when its client is gone leaves ids
indexed (so a replay calls them duplicates and folds nothing) but never
billed. Before spur_sinks.store.WHOLE_INSERT this came once in twelve
clients cut mid-fold (a socket closed 300 ms into a 200,000-row fold, in a
script on 2026-12-06). Here a subprocess sends a large fold through spur's
store and is killed -9 at points spread over the time a whole fold takes;
every time, the four targets must hold the same actions. Honest about its
reach: the window between two views is short, and in two runs without the
setting these ten kills did not land in it; the test guards the rule, the
script's figure is what showed the hole.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from spur.settings import Settings
from spur_sinks.migrate import apply_migrations
from spur_sinks.store import Store

ROWS = 150_000

# The sender: builds a fold of ROWS actions (spur_sinks.windows), says "ready",
# then sends it through ServerStore.insert, as a worker's batch does.
SENDER = textwrap.dedent(
    """
    import datetime as dt, sys, uuid
    import msgspec
    from spur.settings import parse_store_url
    from spur_schemas.events import Action
    from spur_schemas.located import Located
    from spur_sinks.store import ServerStore
    from spur_sinks.windows import fold_columns, fold_token

    url, rows, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    start = dt.datetime(2026, 11, 3, 10, tzinfo=dt.UTC)
    actions = [
        Located(Action(
            action_id=uuid.uuid4(), action="document.export", customer_id=1 + n % 50,
            login="ann@example.com", session_id="s",
            started_at=start + dt.timedelta(seconds=n % 7200),
            ended_at=start + dt.timedelta(seconds=n % 7200 + 1), bytes_in=10, bytes_out=20,
            client_ip="192.0.2.1",
        ), 0, first + n)
        for n in range(rows)
    ]
    columns = fold_columns(actions, [n for n in range(rows)])
    store = ServerStore(parse_store_url(url), 60.0)
    store.query("SELECT 1")
    print("ready", flush=True)
    token = fold_token(msgspec.json.encode(columns["action_id"]))
    store.insert("action_folds", columns, dedup_token=token)
    print("done", flush=True)
    """
)


def _send(store_url: str, first: int) -> subprocess.Popen[str]:
    sender = subprocess.Popen(
        [sys.executable, "-c", SENDER, store_url, str(ROWS), str(first)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert sender.stdout is not None
    assert sender.stdout.readline().strip() == "ready"
    return sender


def _targets(store: Store) -> dict[str, int]:
    db = store.database
    return {
        table: int(store.query(f"SELECT toInt64({expr}) AS n FROM {db}.{table}")[0]["n"])
        for table, expr in (
            ("action_ids", "count()"),
            ("usage_sums", "sum(actions)"),
            ("usage_quarters", "sum(actions)"),
            ("capacity_states", "sum(actions)"),
        )
    }


def test_a_fold_whose_sender_is_killed_is_written_whole_or_not_at_all(
    store: Store, store_url: str
) -> None:
    apply_migrations(store, Settings().retention.tables)
    whole = _send(store_url, 0)
    started = time.perf_counter()
    assert whole.wait(timeout=120) == 0
    took = time.perf_counter() - started  # sending and writing one whole fold
    assert _targets(store) == dict.fromkeys(_targets(store), ROWS)
    for step in range(1, 11):
        sender = _send(store_url, step * ROWS)
        time.sleep(took * step / 10)
        os.kill(sender.pid, signal.SIGKILL)
        sender.wait()
        time.sleep(2)  # whatever the server still does with it
        counts = _targets(store)
        assert len(set(counts.values())) == 1, (step, counts)
