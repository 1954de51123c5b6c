"""Worker benchmark: events/s through the pipeline vs a raw aiokafka drain, same run.

Run: ``.venv/bin/python -m bench.worker [--actions N] [--span-hours H]
[--shuffle] [--workers W] [--miskeyed] [--no-baselines] [--profile DIR]``.
Starts a real local broker, publishes N simulated actions over H hours of
event time (in event-time order, or in random order with ``--shuffle``: a
backfill), then measures in the same run (the baselines run by bench.baselines):

- ``raw_drain_per_second``: a bare aiokafka consumer reading the topic (the
  baseline: the most any Kafka consumer in Python could do here);
- ``worker_per_second``: ``spur worker`` (validate, dedup, store raw rows,
  fold windows, publish window states, commit) in published actions per
  second, from its first committed progress until every message is
  committed; ``worker_with_start_per_second`` includes the worker's start-up.
  With ``--workers 2``, two workers in one consumer group share the topic
  (and the broker, the store and the cores), each with its own state
  directory and metrics port;
- with ``--miskeyed``, every action is published on a partition other than
  its id's canonical one (the next one: as another partitioner would put
  it), so the worker re-publishes every action to its partition (a detour,
  docs/topics.md "What a wrong key costs") and reads it again: the group
  must commit twice the published messages, and ``worker_per_second`` is
  published actions over the time that took (``worker_messages_per_second``
  counts the detours too). Requires ``--no-baselines``: they would read the
  detours too;
- ``faust_null_agent_per_second``: a Faust agent that does nothing with its
  batches (bench.faust_null), the ceiling of any agent-based pipeline here;
- ``quix_peer_per_second``: the same per-customer hourly aggregation and
  store inserts written with Quix Streams (bench.quix_peer, run from its own
  virtualenv .venv-quix);
- the ratios, and the peak RSS of the worker (the largest of one worker) and
  the peer;
- the CPU seconds and cores the workers, the store and the broker used over
  the rate's window (bench.cpu); with ``--profile DIR``, py-spy's stacks of
  each worker over that window in DIR, summarised on stderr (bench.stacks).

Every client logs in to the broker with SCRAM-SHA-512, as with every local
broker; ``--no-auth`` starts the broker without authentication instead, to
measure what the login costs (``make bench`` runs the live workload both ways).

After the run the store is checked (bench.fleet): one ``actions`` row per
published action, ``spur billing``'s totals equal to the published count,
and as many detours as mis-keyed actions; any difference fails the run.
Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import sys
import tempfile
from pathlib import Path

from bench import stacks
from bench.baselines import agents, raw_drain
from bench.cpu import figures as cpu_figures
from bench.fleet import Published, WorkerRun, run_workers
from bench.local import stop_on_sigterm
from bench.pyspy import PY_SPY
from spur.client import Publisher
from spur.client.kafka import KafkaTarget
from spur.client.publisher import new_producer
from spur.dev.broker import LocalBroker
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.settings import Settings
from spur.topics import ensure_topics, topic_specs
from spur_schemas.events import Action
from spur_schemas.topics import Topic, action_key
from spur_schemas.validate import encode
from spur_streams.routing import partitions_of_uuids


async def publish(
    bootstrap: KafkaTarget, count: int, span_hours: float, *, shuffle: bool, miskeyed: bool
) -> Published:
    """Publish ``count`` simulated actions over ``span_hours`` of event time.

    In time order, as live app servers send them; with ``shuffle``, in random
    order (a backfill or re-sent spools: most actions arrive days "late").
    Keyed by action id as spur's client does, or with ``miskeyed`` each on
    a partition that is not its id's.
    """
    customers = 200
    sessions = max(1, count // (customers * 5))
    shape = WorkloadShape(customers=customers, sessions_per_customer=sessions, days=span_hours / 24)
    actions = simulate_actions(shape)[:count]
    if shuffle:
        random.Random(shape.seed).shuffle(actions)  # a reproducible order
    if miskeyed:
        await publish_miskeyed(bootstrap, actions)
    else:
        async with Publisher(bootstrap) as publisher:
            for action in actions:
                await publisher.publish(action)
    months = frozenset(a.started_at.astimezone(dt.UTC).strftime("%Y-%m") for a in actions)
    return Published(len(actions), months, miskeyed)


async def publish_miskeyed(bootstrap: KafkaTarget, actions: list[Action]) -> None:
    """Each action on the partition after its id's canonical one, under its own key.

    What a producer with another partitioner (librdkafka's CRC32, a
    round-robin) does to most actions, here to every one of them.
    """
    producer = new_producer(bootstrap)  # spur's producer settings, the partition chosen here
    await producer.start()
    try:
        partitions = len(await producer.partitions_for(Topic.ACTIONS))
        if partitions < 2:
            raise RuntimeError(f"{Topic.ACTIONS} has one partition: no action can be mis-keyed")
        canonical = partitions_of_uuids([action.action_id for action in actions], partitions)
        for action, home in zip(actions, canonical.tolist(), strict=True):
            await producer.send(
                Topic.ACTIONS,
                encode(action),
                key=action_key(action.action_id),
                partition=(home + 1) % partitions,
            )
        await producer.flush()
    finally:
        await producer.stop()


def parse_arguments() -> argparse.Namespace:
    """The run's options; exits with a usage error on a combination it cannot measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=200_000)
    parser.add_argument(
        "--span-hours",
        type=float,
        default=2.0,
        help="event time the actions cover: 2 h is live traffic, 672 h a month's backfill",
    )
    parser.add_argument(
        "--no-baselines",
        action="store_true",
        help="skip the no-op Faust agent and the Quix Streams peer (the raw drain always runs)",
    )
    parser.add_argument(
        "--shuffle",
        action="store_true",
        help="publish the actions in random order instead of event-time order (a backfill)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="spur workers sharing the consumer group"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="processes consuming actions per worker (spur worker --processes)",
    )
    parser.add_argument(
        "--miskeyed",
        action="store_true",
        help="publish every action on a partition other than its id's (the worker detours each)",
    )
    parser.add_argument(
        "--profile", type=Path, help="record each worker with py-spy into this directory"
    )
    parser.add_argument(
        "--no-auth", action="store_true", help="a broker without login: what the login costs"
    )
    args = parser.parse_args()
    if args.profile and not PY_SPY.exists():
        parser.error(f"--profile needs {PY_SPY} (`make install` installs it)")
    if args.miskeyed and not args.no_baselines:
        parser.error("--miskeyed measures the worker alone: add --no-baselines")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def measure(args: argparse.Namespace) -> tuple[dict[str, object], WorkerRun]:
    """Publish, drain raw, run the workers and the baselines on a broker of the run's own;
    the figures and the workers' run (its profiles)."""
    with tempfile.TemporaryDirectory(prefix="spur-bench-") as tmp:
        workdir = Path(tmp)
        broker = LocalBroker(data_dir=workdir / "kafka", authenticate=not args.no_auth)
        broker.start()
        try:
            asyncio.run(ensure_topics(broker.target, topic_specs(Settings())))
            published = asyncio.run(
                publish(
                    broker.target,
                    args.actions,
                    args.span_hours,
                    shuffle=args.shuffle,
                    miskeyed=args.miskeyed,
                )
            )
            total = published.actions
            drain = asyncio.run(raw_drain(broker.target, total))
            assert broker.process is not None  # started
            worker = run_workers(
                broker.target, workdir, published, args.workers, processes=args.processes,
                broker_pid=broker.process.pid, profile=args.profile,
            )  # fmt: skip
            steady = worker.drained.per_second
            baselines = {} if args.no_baselines else agents(broker.target, workdir, total, steady)
        finally:
            broker.stop()
    figures = {
        "actions": total,
        "span_hours": args.span_hours,
        "order": "shuffled" if args.shuffle else "event time",
        "broker_login": "none" if args.no_auth else "SCRAM-SHA-512",
        "raw_drain_per_second": round(drain),
        **worker_figures(worker, published, drain),
        **baselines,
    }
    return figures, worker


