"""Route benchmark: what deciding every copy of an id on its partition costs per action.

Run: ``.venv/bin/python -m bench.route [--actions N]``. In one process,
without Kafka or a store, over simulated actions validated once:

- ``correctly_keyed_us_per_action``: the route step (spur_streams.steps.route)
  over a batch whose actions all sit on their id's partition (spur's own
  key): one vectorised murmur2 of the ids, nothing moves;
- ``miskeyed_us_per_action``: the same batch with every action one
  partition off: each becomes a detour (its bytes found, its key built);
- ``validate_us_per_action``: validating the same batch, the step before,
  as the yardstick measured in the same run.
Best of 5 runs each, batches of the worker's batch size (``SPUR_BATCH_SIZE``). Prints JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Callable

from bench.local import stop_on_sigterm
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.settings import Settings
from spur_schemas.events import Action
from spur_schemas.metrics import NO_METRICS
from spur_schemas.partitioning import partition_of
from spur_schemas.topics import Topic, action_key
from spur_schemas.validate import TimeLimits, encode
from spur_streams.steps.positions import Positions
from spur_streams.steps.route import route_actions
from spur_streams.steps.validate import Message, split

# The worker's partitions: SPUR_TOPIC_PARTITIONS (its default when unset).
PARTITIONS = Settings().broker.topic_partitions
BATCH = Settings().worker.batch_size


def best_us_per_action(run: Callable[[], object], count: int) -> float:
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return round(min(timings) / count * 1e6, 3)


def main() -> None:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=BATCH)
    args = parser.parse_args()
    actions = simulate_actions(WorkloadShape(customers=200, sessions_per_customer=40))
    actions = actions[: args.actions]
    now = max(a.ended_at for a in actions) + dt.timedelta(minutes=1)
    limits = TimeLimits(clock_skew=dt.timedelta(minutes=5), retention=None)

    def messages(offset: int) -> list[Message]:
        return [
            Message(
                Topic.ACTIONS.value,
                (partition_of(action_key(a.action_id), PARTITIONS) + offset) % PARTITIONS,
                n,
                encode(a),
            )
            for n, a in enumerate(actions)
        ]

    keyed, miskeyed = messages(0), messages(1)
    valid = split(keyed, Action, now, limits).accepted
    off = split(miskeyed, Action, now, limits).accepted
    assert route_actions(valid, Positions(keyed), PARTITIONS, NO_METRICS)[2] == []
    assert len(route_actions(off, Positions(miskeyed), PARTITIONS, NO_METRICS)[2]) == len(actions)
    figures = {
        "actions": len(actions),
        "correctly_keyed_us_per_action": best_us_per_action(
            lambda: route_actions(valid, Positions(keyed), PARTITIONS, NO_METRICS), len(actions)
        ),
        "miskeyed_us_per_action": best_us_per_action(
            lambda: route_actions(off, Positions(miskeyed), PARTITIONS, NO_METRICS), len(actions)
        ),
        "validate_us_per_action": best_us_per_action(
            lambda: split(keyed, Action, now, limits), len(actions)
        ),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
