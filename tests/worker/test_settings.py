import re
from pathlib import Path

import pytest

from spur.settings import GROUP_OF, Settings, SettingsError, load_settings, parse_store_url

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_follow_the_contract() -> None:
    settings = load_settings()
    assert settings.broker.input_retention_days == 7
    assert settings.retention.actions_days == 365
    # Unset: the local store of `spur dev up` / `spur store` in the state directory.
    assert settings.store.url is None
    assert settings.local.store_dir == Path(".spur/store")


def test_environment_is_read_with_the_spur_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPUR_KAFKA_BOOTSTRAP", "k1:9092")
    monkeypatch.setenv("SPUR_INPUT_RETENTION_DAYS", "30")
    settings = load_settings()
    assert settings.broker.bootstrap == "k1:9092"
    assert settings.broker.input_retention_days == 30


def test_a_group_reads_its_variables_and_a_keyword_wins_over_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Code reads groups; the variable and the constructor keep the setting's flat name."""
    monkeypatch.setenv("SPUR_WORKER_API_HOST", "0.0.0.0")
    monkeypatch.setenv("SPUR_BATCH_SIZE", "7")
    settings = Settings(batch_size=5, billing_timezone="Asia/Kolkata")
    assert (settings.worker.api_host, settings.worker.batch_size) == ("0.0.0.0", 5)
    assert settings.billing.timezone == "Asia/Kolkata"


def test_every_setting_is_in_the_documented_table_and_nothing_else() -> None:
    """docs/cli.md's tables name each variable once, by the name the settings read."""
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    documented = [name for cell in first_cells for name in re.findall(r"`(SPUR_\w+)`", cell)]
    assert sorted(documented) == sorted(f"SPUR_{name.upper()}" for name in GROUP_OF)


def test_a_rule_of_a_group_is_refused_with_the_variables_it_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPUR_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(SettingsError, match=r"^Value error, SPUR_KAFKA_SECURITY_PROTOCOL=SASL_SSL"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("SPUR_INPUT_RETENTION_DAYS", "31", "at most 30 days"),
        ("SPUR_ACTIONS_RETENTION_DAYS", "366", "at most 365 days"),
        ("SPUR_CLICKHOUSE_URL", "postgres://x", "unknown scheme"),
        ("SPUR_CLICKHOUSE_URL", "chdb:///var/lib/spur", "in-process store. is gone"),
        ("SPUR_TOPIC_PARTITIONS", "zero", "SPUR_TOPIC_PARTITIONS"),
    ],
)
def test_settings_that_break_the_policy_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=words):
        load_settings()


def test_store_urls() -> None:
    server = parse_store_url("clickhouses://billing:s%40cret@ch.internal/acct")
    assert (server.host, server.port, server.user, server.database) == (
        "ch.internal", 9440, "billing", "acct",
    )  # fmt: skip
    assert server.secure
    assert server.password.get_secret_value() == "s@cret"
    assert "s@cret" not in server.redacted()
    assert "s@cret" not in repr(server)
    assert parse_store_url("clickhouse://h").port == 9000


def test_a_retired_dedup_horizon_is_refused_not_silently_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ids are remembered as long as their actions: the horizon is gone."""
    monkeypatch.setenv("SPUR_DEDUP_HORIZON_DAYS", "7")
    with pytest.raises(SettingsError, match="SPUR_ACTIONS_RETENTION_DAYS"):
        load_settings()


@pytest.mark.parametrize("separator", ["/", "?", "#"])
def test_a_password_never_appears_in_a_bad_url_message(separator: str) -> None:
    with pytest.raises(SettingsError) as refused:
        parse_store_url(f"clickhouse://spur_writer:SECRET{separator}PW@127.0.0.1:1/spur")
    assert "SECRET" not in str(refused.value)
    assert "PW" not in str(refused.value)