def main() -> None:
    stop_on_sigterm()
    figures, worker = measure(parse_arguments())
    for path in worker.profiles:
        print(f"{path}:\n{stacks.summary(path.read_text())}", file=sys.stderr)
    print(json.dumps(figures, indent=2))


def worker_figures(worker: WorkerRun, published: Published, drain: float) -> dict[str, object]:
    drained = worker.drained
    return {
        "workers": len(worker.events_in),
        "processes_per_worker": worker.processes,
        "keys": "100% mis-keyed (detoured)" if published.miskeyed else "action id (canonical)",
        "worker_per_second": round(drained.per_second),
        "worker_with_start_per_second": round(drained.with_start_per_second),
        "worker_messages_per_second": round(drained.messages_per_second),
        "ratio_worker_to_raw_drain": round(drained.per_second / drain, 3),
        "worker_peak_rss_mb": round(drained.peak_rss_mb),
        "worker_peak_anonymous_rss_mb": round(drained.peak_anon_mb),
        "worker_peak_anonymous_rss_mb_all_processes": round(drained.peak_anon_all_processes_mb),
        "messages_committed": drained.committed,
        "messages_read_per_worker": [round(n) for n in worker.events_in],
        "detours": round(worker.miskeyed),
        # Wall time of each step in the workers' batches (their threads overlap
        # when pipelined), per action read: where a batch waits, step by step.
        "batch_wall_us_per_action_by_step": {
            step: round(1e6 * seconds / max(1.0, sum(worker.events_in)), 2)
            for step, seconds in sorted(worker.step_seconds.items(), key=lambda kv: -kv[1])
        },
        "worker_log_errors": len(worker.log_errors),
        "worker_log_first_errors": worker.log_errors[:5],
        **cpu_figures(drained.cpu),
        "checked": "actions rows = distinct ids = billed actions = published; detours as keyed",
    }


if __name__ == "__main__":
    main()
