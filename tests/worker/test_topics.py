from spur.settings import Settings
from spur.topics import DAY_MS, topic_specs
from spur_schemas.topics import INPUT_TOPICS, Topic


def specs(**settings: object) -> dict[str, dict[str, str]]:
    return {spec.name: spec.configs for spec in topic_specs(Settings(**settings))}


def test_every_topic_is_declared_with_explicit_retention_and_compression() -> None:
    declared = specs()
    assert set(declared) == {topic.value for topic in Topic}
    for configs in declared.values():
        assert configs["compression.type"] == "zstd"
        assert "retention.ms" in configs


def test_input_topics_keep_personal_data_for_the_configured_days() -> None:
    declared = specs(input_retention_days=30)
    for topic in (Topic.ACTIONS, Topic.WEB, Topic.FORMS):
        assert declared[topic]["retention.ms"] == str(30 * DAY_MS)
        assert declared[topic]["cleanup.policy"] == "delete"
    assert Topic.CONSENT in INPUT_TOPICS


def test_the_consent_ledger_is_compacted() -> None:
    assert specs()[Topic.CONSENT]["cleanup.policy"] == "compact"


def test_replicated_clusters_get_min_insync_replicas() -> None:
    assert "min.insync.replicas" not in specs()[Topic.ACTIONS]
    assert specs(topic_replication=3)[Topic.ACTIONS]["min.insync.replicas"] == "2"
