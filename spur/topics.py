"""spur's Kafka topics, declared once with explicit configurations.

Kafka holds the same personal data as the store while it retains messages
(docs/guarantees.md#privacy-by-code), so spur never lets a broker's defaults decide: every
topic is created by :func:`ensure_topics` with its retention, compression and
cleanup policy, and an existing topic's configuration is set back to the
declared one. Idempotent: run at every worker start.

Blocking: ``ensure_topics`` awaits the broker (bounded by the client's
request timeout). Raises :class:`TopicError` when a topic cannot be made to
match its declaration (e.g. a partition count that differs).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from spur.client.kafka import KafkaTarget, as_target
from spur.settings import Settings
from spur_schemas.errors import SpurError
from spur_schemas.topics import Topic

DAY_MS = 24 * 3600 * 1000
# How long the admin client waits for one broker answer before it fails.
ADMIN_REQUEST_TIMEOUT_MS = 15_000


class TopicError(SpurError, RuntimeError):
    """A topic exists in a shape spur cannot adopt; the message says how to fix it."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    configs: dict[str, str] = field(default_factory=dict)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """The declared shape of every spur topic under these settings."""
    retention_ms = str(settings.broker.input_retention_days * DAY_MS)
    # zstd: spur's producers compress with it (aiokafka's lz4 is LZ4-HC, level 9,
    # ~100 MB/s against zstd's ~700 MB/s at a better ratio, measured); a topic
    # of the producers' own codec is stored as it arrives, not recompressed.
    common = {"compression.type": "zstd", "message.timestamp.type": "CreateTime"}
    if settings.broker.topic_replication > 1:
        common["min.insync.replicas"] = str(min(2, settings.broker.topic_replication))
    deleting = {**common, "cleanup.policy": "delete", "retention.ms": retention_ms}
    # Window states: only the latest version per window matters, and they
    # hold customer data, so they are compacted and also expire.
    windows = {**common, "cleanup.policy": "compact,delete", "retention.ms": retention_ms}
    # The consent ledger is the proof of consent (clause 3.6): compacted to
    # the latest decision per login, never expired by time.
    ledger = {**common, "cleanup.policy": "compact", "retention.ms": "-1"}
    by_topic = {
        Topic.ACTIONS: deleting,
        Topic.WEB: deleting,
        Topic.FORMS: deleting,
        Topic.CONSENT: ledger,
        Topic.USAGE: windows,
        Topic.CAPACITY: windows,
        Topic.DEADLETTER: deleting,
    }
    return [
        TopicSpec(
            topic.value,
            settings.broker.topic_partitions,
            settings.broker.topic_replication,
            configs,
        )
        for topic, configs in by_topic.items()
    ]


def _admin(bootstrap: str | KafkaTarget) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        **as_target(bootstrap).client_kwargs(), request_timeout_ms=ADMIN_REQUEST_TIMEOUT_MS
    )


@dataclass(frozen=True)
class TopicChange:
    topic: str
    action: str  # "created", "reconfigured" or "unchanged"


async def ensure_topics(bootstrap: str | KafkaTarget, specs: list[TopicSpec]) -> list[TopicChange]:
    """Create missing topics and reset drifted configs; return what was done."""
    admin = _admin(bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        changes = [TopicChange(spec.name, "created") for spec in missing]
        if missing:
            await _create(admin, missing)
            await _wait_for_leaders(admin, [spec.name for spec in missing])
        present = [spec for spec in specs if spec.name in existing]
        if present:
            changes += await _reconcile(admin, present)
        return changes
    finally:
        await admin.close()


async def _create(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> None:
    response = await admin.create_topics(
        [NewTopic(s.name, s.partitions, s.replication, topic_configs=s.configs) for s in specs]
    )
    for name, code, *message in response.topic_errors:
        # Already there: another worker won the race, which is fine.
        if code not in (0, TopicAlreadyExistsError.errno):
            raise TopicError(f"creating topic {name} failed: error {code} {message}")


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, names: list[str], within_seconds: float = 30.0
) -> None:
    # A new topic's partitions get leaders a moment after creation; producing
    # before that only earns retries and warnings.
    deadline = asyncio.get_running_loop().time() + within_seconds
    while asyncio.get_running_loop().time() < deadline:
        described = await admin.describe_topics(names)
        if all(
            topic["error_code"] == 0 and all(p["leader"] >= 0 for p in topic["partitions"])
            for topic in described
        ):
            return
        await asyncio.sleep(0.1)
    raise TopicError(
        f"topics {', '.join(names)} have no partition leaders after {within_seconds:.0f} s"
    )


async def wait_for_coordinators(
    bootstrap: str | KafkaTarget, groups: list[str], within_seconds: float = 60.0
) -> None:
    """Block until every consumer group has a coordinator.

    On a broker's first start, the group coordinator exists only once the
    offsets topic is created (on the first FindCoordinator request) and has
    leaders; a consumer that joins before then logs ``[ERROR] Group
    Coordinator Request failed`` and retries, though nothing is wrong.
    Raises :class:`TopicError` when a group has no coordinator in time.
    """
    from aiokafka.errors import KafkaError

    admin = _admin(bootstrap)
    await admin.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    try:
        for group in groups:
            while True:
                try:
                    await admin.find_coordinator(group)
                    break
                except KafkaError as exc:
                    if not exc.retriable or loop.time() > deadline:
                        raise TopicError(
                            f"consumer group {group} has no coordinator: {exc}",
                            hint="check the broker's log; is the offsets topic replicable?",
                        ) from exc
                    await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def _reconcile(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> list[TopicChange]:
    described = await admin.describe_topics([s.name for s in specs])
    partitions = {t["topic"]: len(t["partitions"]) for t in described}
    for spec in specs:
        if partitions.get(spec.name) != spec.partitions:
            # Customers are mapped to partitions by key; changing the count
            # would move a customer's usage between workers mid-window.
            raise TopicError(
                f"topic {spec.name} has {partitions.get(spec.name)} partitions, settings say "
                f"{spec.partitions}: set SPUR_TOPIC_PARTITIONS={partitions.get(spec.name)} "
                "or migrate the topic deliberately"
            )
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, s.name, dict(s.configs)) for s in specs]
    )
    current: dict[str, dict[str, str]] = {}
    for response in responses:
        for _code, _msg, _type, name, entries in response.resources:
            current[name] = {entry[0]: entry[1] for entry in entries}
    drifted = [s for s in specs if any(current[s.name].get(k) != v for k, v in s.configs.items())]
    if drifted:
        # AlterConfigs replaces a topic's whole explicit config with the given
        # set, which is exactly "make it the declared one".
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, s.name, dict(s.configs)) for s in drifted]
        )
    return [TopicChange(s.name, "reconfigured" if s in drifted else "unchanged") for s in specs]
